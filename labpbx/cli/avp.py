"""``labpbx avp``: provision usr_preferences the way ``opensipsctl avp`` / ``kamctl avp`` do.

    labpbx avp add  [-T table] <sip-id|uuid> <attribute> <type> <value>
    labpbx avp list [-T table] [-u <sip-id|uuid>] [-a attribute] [-v value] [-t type]
    labpbx avp rm   [-T table] [-u <sip-id|uuid>] [-a attribute] [-v value] [-t type] [--all]

Rules (SEMANTICS.md §1.3, OpenSIPS 2.4 ``scripts/opensipsctl`` ``avpops()``):
  - ``<sip-id>`` is an AoR only if it matches ``^USERNAME_RE@.*\\..*`` (a dot after the @):
    then username and domain are filled and uuid is ''. Anything else goes to the uuid column.
    ``1004@localhost`` therefore becomes a uuid that ``avp_db_load("$ru", …)`` never finds; we
    store it like opensipsctl does but print a warning, because it is the classic lab pitfall.
  - ``<type>`` is 0 (str:str), 1 (str:int), 2 (int:str) or 3 (int:int); bit 0 = value is int.
  - ``list``/``rm`` filters are ANDed; ``-u`` with an AoR matches username AND domain.
  - Unlike opensipsctl, ``rm`` without any filter refuses to empty the table unless ``--all``.
Output goes to stdout; warnings and errors to stderr as one line each. Exit status 0 on success,
1 on a bad argument value or a database problem (argparse itself exits 2 on a malformed command).
A corrupt database is reported and left alone, unless ``--reset-corrupt`` is given: then it is
renamed to ``lab.json.corrupt-<time>`` and the command runs against a new, empty lab.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from labpbx.errors import StoreError
from labpbx.store.db import USR_PREFERENCES, CorruptStoreError, LabStore
from labpbx.store.records import TYPE_LABELS, AvpRow, Owner, parse_owner

COLUMNS = ("id", "uuid", "username", "domain", "attribute", "type", "value", "last_modified")
_NUMERIC = frozenset({"id", "type"})
_PROG = "labpbx avp"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``avp`` command (with ``add``, ``list`` and ``rm``) to a subparsers action."""
    avp = subparsers.add_parser(
        "avp", help="manage AVPs in usr_preferences (like opensipsctl avp)",
        description="Add, list and remove AVPs (usr_preferences rows), like opensipsctl avp.")
    # SUPPRESS: do not clobber a top-level --reset-corrupt the main parser may also define.
    avp.add_argument("--reset-corrupt", action="store_true", default=argparse.SUPPRESS,
                     help="if the lab database is corrupt, rename it aside and start an empty one")
    sub = avp.add_subparsers(dest="avp_command", metavar="{add,list,rm}", required=True)

    add = sub.add_parser("add", help="add an AVP",
                         description="Add one AVP row. <sip-id> must be user@domain with a dot "
                                     "in the domain (e.g. 1004@127.0.0.1); anything else is "
                                     "stored as a uuid.")
    _table_arg(add)
    add.add_argument("owner", metavar="<sip-id|uuid>", help="user@domain (AoR) or a uuid")
    add.add_argument("attribute", metavar="<attribute>", help="AVP name, e.g. callfwd")
    add.add_argument("type", metavar="<type>",
                     help="0 (str:str), 1 (str:int), 2 (int:str) or 3 (int:int)")
    add.add_argument("value", metavar="<value>", help="AVP value, e.g. sip:2345678@127.0.0.1")

    for name, verb in (("list", "list"), ("rm", "remove")):
        p = sub.add_parser(name, help=f"{verb} AVPs",
                           description=f"{verb.capitalize()} the AVP rows matching every given "
                                       "filter.")
        _table_arg(p)
        p.add_argument("-u", dest="owner", metavar="<sip-id|uuid>",
                       help="user@domain (matches username and domain) or a uuid")
        p.add_argument("-a", dest="attribute", metavar="attribute", help="AVP name")
        p.add_argument("-v", dest="value", metavar="value", help="AVP value")
        p.add_argument("-t", dest="type", metavar="type", help="AVP type 0..3")
        if name == "rm":
            p.add_argument("--all", action="store_true",
                           help="allow removing every row when no filter is given")


def _table_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("-T", dest="table", metavar="table", default=USR_PREFERENCES,
                   help=f"table name (default {USR_PREFERENCES})")


def run(args: argparse.Namespace, store: LabStore) -> int:
    """Execute a parsed ``avp`` command against ``store``; return the exit status."""
    try:
        return _dispatch(args, store)
    except CorruptStoreError as exc:
        if not getattr(args, "reset_corrupt", False):
            return _fail(exc)
        try:
            moved = store.quarantine()
        except StoreError as exc2:
            return _fail(exc2)
        if moved is not None:
            print(f"labpbx: the corrupt database was renamed to {moved}; starting an empty lab",
                  file=sys.stderr)
        try:
            return _dispatch(args, store)
        except (StoreError, ValueError) as exc3:
            return _fail(exc3)
    except (StoreError, ValueError) as exc:
        return _fail(exc)


def _fail(exc: Exception) -> int:
    print(f"{_PROG}: error: {exc}", file=sys.stderr)
    return 1


def _parse_type(text: str | None) -> int | None:
    if text is None:
        return None
    if text not in ("0", "1", "2", "3"):
        raise ValueError(f"invalid AVP type {text!r}: use 0 (str:str), 1 (str:int), "
                         "2 (int:str) or 3 (int:int)")
    return int(text)


def _parse_owner(text: str | None) -> Owner | None:
    if text is None:
        return None
    return parse_owner(text)


def uuid_warning(text: str, owner: Owner) -> str | None:
    """The warning for ``user@host`` without a dot in the host (stored as a uuid), else None."""
    if owner.is_aor or "@" not in text:
        return None
    user, _, host = text.partition("@")
    return (f"warning: {text!r} has no dot in its domain, so it was stored as "
            f"uuid={text!r} with empty username and domain; avp_db_load(\"$ru\", …) will not "
            f"find it — use an IP or a dotted domain, e.g. {user}@127.0.0.1 instead of "
            f"{user}@{host}")


def _dispatch(args: argparse.Namespace, store: LabStore) -> int:
    command = args.avp_command
    if command == "add":
        return _add(args, store)
    if command == "list":
        return _list(args, store)
    if command == "rm":
        return _rm(args, store)
    raise ValueError(f"unknown avp command {command!r}")


def _add(args: argparse.Namespace, store: LabStore) -> int:
    owner = parse_owner(args.owner)
    type_ = _parse_type(args.type)
    assert type_ is not None
    row = store.avp_add(owner, args.attribute, type_, args.value, table=args.table)
    print(f"avp add - attribute added: {_describe(row)}")
    warning = uuid_warning(args.owner, owner)
    if warning:
        print(warning, file=sys.stderr)
    return 0


def _filter_note(args: argparse.Namespace, owner: Owner | None) -> None:
    if owner is not None and not owner.is_aor and "@" in args.owner:
        print(f"note: {args.owner!r} has no dot in its domain, so -u matches the uuid column "
              "(as opensipsctl does)", file=sys.stderr)


def _list(args: argparse.Namespace, store: LabStore) -> int:
    owner = _parse_owner(args.owner)
    type_ = _parse_type(args.type)
    _filter_note(args, owner)
    rows = store.avp_list(table=args.table, owner=owner, attribute=args.attribute,
                          value=args.value, type_=type_)
    sys.stdout.write(format_table(rows))
    return 0


def _rm(args: argparse.Namespace, store: LabStore) -> int:
    owner = _parse_owner(args.owner)
    type_ = _parse_type(args.type)
    _filter_note(args, owner)
    if owner is None and args.attribute is None and args.value is None and type_ is None \
            and not args.all:
        raise ValueError(f"refusing to remove every AVP of {args.table} without a filter "
                         "(-u, -a, -v or -t); add --all to empty the table")
    count = store.avp_rm(table=args.table, owner=owner, attribute=args.attribute,
                         value=args.value, type_=type_, all_rows=args.all)
    print(f"avp rm - {count} AVP(s) deleted")
    return 0


def _describe(row: AvpRow) -> str:
    who = f"{row.username}@{row.domain}" if not row.uuid else f"uuid={row.uuid}"
    return (f"id {row.id}, {who}, {row.attribute}={row.value!r} "
            f"(type {row.type}, {TYPE_LABELS.get(row.type, '?')})")


def format_table(rows: Sequence[AvpRow]) -> str:
    """Rows as a mysql-client style box, the way ``opensipsctl avp list`` shows them."""
    if not rows:
        return "Empty set\n"
    cells = [[str(getattr(r, c)) for c in COLUMNS] for r in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(COLUMNS)]
    sep = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def fmt(values: Sequence[str], header: bool) -> str:
        parts = [v.rjust(w) if (c in _NUMERIC and not header) else v.ljust(w)
                 for v, w, c in zip(values, widths, COLUMNS, strict=True)]
        return "| " + " | ".join(parts) + " |"

    lines = [sep, fmt(COLUMNS, True), sep, *(fmt(line, False) for line in cells), sep]
    return "\n".join(lines) + "\n"

