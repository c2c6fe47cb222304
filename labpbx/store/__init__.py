"""The lab database: records (pure) and LabStore (the TinyDB file shared by proxy, CLI and GUI)."""

from __future__ import annotations

from labpbx.store.db import (
    CALLS,
    LOCATION,
    SUBSCRIBER,
    USR_PREFERENCES,
    VOICEMAIL,
    CorruptStoreError,
    LabStore,
    StoreLockedError,
)
from labpbx.store.records import (
    SCHEMA_VERSION,
    AvpRow,
    LocationRow,
    Owner,
    SubscriberRow,
    parse_owner,
    select_avps,
)

__all__ = [
    "CALLS",
    "LOCATION",
    "SCHEMA_VERSION",
    "SUBSCRIBER",
    "USR_PREFERENCES",
    "VOICEMAIL",
    "AvpRow",
    "CorruptStoreError",
    "LabStore",
    "LocationRow",
    "Owner",
    "StoreLockedError",
    "SubscriberRow",
    "parse_owner",
    "select_avps",
]
