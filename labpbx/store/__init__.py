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
    CALL_OUTCOMES,
    SCHEMA_VERSION,
    AvpRow,
    CallRow,
    LocationRow,
    Owner,
    SubscriberRow,
    VoicemailRow,
    parse_owner,
    select_avps,
)

__all__ = [
    "CALLS",
    "CALL_OUTCOMES",
    "LOCATION",
    "SCHEMA_VERSION",
    "SUBSCRIBER",
    "USR_PREFERENCES",
    "VOICEMAIL",
    "AvpRow",
    "CallRow",
    "CorruptStoreError",
    "LabStore",
    "LocationRow",
    "Owner",
    "StoreLockedError",
    "SubscriberRow",
    "VoicemailRow",
    "parse_owner",
    "select_avps",
]
