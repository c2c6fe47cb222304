"""The ``usr_preferences`` table as a view edits it: the rows ``labpbx avp list`` shows, add / edit
/ delete, and the callfwd targets they give the lab's extensions.

    prov = Provisioning(lab_data_dir(config))
    prov.rows()                                   # [AvpEntry(id=1, username="1001", …)]
    prov.add_async("1001@127.0.0.1", "callfwd", 0, "sip:2345678@127.0.0.1")   # a Future

Rules of this module:
- It works on the lab's data directory, with or without a running lab: the proxy reads the
  same file for every INVITE (``avp_db_load``), so a row written here changes where the next
  call goes, and ``labpbx avp`` (another process) sees it at once, as this sees the CLI's rows.
- Reads take no lock and cost one ``os.stat`` when nothing changed (the store caches the parsed
  file by (mtime, size, inode)); ``version()`` is that signature, for a view that polls.
- Writes are one store transaction each (file lock, atomic replace) and may wait for the lock
  (another process writing): the ``*_async`` forms run them on a short-lived worker thread and
  return a ``concurrent.futures.Future`` at once, for a GUI thread that must not wait. One
  write at a time per Provisioning (a lock), so the rows change in the order they were asked.
- Errors are ProvisioningError with a sentence for people: a bad value (nothing written), a
  corrupt or unreadable file (left untouched: nothing is lost), a lock held too long.
- ``on_change`` (if given) is called on the writing thread after each successful write, e.g. so
  the lab re-announces the callfwd forwards (``Lab.sync_forwarding``).
- The owner rule is opensipsctl's (``user@dotted.domain`` is an AoR, anything else a uuid),
  except that ``user@host`` without a dot is refused here: opensipsctl would store it as a uuid
  that ``avp_db_load("$ru", …)`` never finds (SEMANTICS.md §1.3), the lab's classic pitfall.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from labpbx.errors import LabPbxError, StoreError
from labpbx.lab.config import HOST, LabConfig
from labpbx.paths import db_path, default_data_dir
from labpbx.store.db import LabStore
from labpbx.store.records import TYPE_LABELS, AvpRow, Owner, parse_owner, validate_avp

CALLFWD = "callfwd"
COLUMNS = ("id", "uuid", "username", "domain", "attribute", "type", "value", "last_modified")
"""The columns of ``labpbx avp list`` (labpbx.cli.avp), in its order."""
TYPES = TYPE_LABELS
"""0 str:str, 1 str:int, 2 int:str, 3 int:int (opensipsctl's words)."""

T = TypeVar("T")
Version = tuple[int, int, int] | None


def file_version(path: Path) -> Version:
    """``path``'s (mtime, size, inode), None when it does not exist: the data views reload the
    lab's file only when this changes (an atomic replace changes the inode)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class ProvisioningError(LabPbxError):
    """A provisioning read or write failed; the message says why, for people."""


def lab_data_dir(config: LabConfig) -> Path:
    """The data directory a lab with ``config`` uses (as ``Lab`` resolves it)."""
    return Path(config.data_dir) if config.data_dir else default_data_dir()


@dataclass(frozen=True, slots=True)
class AvpEntry:
    """One usr_preferences row, as ``labpbx avp list`` prints it."""

    id: int
    uuid: str
    username: str
    domain: str
    attribute: str
    type: int
    value: str
    last_modified: str

    @property
    def owner(self) -> str:
        """What ``avp add`` takes to make this row: ``user@domain``, or the uuid."""
        return self.uuid if self.uuid else f"{self.username}@{self.domain}"

    def column(self, name: str) -> str | int:
        """The value of one of COLUMNS."""
        value: str | int = getattr(self, name)
        return value

    @classmethod
    def from_row(cls, row: AvpRow) -> AvpEntry:
        return cls(row.id, row.uuid, row.username, row.domain, row.attribute, row.type,
                   row.value, row.last_modified)


def check_entry(owner: str, attribute: str, type_: int, value: str) -> Owner:
    """Validate what a user typed; return the parsed owner. ProvisioningError says what is wrong
    (the same rules as ``labpbx avp add``, plus the no-dot pitfall refused, see module rules)."""
    owner, attribute = owner.strip(), attribute.strip()
    try:
        who = parse_owner(owner)
    except ValueError as exc:
        raise ProvisioningError(str(exc)) from None
    if not who.is_aor and "@" in owner:
        user, _, host = owner.partition("@")
        raise ProvisioningError(
            f"{owner} has no dot in its domain, so it would be stored as a uuid that "
            f"avp_db_load(\"$ru\") never finds; use {user}@{HOST} instead of {user}@{host}")
    try:
        validate_avp(attribute, type_, value)
    except ValueError as exc:
        raise ProvisioningError(str(exc)) from None
    return who


def forwarding_targets(rows: Iterable[AvpEntry], extensions: Iterable[str],
                       domain: str = HOST) -> dict[str, str]:
    """Each extension's unconditional forward ("" = none): the value of its newest ``callfwd``
    row for ``ext@domain`` (the row ``$avp(callfwd)`` ends up with, SEMANTICS.md §1.1)."""
    targets = dict.fromkeys(extensions, "")
    for row in sorted(rows, key=lambda r: r.id):
        if (row.attribute == CALLFWD and not row.uuid and row.domain == domain
                and row.username in targets):
            targets[row.username] = row.value
    return targets


def run_async(lock: threading.Lock, work: Callable[[], T], name: str) -> Future[T]:
    """Run ``work`` on a new daemon thread holding ``lock``; its Future settles with the result
    or the exception. A thread per write: writes are rare (a click), and nothing is left to shut
    down when the caller goes away."""
    future: Future[T] = Future()
    future.set_running_or_notify_cancel()

    def run() -> None:
        try:
            with lock:
                result = work()
        except BaseException as exc:  # handed to the future's owner, never lost
            future.set_exception(exc)
        else:
            future.set_result(result)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


class Provisioning:
    """usr_preferences of the lab in ``data_dir``; see the module rules."""

    def __init__(self, data_dir: Path, *, on_change: Callable[[], None] | None = None,
                 lock_timeout: float = 5.0) -> None:
        self.data_dir = Path(data_dir)
        self.path = db_path(self.data_dir)
        self._store = LabStore(self.path, lock_timeout=lock_timeout)
        self._on_change = on_change
        self._write_lock = threading.Lock()

    def version(self) -> Version:
        """The file's (mtime, size, inode), None when there is none yet: changes with each write."""
        return file_version(self.path)

    def rows(self) -> list[AvpEntry]:
        """Every row, by ascending id (``labpbx avp list``)."""
        try:
            return [AvpEntry.from_row(r) for r in self._store.avp_list()]
        except StoreError as exc:
            raise ProvisioningError(str(exc)) from None

    # --- writes ---------------------------------------------------------------------------------

    def add(self, owner: str, attribute: str, type_: int, value: str) -> AvpEntry:
        who = check_entry(owner, attribute, type_, value)
        return self._write(lambda: self._store.avp_add(who, attribute.strip(), type_, value))

    def update(self, row_id: int, owner: str, attribute: str, type_: int,
               value: str) -> AvpEntry:
        """Rewrite row ``row_id`` (its id stays)."""
        who = check_entry(owner, attribute, type_, value)
        return self._write(lambda: self._store.avp_update(row_id, who, attribute.strip(), type_,
                                                          value))

    def delete(self, row_id: int) -> AvpEntry:
        """Remove row ``row_id``; ProvisioningError when it is not there (any more)."""
        def remove() -> AvpRow:
            row = self._store.avp_delete_id(row_id)
            if row is None:
                raise ValueError(f"there is no row {row_id} (removed meanwhile?)")
            return row
        return self._write(remove)

    def add_async(self, owner: str, attribute: str, type_: int, value: str) -> Future[AvpEntry]:
        return run_async(self._write_lock, lambda: self.add(owner, attribute, type_, value),
                         "avp-add")

    def update_async(self, row_id: int, owner: str, attribute: str, type_: int,
                     value: str) -> Future[AvpEntry]:
        return run_async(self._write_lock,
                         lambda: self.update(row_id, owner, attribute, type_, value),
                         "avp-update")

    def delete_async(self, row_id: int) -> Future[AvpEntry]:
        return run_async(self._write_lock, lambda: self.delete(row_id), "avp-delete")

    def _write(self, work: Callable[[], AvpRow]) -> AvpEntry:
        try:
            row = work()
        except (StoreError, ValueError) as exc:
            raise ProvisioningError(str(exc)) from None
        if self._on_change is not None:
            self._on_change()
        return AvpEntry.from_row(row)

