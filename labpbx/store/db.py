"""The lab database: one JSON file per lab, TinyDB tables, shared by several processes.

Tables (they mirror the OpenSIPS ones so provisioning knowledge carries over, DESIGN.md "Data"):
``usr_preferences`` (AVPs; other usr_preferences-shaped tables may be named with ``-T``),
``location`` (registrar bindings), ``subscriber``, and the lab's own ``voicemail`` and ``calls``;
``meta`` holds the schema version and the autoincrement counters.

Rules of this module
  1. It is the only module that imports tinydb (DESIGN.md layering).
  2. Every write is one transaction: take an exclusive ``filelock.FileLock`` on ``<lab.json>.lock``,
     re-read the file *inside* the lock, apply the TinyDB operations to that in-memory copy, write
     the whole file once, release. Why the lock: the proxy, the CLI and the GUI are separate
     processes writing the same file; two unlocked read-modify-write cycles interleave and one
     silently loses the other's rows. Why re-read inside the lock: a copy read before the lock was
     taken may already be stale. A lock not obtained within ``lock_timeout`` seconds raises
     StoreLockedError ("database is locked by another process …"); nothing is changed.
  3. Every write is atomic: the new content goes to a temp file in the same directory, is flushed
     and fsync'ed, then ``os.replace``d over ``lab.json``. Why: TinyDB's own JSONStorage truncates
     and rewrites the file in place, so a reader (readers take no lock) could see an empty or
     half-written file, and a crash in the middle would destroy the lab. With replace a reader opens
     either the old or the new file, never a mix; the old inode stays valid while it is read.
  4. Reads take no lock. The parsed file is cached in memory keyed by ``(st_mtime_ns, st_size,
     st_ino)``; each read costs one ``os.stat`` and re-reads only when the key changed (every write
     creates a new inode). AVP tables are indexed on first use by (username, attribute) and
     (uuid, attribute), so ``avp_lookup`` (called for every INVITE) is a few dict look-ups.
  5. A file that is not UTF-8 JSON of the expected shape (tables of numbered rows; the rows of
     usr_preferences, location, subscriber, voicemail and calls with the right fields) raises
     CorruptStoreError
     naming the file. Such a file is never overwritten or truncated; writes refuse to run.
     ``quarantine()`` renames it to ``lab.json.corrupt-<timestamp>`` (the CLI does so only with
     ``--reset-corrupt``).
  6. Argument errors (bad type, attribute too long, unknown table …) raise ValueError before the
     file is touched; StoreError means the file itself could not be read, parsed, locked or written.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import filelock
from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Document

from labpbx.errors import StoreError
from labpbx.store.records import (
    SCHEMA_VERSION,
    AvpRow,
    CallRow,
    LocationRow,
    Owner,
    SubscriberRow,
    VoicemailRow,
    filter_avps,
    int_to_db_text,
    make_type,
    parse_owner,
    select_avps,
    validate_avp,
    validate_call,
    validate_table_name,
    validate_voicemail,
)

USR_PREFERENCES = "usr_preferences"
LOCATION = "location"
SUBSCRIBER = "subscriber"
VOICEMAIL = "voicemail"
CALLS = "calls"
META = "meta"
KNOWN_TABLES = (META, USR_PREFERENCES, LOCATION, SUBSCRIBER, VOICEMAIL, CALLS)
NON_AVP_TABLES = frozenset({META, LOCATION, SUBSCRIBER, VOICEMAIL, CALLS})
DEFAULT_LOCK_TIMEOUT = 10.0
CALL_HISTORY_LIMIT = 1000  # calls kept by the lab's history writer (oldest go first)
_META_ID = 1

_Sig = tuple[int, int, int]


class CorruptStoreError(StoreError):
    """The lab file exists but is not a LabPBX database (not UTF-8 JSON or not the right shape)."""

    def __init__(self, path: Path, detail: str) -> None:
        self.path = path
        self.detail = detail
        super().__init__(
            f"lab database {path} is corrupt: {detail}. The file was left untouched; move it away, "
            "or use --reset-corrupt to rename it aside and start an empty lab")


class StoreLockedError(StoreError):
    """Another process held the lab's lock file for longer than the lock timeout."""


# --- file level: decode, validate, atomic write ---------------------------------------------------


def _signature(st: os.stat_result) -> _Sig:
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _json_kind(value: object) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
            float: "number", type(None): "null"}.get(type(value), type(value).__name__)


def _decode(path: Path, raw: bytes) -> dict[str, Any]:
    """Parse and shape-check the file content; raise CorruptStoreError (or StoreError if newer)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptStoreError(path, f"not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise CorruptStoreError(path, "the file is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorruptStoreError(
            path, f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    _check_shape(path, data)
    return data  # type: ignore[no-any-return]


def _check_shape(path: Path, data: object) -> None:
    if not isinstance(data, dict):
        raise CorruptStoreError(
            path, f"expected a JSON object of tables at the top level, found {_json_kind(data)}")
    for name, table in data.items():
        if not isinstance(table, dict):
            raise CorruptStoreError(
                path, f"table {name!r} is a JSON {_json_kind(table)}, expected an object of rows")
        for key, doc in table.items():
            if not (key.isascii() and key.isdigit()):
                raise CorruptStoreError(path, f"table {name!r}: row key {key!r} is not a number")
            if not isinstance(doc, dict):
                raise CorruptStoreError(
                    path, f"table {name!r}, row {key}: a JSON {_json_kind(doc)}, not an object")
    meta = data.get(META, {}).get(str(_META_ID))
    if meta is None:
        return
    version = meta.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CorruptStoreError(path, f"meta.schema_version is {version!r}, expected a number ≥ 1")
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"lab database {path} was written by a newer LabPBX (schema {version}; this version "
            f"reads up to {SCHEMA_VERSION}); upgrade LabPBX or use another --data directory")
    autoinc = meta.get("autoinc", {})
    if not isinstance(autoinc, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in autoinc.values()):
        raise CorruptStoreError(path, "meta.autoinc must map table names to numbers")


def _skeleton(data: dict[str, Any]) -> dict[str, Any]:
    """Add the known tables and the meta row where missing (in place); return data."""
    for name in KNOWN_TABLES:
        data.setdefault(name, {})
    data[META].setdefault(str(_META_ID), {"schema_version": SCHEMA_VERSION, "autoinc": {}})
    return data


def _replace(src: str, dst: Path) -> None:
    # On Windows os.replace fails while another process has dst open (a reader); readers hold it
    # for microseconds, so retry briefly. On POSIX this never loops.
    for attempt in range(100):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if sys.platform != "win32" or attempt == 99:
                raise
            time.sleep(0.01)


def _fsync_dir(directory: Path) -> None:
    if sys.platform == "win32":  # directories cannot be opened for fsync there
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _dumps(data: Mapping[str, Any]) -> str:
    """The file's text: one line per row, tables and rows in order. Readable like ``indent``,
    but each row goes through json's C encoder; ``indent`` makes json use its pure-Python
    encoder, which took ~50 ms per write of a 1,000-call history (bench/bench_window.py)."""

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    tables = []
    for name, rows in data.items():
        if isinstance(rows, Mapping) and rows:
            body = ",\n".join(f"  {dump(str(key))}: {dump(row)}" for key, row in rows.items())
            tables.append(f" {dump(name)}: {{\n{body}\n }}")
        else:
            tables.append(f" {dump(name)}: {dump(rows)}")
    return "{\n" + ",\n".join(tables) + "\n}" if tables else "{}"


def _atomic_write(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as JSON next to ``path``, fsync, then ``os.replace`` it over ``path``."""
    payload = _dumps(data).encode("utf-8") + b"\n"
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise StoreError(f"cannot write lab database {path}: {exc}") from exc
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(OSError):  # keep the permissions of the file we replace
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        _replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise StoreError(f"cannot write lab database {path}: {exc}") from exc
        raise
    _fsync_dir(path.parent)


class AtomicJSONStorage(Storage):
    """TinyDB storage that reads the whole file and writes it atomically (temp + fsync + replace).

    Outside a transaction ``read``/``write`` go to the file. Inside one (``begin`` … ``commit``),
    the file is read once at ``begin``, TinyDB's operations read and mutate that in-memory copy,
    and ``commit`` writes it once; the caller holds the lock from ``begin`` to ``commit``.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._data: dict[str, Any] | None = None
        self._dirty = False

    def _read_file(self) -> dict[str, Any] | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read lab database {self.path}: {exc}") from exc
        return _decode(self.path, raw)

    def begin(self) -> None:
        data = self._read_file()
        if data is not None:  # refuse to build on rows that are not the expected shape
            _Snapshot(self.path, None, data).validate()
        self._data = _skeleton(data if data is not None else {})
        self._dirty = data is None  # a new file is written even if nothing else changes

    def commit(self) -> dict[str, Any] | None:
        """Write the transaction's data if anything changed; return what was written, or None."""
        data, dirty = self._data, self._dirty
        self._data, self._dirty = None, False
        if data is None or not dirty:
            return None
        _atomic_write(self.path, data)
        return data

    def rollback(self) -> None:
        self._data, self._dirty = None, False

    def read(self) -> dict[str, Any] | None:
        if self._data is not None:
            return self._data
        return self._read_file()

    def write(self, data: dict[str, Any]) -> None:
        if self._data is not None:
            self._data = data
            self._dirty = True
        else:
            _atomic_write(self.path, data)

    def close(self) -> None:
        self.rollback()


# --- parsed, cached view of one version of the file --------------------------------------------


def _parse_rows(path: Path, table: str, raw: Mapping[str, Any],
                build: Callable[[str, Mapping[str, Any]], Any]) -> list[Any]:
    rows = []
    for key in sorted(raw, key=int):
        try:
            rows.append(build(key, raw[key]))
        except ValueError as exc:
            raise CorruptStoreError(path, f"table {table!r}, row {key}: {exc}") from None
    return rows


def _parse_avps(path: Path, table: str, raw: Mapping[str, Any]) -> list[AvpRow]:
    return _parse_rows(path, table, raw, lambda k, d: AvpRow.from_dict(d, doc_id=int(k)))


class _AvpIndex:
    """One AVP table: all rows by id, and the loadable ones indexed the way avp_db_load asks."""

    __slots__ = ("by_user", "by_user_attr", "by_uuid", "by_uuid_attr", "rows")

    def __init__(self, rows: list[AvpRow]) -> None:
        self.rows = rows
        self.by_user: dict[str, list[AvpRow]] = {}
        self.by_user_attr: dict[tuple[str, str], list[AvpRow]] = {}
        self.by_uuid: dict[str, list[AvpRow]] = {}
        self.by_uuid_attr: dict[tuple[str, str], list[AvpRow]] = {}
        for r in rows:  # ascending id, so every list is in id order
            if not r.loadable:
                continue
            self.by_user.setdefault(r.username, []).append(r)
            self.by_user_attr.setdefault((r.username, r.attribute), []).append(r)
            self.by_uuid.setdefault(r.uuid, []).append(r)
            self.by_uuid_attr.setdefault((r.uuid, r.attribute), []).append(r)


def _newest_first(rows: list[Any], when: Callable[[Any], float]) -> list[Any]:
    """``rows`` (ascending document id) sorted newest first: by ``when``, ties by later id."""
    return sorted(reversed(rows), key=when, reverse=True)  # sorted() is stable


class _Snapshot:
    __slots__ = ("_avp", "_calls", "_locations", "_subscribers", "_voicemail", "data", "path",
                 "sig")

    def __init__(self, path: Path, sig: _Sig | None, data: dict[str, Any]) -> None:
        self.path = path
        self.sig = sig
        self.data = data
        self._avp: dict[str, _AvpIndex] = {}
        self._locations: list[LocationRow] | None = None
        self._subscribers: list[SubscriberRow] | None = None
        self._voicemail: list[VoicemailRow] | None = None
        self._calls: list[CallRow] | None = None

    def validate(self) -> None:
        """Parse every row of the known tables now (CorruptStoreError on a malformed row)."""
        self.avp(USR_PREFERENCES)
        self.locations()
        self.subscribers()
        self.voicemail()
        self.calls()

    def avp(self, table: str) -> _AvpIndex:
        index = self._avp.get(table)
        if index is None:
            index = _AvpIndex(_parse_avps(self.path, table, self.data.get(table, {})))
            self._avp[table] = index
        return index

    def locations(self) -> list[LocationRow]:
        if self._locations is None:
            self._locations = _parse_rows(self.path, LOCATION, self.data.get(LOCATION, {}),
                                          lambda _k, d: LocationRow.from_dict(d))
        return self._locations

    def subscribers(self) -> list[SubscriberRow]:
        if self._subscribers is None:
            self._subscribers = _parse_rows(self.path, SUBSCRIBER, self.data.get(SUBSCRIBER, {}),
                                            lambda _k, d: SubscriberRow.from_dict(d))
        return self._subscribers

    def voicemail(self) -> list[VoicemailRow]:
        """Every message, newest first (received_at descending, then latest added first)."""
        if self._voicemail is None:
            rows = _parse_rows(self.path, VOICEMAIL, self.data.get(VOICEMAIL, {}),
                               lambda _k, d: VoicemailRow.from_dict(d))
            self._voicemail = _newest_first(rows, lambda r: r.received_at)
        return self._voicemail

    def calls(self) -> list[CallRow]:
        """Every call, newest first (started_at descending, then higher id first)."""
        if self._calls is None:
            rows = _parse_rows(self.path, CALLS, self.data.get(CALLS, {}),
                               lambda k, d: CallRow.from_dict(d, doc_id=int(k)))
            self._calls = _newest_first(rows, lambda r: r.started_at)
        return self._calls


class _Txn:
    """What a write operation sees: the TinyDB over the transaction's in-memory copy."""

    def __init__(self, path: Path, db: Any, storage: AtomicJSONStorage) -> None:
        self.path = path
        self.db = db
        self.storage = storage

    def table(self, name: str) -> Any:
        return self.db.table(name, cache_size=0)

    def raw(self, name: str) -> dict[str, Any]:
        data = self.storage.read()
        assert data is not None
        table: dict[str, Any] = data.get(name, {})
        return table

    def avp_rows(self, name: str) -> list[AvpRow]:
        return _parse_avps(self.path, name, self.raw(name))

    def allocate_id(self, name: str) -> int:
        """Next autoincrement id of ``name``: never reuses an id, like MySQL's AUTO_INCREMENT."""
        return self.allocate_ids(name, 1)[0]

    def allocate_ids(self, name: str, count: int) -> list[int]:
        """The next ``count`` autoincrement ids of ``name`` (one look at the table for all)."""
        meta_table = self.table(META)
        meta = dict(meta_table.get(doc_id=_META_ID) or {})
        autoinc = dict(meta.get("autoinc") or {})
        used = max((int(k) for k in self.raw(name)), default=0)
        first = max(int(autoinc.get(name, 0)), used) + 1
        autoinc[name] = first + count - 1
        meta.setdefault("schema_version", SCHEMA_VERSION)
        meta["autoinc"] = autoinc
        meta_table.upsert(Document(meta, doc_id=_META_ID))
        return list(range(first, first + count))


def _avp_table(table: str) -> str:
    validate_table_name(table)
    if table in NON_AVP_TABLES:
        raise ValueError(f"table {table!r} is not a usr_preferences-shaped table")
    return table


def _local_now() -> datetime:
    return datetime.now().astimezone()


class LabStore:
    """The lab database in one JSON file (``paths.db_path(data_dir)``); see the module docstring.

    Create one per process (or per thread pool); instances in different processes see each other's
    writes at their next read. Missing files read as an empty lab; the first write creates it.
    """

    def __init__(self, path: Path, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
                 now: Callable[[], datetime] = _local_now) -> None:
        self.path = Path(path)
        self.lock_path = Path(str(self.path) + ".lock")
        self.lock_timeout = lock_timeout
        self._lock = filelock.FileLock(str(self.lock_path), timeout=lock_timeout)
        self._now = now
        self._snap: _Snapshot | None = None
        self._failed: tuple[_Sig, type[StoreError], tuple[Any, ...]] | None = None

    def __repr__(self) -> str:
        return f"LabStore({str(self.path)!r})"

    # --- reading ------------------------------------------------------------------------------

    def _current(self) -> _Snapshot:
        """The parsed file, re-read only when its (mtime, size, inode) changed."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            sig = None
        except OSError as exc:
            raise StoreError(f"cannot read lab database {self.path}: {exc}") from exc
        else:
            sig = (st.st_mtime_ns, st.st_size, st.st_ino)
        snap = self._snap
        if snap is not None and snap.sig == sig:
            return snap
        failed = self._failed
        if failed is not None and failed[0] == sig:
            raise failed[1](*failed[2])  # same corrupt file: do not parse it again
        return self._reload()

    def _reload(self) -> _Snapshot:
        try:
            with open(self.path, "rb") as f:
                sig = _signature(os.fstat(f.fileno()))
                raw = f.read()
        except FileNotFoundError:
            snap = _Snapshot(self.path, None, {})
            self._snap = snap
            return snap
        except OSError as exc:
            raise StoreError(f"cannot read lab database {self.path}: {exc}") from exc
        try:
            data = _decode(self.path, raw)
            snap = _Snapshot(self.path, sig, data)
            snap.validate()
        except CorruptStoreError as exc:
            self._failed = (sig, CorruptStoreError, (exc.path, exc.detail))
            raise
        except StoreError as exc:
            self._failed = (sig, StoreError, exc.args)
            raise
        self._failed = None
        self._snap = snap
        return snap

    def check(self) -> None:
        """Raise CorruptStoreError/StoreError if the file cannot be used; no-op if fine/absent."""
        self._current()

    def schema_version(self) -> int:
        meta = self._current().data.get(META, {}).get(str(_META_ID)) or {}
        version: int = meta.get("schema_version", SCHEMA_VERSION)
        return version

    # --- writing ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[_Txn]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the lab directory {self.path.parent}: {exc}") from exc
        self._acquire()
        try:
            storage = AtomicJSONStorage(self.path)
            storage.begin()
            db = TinyDB(storage=lambda: storage)
            try:
                yield _Txn(self.path, db, storage)
            except BaseException:
                storage.rollback()
                raise
            written = storage.commit()
            if written is not None:  # we still hold the lock: the file on disk is ours
                self._snap = _Snapshot(self.path, _signature(os.stat(self.path)), written)
                self._failed = None
        finally:
            self._lock.release()

    def _acquire(self) -> None:
        try:
            self._lock.acquire(timeout=self.lock_timeout)
        except filelock.Timeout:
            raise StoreLockedError(
                f"database is locked by another process: {self.path} (lock {self.lock_path} "
                f"still held after {self.lock_timeout:g} s); close the other LabPBX program "
                "or try again") from None
        except OSError as exc:
            raise StoreError(f"cannot lock lab database {self.path}: {exc}") from exc

    def _stamp(self) -> str:
        return self._now().isoformat(timespec="seconds")

    def quarantine(self) -> Path | None:
        """Rename a corrupt file to ``lab.json.corrupt-<YYYYmmddTHHMMSS>`` so a new lab can start.

        Returns the new name, or None when there is no file or the file is not corrupt (a healthy
        file is never moved). A file from a newer LabPBX raises StoreError and stays in place.
        """
        self._acquire()
        try:
            try:
                raw = self.path.read_bytes()
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise StoreError(f"cannot read lab database {self.path}: {exc}") from exc
            try:
                _Snapshot(self.path, None, _decode(self.path, raw)).validate()
            except CorruptStoreError:
                pass
            else:
                return None
            stamp = time.strftime("%Y%m%dT%H%M%S")
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
            n = 1
            while target.exists():
                target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
                n += 1
            try:
                os.rename(self.path, target)
            except OSError as exc:
                raise StoreError(f"cannot rename {self.path} to {target}: {exc}") from exc
            self._snap = None
            self._failed = None
            return target
        finally:
            self._lock.release()

    # --- usr_preferences: opensipsctl avp add / list / rm -----------------------------------------

    @staticmethod
    def _value_text(type_: int, value: str | int) -> str:
        if isinstance(value, bool):
            raise ValueError("an AVP value is a string or an integer, not a boolean")
        if isinstance(value, int):
            return int_to_db_text(value) if type_ & 1 else str(value)
        return value

    def avp_add(self, owner: str | Owner, attribute: str, type_: int, value: str | int,
                table: str = USR_PREFERENCES) -> AvpRow:
        """``opensipsctl avp add [-T table] <sip-id|uuid> <attribute> <type> <value>``.

        ``owner`` is split by :func:`parse_owner` (a uuid unless it is ``user@dotted.domain``).
        Raises ValueError for invalid arguments, StoreError if the file cannot be written.
        """
        table = _avp_table(table)
        who = owner if isinstance(owner, Owner) else parse_owner(owner)
        text = self._value_text(type_, value)
        validate_avp(attribute, type_, text)
        stamp = self._stamp()
        with self._transaction() as txn:
            row_id = txn.allocate_id(table)
            row = AvpRow(row_id, who.uuid, who.username, who.domain, attribute, type_, text, stamp)
            txn.table(table).insert(Document(row.to_dict(), doc_id=row_id))
        return row

    def avp_list(self, table: str = USR_PREFERENCES, owner: str | Owner | None = None,
                 attribute: str | None = None, value: str | None = None,
                 type_: int | None = None) -> list[AvpRow]:
        """``opensipsctl avp list``: every row matching all given filters, by ascending id."""
        table = _avp_table(table)
        who = parse_owner(owner) if isinstance(owner, str) else owner
        return filter_avps(self._current().avp(table).rows, owner=who, attribute=attribute,
                           value=value, type_=type_)

    def avp_rm(self, table: str = USR_PREFERENCES, owner: str | Owner | None = None,
               attribute: str | None = None, value: str | None = None,
               type_: int | None = None, *, all_rows: bool = False) -> int:
        """``opensipsctl avp rm``: delete the rows matching all given filters; return how many.

        Without any filter this would empty the table; that needs ``all_rows=True``.
        """
        table = _avp_table(table)
        if owner is None and attribute is None and value is None and type_ is None \
                and not all_rows:
            raise ValueError(f"refusing to delete every row of {table} without a filter "
                             "(user id, attribute, value or type); ask for all rows explicitly")
        who = parse_owner(owner) if isinstance(owner, str) else owner
        with self._transaction() as txn:
            doomed = filter_avps(txn.avp_rows(table), owner=who, attribute=attribute,
                                 value=value, type_=type_)
            if doomed:
                txn.table(table).remove(doc_ids=[r.id for r in doomed])
        return len(doomed)

    def avp_update(self, row_id: int, owner: str | Owner, attribute: str, type_: int,
                   value: str | int, table: str = USR_PREFERENCES) -> AvpRow:
        """Rewrite every column of row ``row_id`` (a provisioning table's "edit"); the id stays
        and ``last_modified`` is now. ValueError (file untouched) for invalid arguments or when
        there is no such row (another process may have removed it since it was shown)."""
        table = _avp_table(table)
        who = owner if isinstance(owner, Owner) else parse_owner(owner)
        text = self._value_text(type_, value)
        validate_avp(attribute, type_, text)
        row = AvpRow(row_id, who.uuid, who.username, who.domain, attribute, type_, text,
                     self._stamp())
        with self._transaction() as txn:
            if str(row_id) not in txn.raw(table):
                raise ValueError(f"there is no row {row_id} in {table} (removed meanwhile?)")
            txn.table(table).upsert(Document(row.to_dict(), doc_id=row_id))
        return row

    def avp_delete_id(self, row_id: int, table: str = USR_PREFERENCES) -> AvpRow | None:
        """Delete row ``row_id``; return it, or None when there was no such row."""
        table = _avp_table(table)
        with self._transaction() as txn:
            found = [r for r in txn.avp_rows(table) if r.id == row_id]
            if found:
                txn.table(table).remove(doc_ids=[row_id])
        return found[0] if found else None

    # --- usr_preferences: the script functions avp_db_load / avp_db_store / avp_db_delete --------

    def avp_lookup(self, *, username: str | None = None, domain: str | None = None,
                   uuid: str | None = None, attribute: str | None = None,
                   table: str = USR_PREFERENCES) -> list[AvpRow]:
        """The rows ``avp_db_load`` loads (hot path: cached, one ``os.stat`` per call).

        WHERE clause as :func:`labpbx.store.records.select_avps`: ``uuid`` if given, else
        ``username`` (+ ``domain`` only when not None), + ``attribute`` when not None. Rows whose
        value does not convert to their declared type are left out (OpenSIPS skips them).
        Order: ascending id, i.e. oldest first. OpenSIPS has no ORDER BY and pushes each row on
        the head of the AVP list, so the proxy should add them in this order and the newest row
        ends up as ``$avp(name)``.
        """
        snap = self._current()
        index = snap._avp.get(table)
        if index is None:
            index = snap.avp(_avp_table(table))
        if uuid is not None:
            found = (index.by_uuid.get(uuid) if attribute is None
                     else index.by_uuid_attr.get((uuid, attribute)))
        elif username is not None:
            found = (index.by_user.get(username) if attribute is None
                     else index.by_user_attr.get((username, attribute)))
        else:
            raise ValueError("avp_lookup needs username= or uuid=")
        if not found:
            return []
        if domain is not None and uuid is None:
            return [r for r in found if r.domain == domain]
        return list(found)

    def avp_store(self, *, attribute: str, values: Sequence[str | int],
                  username: str | None = None, domain: str | None = None,
                  uuid: str | None = None, name_int: bool = False,
                  table: str = USR_PREFERENCES) -> list[AvpRow]:
        """``avp_db_store``: insert one row per AVP value; return the rows.

        The row gets ``uuid`` (if given) or ``username``, and ``domain`` only when given (the
        ``use_domain=1`` / ``/domain`` case); the other columns are ''. An int value sets type
        bit 0 (negative ints are written as their unsigned 32-bit image, which loads back equal).
        """
        table = _avp_table(table)
        if (username is None) == (uuid is None):
            raise ValueError("avp_store needs exactly one of username= or uuid=")
        pending = []
        for v in values:
            type_ = make_type(name_int=name_int, value_int=isinstance(v, int))
            text = self._value_text(type_, v)
            validate_avp(attribute, type_, text)
            pending.append((type_, text))
        if not pending:
            return []
        stamp = self._stamp()
        rows = []
        with self._transaction() as txn:
            tbl = txn.table(table)
            for type_, text in pending:
                row_id = txn.allocate_id(table)
                row = AvpRow(row_id, uuid or "", username or "", domain or "", attribute, type_,
                             text, stamp)
                tbl.insert(Document(row.to_dict(), doc_id=row_id))
                rows.append(row)
        return rows

    def avp_delete(self, *, username: str | None = None, domain: str | None = None,
                   uuid: str | None = None, attribute: str | None = None,
                   table: str = USR_PREFERENCES) -> int:
        """``avp_db_delete``: delete the rows avp_db_load would select (any value); return count."""
        table = _avp_table(table)
        with self._transaction() as txn:
            doomed = select_avps(txn.avp_rows(table), username=username, domain=domain,
                                 uuid=uuid, attribute=attribute)
            if doomed:
                txn.table(table).remove(doc_ids=[r.id for r in doomed])
        return len(doomed)

    # --- location (registrar bindings) ----------------------------------------------------------

    def location_save(self, username: str, domain: str, bindings: Sequence[LocationRow]) -> None:
        """Replace every binding of the AoR ``username@domain`` by ``bindings`` (may be empty)."""
        for b in bindings:
            if b.aor != (username, domain):
                raise ValueError(f"binding for {b.username}@{b.domain} given to "
                                 f"location_save({username!r}, {domain!r})")
        stamp = self._stamp()
        with self._transaction() as txn:
            tbl = txn.table(LOCATION)
            old = [int(k) for k, d in txn.raw(LOCATION).items()
                   if d.get("username") == username and d.get("domain") == domain]
            if old:
                tbl.remove(doc_ids=old)
            if bindings:
                tbl.insert_multiple(
                    [(b if b.last_modified else replace(b, last_modified=stamp)).to_dict()
                     for b in bindings])

    def location_all(self) -> list[LocationRow]:
        """Every binding (expired ones included: expiry is the registrar's business)."""
        return list(self._current().locations())

    def location_get(self, username: str, domain: str | None = None) -> list[LocationRow]:
        """Bindings of a username (and domain, when given)."""
        return [b for b in self._current().locations()
                if b.username == username and (domain is None or b.domain == domain)]

    def location_clear(self) -> int:
        """Delete every binding (e.g. when the proxy starts); return how many there were."""
        with self._transaction() as txn:
            count = len(txn.raw(LOCATION))
            if count:
                txn.table(LOCATION).truncate()
        return count

    # --- subscriber -----------------------------------------------------------------------------

    def subscriber_add(self, username: str, domain: str, password: str,
                       email_address: str | None = None) -> SubscriberRow:
        """Add an extension's credentials; ValueError if ``username@domain`` already exists."""
        if not username:
            raise ValueError("the subscriber username must not be empty")
        row = SubscriberRow(username, domain, password, email_address)
        with self._transaction() as txn:
            for d in txn.raw(SUBSCRIBER).values():
                if d.get("username") == username and d.get("domain") == domain:
                    raise ValueError(f"subscriber {username}@{domain} already exists")
            txn.table(SUBSCRIBER).insert(row.to_dict())
        return row

    def subscriber_list(self) -> list[SubscriberRow]:
        return list(self._current().subscribers())

    def subscriber_rm(self, username: str, domain: str) -> int:
        with self._transaction() as txn:
            ids = [int(k) for k, d in txn.raw(SUBSCRIBER).items()
                   if d.get("username") == username and d.get("domain") == domain]
            if ids:
                txn.table(SUBSCRIBER).remove(doc_ids=ids)
        return len(ids)

    # --- voicemail (the box's message index) ----------------------------------------------------

    def voicemail_add(self, message: VoicemailRow) -> VoicemailRow:
        """Index a new message; return the row as stored.

        ValueError (file untouched) for a malformed row (:func:`records.validate_voicemail`:
        types, greeting, empty id/mailbox, negative duration, a path that leaves the data dir)
        or when a message with the same id is already stored.
        """
        row = validate_voicemail(message)
        with self._transaction() as txn:
            for d in txn.raw(VOICEMAIL).values():
                if d.get("id") == row.id:
                    raise ValueError(f"message {row.id} is already stored")
            doc_id = txn.allocate_id(VOICEMAIL)
            txn.table(VOICEMAIL).insert(Document(row.to_dict(), doc_id=doc_id))
        return row

    def voicemail_list(self, mailbox: str | None = None) -> list[VoicemailRow]:
        """The messages of ``mailbox`` (every mailbox when None), newest first."""
        rows = self._current().voicemail()
        if mailbox is None:
            return list(rows)
        return [r for r in rows if r.mailbox == mailbox]

    def voicemail_get(self, message_id: str) -> VoicemailRow | None:
        """The message with this id, or None."""
        return next((r for r in self._current().voicemail() if r.id == message_id), None)

    def voicemail_count(self, mailbox: str) -> tuple[int, int]:
        """``(new, old)``: unheard and heard messages of ``mailbox`` (for MWI)."""
        new = old = 0
        for r in self._current().voicemail():
            if r.mailbox == mailbox:
                if r.heard:
                    old += 1
                else:
                    new += 1
        return new, old

    def voicemail_mark_heard(self, message_id: str, heard: bool = True) -> bool:
        """Set a message's heard flag; False when there is no such message.

        A message that already has that flag is left alone (no write) and still gives True.
        """
        if not isinstance(heard, bool):
            raise ValueError(f"heard must be True or False, not {heard!r}")
        with self._transaction() as txn:
            found = [(int(k), d) for k, d in txn.raw(VOICEMAIL).items() if d.get("id") == message_id]
            changed = [doc_id for doc_id, d in found if d.get("heard", False) is not heard]
            if changed:
                txn.table(VOICEMAIL).update({"heard": heard}, doc_ids=changed)
        return bool(found)

    def voicemail_delete(self, message_id: str) -> VoicemailRow | None:
        """Remove a message from the index; return its row (the caller deletes the WAV file), or
        None when there is no such message. The file itself is not touched here."""
        with self._transaction() as txn:
            found = sorted((int(k), d) for k, d in txn.raw(VOICEMAIL).items()
                           if d.get("id") == message_id)
            if not found:
                return None
            row = VoicemailRow.from_dict(found[-1][1])  # parsed by begin(): cannot fail
            txn.table(VOICEMAIL).remove(doc_ids=[doc_id for doc_id, _d in found])
        return row

    # --- calls (call history) -------------------------------------------------------------------

    def calls_add(self, row: CallRow) -> CallRow:
        """Append a call to the history; return it with its new id (``row.id`` is ignored).

        ValueError (file untouched) for wrong field types or an outcome not in CALL_OUTCOMES.
        """
        checked = validate_call(row)
        with self._transaction() as txn:
            row_id = txn.allocate_id(CALLS)
            stored = replace(checked, id=row_id)
            txn.table(CALLS).insert(Document(stored.to_dict(), doc_id=row_id))
        return stored

    def calls_add_many(self, rows: Sequence[CallRow], keep: int | None = CALL_HISTORY_LIMIT
                       ) -> list[CallRow]:
        """Append ``rows`` in one transaction (one read and one write of the file however many
        rows), then keep only the newest ``keep`` calls (None: all); the stored rows.

        The history is bounded because the file is rewritten whole on every write: unbounded,
        a lab that sipp drives at 200 calls/s spent ever longer rewriting it, and every reader
        (the window's views) ever longer re-reading it. ValueError (file untouched) as
        ``calls_add``."""
        checked = [validate_call(row) for row in rows]
        if not checked:
            return []
        with self._transaction() as txn:
            # One id allocation and one insert for the batch: TinyDB copies the table on every
            # operation, so a row at a time cost O(rows × history).
            ids = txn.allocate_ids(CALLS, len(checked))
            stored = [replace(row, id=row_id) for row, row_id in zip(checked, ids, strict=True)]
            txn.table(CALLS).insert_multiple(
                [Document(row.to_dict(), doc_id=row.id) for row in stored])
            if keep is not None:
                ids = sorted(int(k) for k in txn.raw(CALLS))
                if len(ids) > keep:
                    txn.table(CALLS).remove(doc_ids=ids[:len(ids) - keep])
        return stored

    def calls_list(self, limit: int | None = 100) -> list[CallRow]:
        """The last ``limit`` calls (all when None), newest first (by started_at, then id)."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 0):
            raise ValueError(f"limit must be a number ≥ 0 or None, not {limit!r}")
        rows = self._current().calls()
        return list(rows if limit is None else rows[:limit])

    def calls_clear(self) -> int:
        """Delete the whole call history; return how many calls it held (ids are not reused)."""
        with self._transaction() as txn:
            count = len(txn.raw(CALLS))
            if count:
                txn.table(CALLS).truncate()
        return count
