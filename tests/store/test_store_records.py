"""Pure rules of labpbx.store.records: opensipsctl's owner rule, AVP type flags, WHERE clauses."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labpbx.store.records import (
    AvpRow,
    LocationRow,
    Owner,
    SubscriberRow,
    filter_avps,
    int_to_db_text,
    is_aor,
    make_type,
    name_is_int,
    parse_owner,
    select_avps,
    str2int,
    typed_name,
    typed_value,
    validate_avp,
    validate_table_name,
    value_is_int,
)


class TestParseOwner:
    """SEMANTICS.md §1.3: an AoR only if it matches ^USERNAME_RE@.*\\..* (a dot after the @)."""

    @pytest.mark.parametrize(("text", "expected"), [
        ("1004@127.0.0.1", ("", "1004", "127.0.0.1")),
        ("1004@192.168.1.10", ("", "1004", "192.168.1.10")),
        ("1004@example.com", ("", "1004", "example.com")),
        ("1004@localhost", ("1004@localhost", "", "")),
        ("1004", ("1004", "", "")),
        ("some-uuid-42", ("some-uuid-42", "", "")),
        ("@example.com", ("@example.com", "", "")),  # USERNAME_RE needs one char at least
        ("a b@x.y", ("a b@x.y", "", "")),  # a blank is not in USERNAME_RE
        ("alice.smith@x.y", ("", "alice.smith", "x.y")),
        ("+4930123@x.y", ("", "+4930123", "x.y")),
        ("a@x.", ("", "a", "x.")),  # egrep only wants a dot somewhere after the @
        ("a@b@c.d", ("", "a", "b")),  # awk -F@: field 1 and field 2
        ("1004@localhost.", ("", "1004", "localhost.")),
        ("a\\b@x.y", ("", "a\\b", "x.y")),  # the backslashes of the shell string stay in the class
    ])
    def test_table(self, text: str, expected: tuple[str, str, str]) -> None:
        owner = parse_owner(text)
        assert tuple(owner) == expected
        assert owner.is_aor == (expected[0] == "")

    @pytest.mark.parametrize("text", ["", "a\nb@x.y", "tab\t@x.y"])
    def test_rejects_empty_and_control_characters(self, text: str) -> None:
        with pytest.raises(ValueError):
            parse_owner(text)

    def test_aor_with_empty_domain_field_is_refused(self) -> None:
        # "a@@x.y" matches is_aor but awk's field 2 is empty: opensipsctl says "domain unknown"
        assert is_aor("a@@x.y")
        with pytest.raises(ValueError, match="domain unknown"):
            parse_owner("a@@x.y")

    def test_too_long(self) -> None:
        with pytest.raises(ValueError):
            parse_owner("u" * 65)
        with pytest.raises(ValueError):
            parse_owner("u@" + "d." * 40)

    @pytest.mark.skipif(shutil.which("sh") is None or shutil.which("grep") is None,
                        reason="needs sh and grep")
    @pytest.mark.parametrize("text", [
        "1004@127.0.0.1", "1004@localhost", "a\\b@x.y", "a@@x.y", "a b@x.y", "@x.y", "a@b@c.d",
        "a@x.", "x%y@a.b", "a:b@c.d", "[a]@b.c", "a#b@c.d", "it's@a.b", "(x)@a.b", "a|b@c.d",
        "ä@b.c", "a$b@c.d", "~!*@a.b", "nodot", "",
    ])
    def test_is_aor_agrees_with_opensipsctl_egrep(self, text: str) -> None:
        """Run opensipsctl's own USERNAME_RE line and is_aor() through sh + grep -E."""
        script = (
            "USERNAME_RE=\"[-a-zA-Z0-9&=\\+\\$,;\\?/_\\.\\!~\\*'\\(\\)]+\"\n"
            'printf "%s\\n" "$1" | grep -E "^$USERNAME_RE@.*\\..*" >/dev/null\n'
        )
        proc = subprocess.run(["sh", "-c", script, "sh", text], check=False,
                              env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"})
        assert is_aor(text) == (proc.returncode == 0)

    @given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1,
                   max_size=40))
    def test_property_split(self, text: str) -> None:
        try:
            owner = parse_owner(text)
        except ValueError:
            return
        if owner.is_aor:
            assert text.startswith(f"{owner.username}@{owner.domain}")
            assert owner.domain and "@" not in owner.username
        else:
            assert owner == Owner(text, "", "")


class TestTypeFlags:
    """OS avpops_impl.h: AVPOPS_DB_VAL_INT = 1 << 0, AVPOPS_DB_NAME_INT = 1 << 1."""

    @pytest.mark.parametrize(("type_", "val_int", "name_int"), [
        (0, False, False), (1, True, False), (2, False, True), (3, True, True),
    ])
    def test_bits(self, type_: int, val_int: bool, name_int: bool) -> None:
        assert value_is_int(type_) is val_int
        assert name_is_int(type_) is name_int
        assert make_type(name_int=name_int, value_int=val_int) == type_

    @pytest.mark.parametrize(("text", "expected"), [
        ("0", 0), ("42", 42), ("007", 7), ("2147483647", 2147483647),
        ("2147483648", -2147483648), ("4294967295", -1), ("4294967296", 0),  # (int)uint wraps
        ("", None), ("-1", None), ("+1", None), (" 1", None), ("1 ", None), ("1a", None),
        ("0x10", None), ("\u0661", None),  # only ASCII digits (not ARABIC-INDIC ONE)
    ])
    def test_str2int_is_opensips(self, text: str, expected: int | None) -> None:
        assert str2int(text) == expected

    @given(st.integers(min_value=-(2**31), max_value=2**31 - 1))
    def test_int_round_trip(self, n: int) -> None:
        assert str2int(int_to_db_text(n)) == n

    def test_typed_value_and_name(self) -> None:
        assert typed_value(0, "sip:a@b") == "sip:a@b"
        assert typed_value(0, "12") == "12"
        assert typed_value(1, "12") == 12
        assert typed_value(1, "sip:a@b") is None  # such a row is skipped by loads
        assert typed_value(3, "-5") is None
        assert typed_name(0, "callfwd") == "callfwd"
        assert typed_name(2, "17") == 17
        assert typed_name(2, "callfwd") is None

    @pytest.mark.parametrize(("attribute", "type_", "value", "message"), [
        ("callfwd", 4, "x", "invalid AVP type"),
        ("callfwd", -1, "x", "invalid AVP type"),
        ("", 0, "x", "must not be empty"),
        ("a" * 33, 0, "x", "longer than 32"),
        ("callfwd", 0, "v" * 129, "longer than 128"),
        ("callfwd", 1, "sip:x@y", "is not a non-negative integer"),
        ("callfwd", 1, "-3", "is not a non-negative integer"),
        ("callfwd", 1, "4294967296", "does not fit"),
        ("callfwd", 2, "x", "name is an integer"),
        ("call\nfwd", 0, "x", "control characters"),
    ])
    def test_validate_rejects(self, attribute: str, type_: int, value: str, message: str) -> None:
        with pytest.raises(ValueError, match=message):
            validate_avp(attribute, type_, value)

    def test_validate_accepts(self) -> None:
        validate_avp("a" * 32, 0, "v" * 128)
        validate_avp("callfwd", 1, "4294967295")
        validate_avp("17", 3, "5")
        validate_avp("callfwd", 0, "")

    @pytest.mark.parametrize("name", ["usr_preferences", "_t", "T1", "a" * 64])
    def test_table_names_ok(self, name: str) -> None:
        assert validate_table_name(name) == name

    @pytest.mark.parametrize("name", ["", "1abc", "a-b", "a b", "a;drop", "a" * 65, "é"])
    def test_table_names_bad(self, name: str) -> None:
        with pytest.raises(ValueError):
            validate_table_name(name)


def _row(id_: int, *, uuid: str = "", username: str = "", domain: str = "",
         attribute: str = "callfwd", type_: int = 0, value: str = "v") -> AvpRow:
    return AvpRow(id_, uuid, username, domain, attribute, type_, value, "2024-01-01T00:00:00")


ROWS = [
    _row(5, username="1004", domain="127.0.0.1", value="sip:late@x"),
    _row(1, username="1004", domain="127.0.0.1", value="sip:a@x"),
    _row(2, username="1004", domain="10.0.0.1", value="sip:b@x"),
    _row(3, username="1004", domain="127.0.0.1", attribute="other"),
    _row(4, uuid="1004@localhost", value="sip:u@x"),
    _row(6, username="1005", domain="127.0.0.1"),
]


class TestSelectAvps:
    """The WHERE clause of avp_db_load (SEMANTICS.md §1.1)."""

    def test_username_only_by_default(self) -> None:
        ids = [r.id for r in select_avps(ROWS, username="1004", attribute="callfwd")]
        assert ids == [1, 2, 5]  # every domain (use_domain=0), ascending id

    def test_domain_when_given(self) -> None:
        ids = [r.id for r in select_avps(ROWS, username="1004", domain="127.0.0.1",
                                         attribute="callfwd")]
        assert ids == [1, 5]

    def test_all_attributes(self) -> None:
        assert [r.id for r in select_avps(ROWS, username="1004", domain="127.0.0.1")] == [1, 3, 5]

    def test_uuid_column(self) -> None:
        assert [r.id for r in select_avps(ROWS, uuid="1004@localhost")] == [4]
        # a uuid row is never found by the username of $ru
        assert all(r.uuid == "" for r in select_avps(ROWS, username="1004"))

    def test_needs_exactly_one_key(self) -> None:
        with pytest.raises(ValueError):
            select_avps(ROWS)
        with pytest.raises(ValueError):
            select_avps(ROWS, username="1004", uuid="x")


class TestFilterAvps:
    """The WHERE clause of opensipsctl avp list / rm."""

    def test_aor_matches_username_and_domain(self) -> None:
        owner = parse_owner("1004@127.0.0.1")
        assert [r.id for r in filter_avps(ROWS, owner=owner)] == [1, 3, 5]

    def test_uuid_owner(self) -> None:
        assert [r.id for r in filter_avps(ROWS, owner=parse_owner("1004@localhost"))] == [4]

    def test_and_of_filters(self) -> None:
        assert [r.id for r in filter_avps(ROWS, attribute="callfwd", value="sip:b@x")] == [2]
        assert [r.id for r in filter_avps(ROWS, type_=1)] == []
        assert [r.id for r in filter_avps(ROWS)] == [1, 2, 3, 4, 5, 6]


class TestRecordDicts:
    def test_avp_round_trip(self) -> None:
        row = _row(7, username="1004", domain="127.0.0.1", type_=1, value="5")
        assert AvpRow.from_dict(row.to_dict(), doc_id=7) == row
        assert AvpRow.from_dict({**row.to_dict(), "id": 7}) == row
        assert "id" not in row.to_dict()
        assert row.typed_value == 5 and row.loadable

    @pytest.mark.parametrize("doc", [
        {"attribute": 5}, {"username": "x"}, {"attribute": "a", "type": "0"},
        {"attribute": "a", "type": True}, {"attribute": "a", "value": None},
    ])
    def test_avp_bad_documents(self, doc: dict[str, object]) -> None:
        with pytest.raises(ValueError):
            AvpRow.from_dict(doc, doc_id=1)

    def test_location_round_trip(self) -> None:
        b = LocationRow("1004", "127.0.0.1", "sip:1004@127.0.0.1:5062", received="",
                        expires_at=1700000000.5, q=1.0, callid="c1", cseq=3,
                        user_agent="pjsua", socket="udp:127.0.0.1:5060", last_modified="t")
        assert LocationRow.from_dict(b.to_dict()) == b
        assert LocationRow.from_dict({"username": "u", "contact": "sip:u@h", "expires_at": 5}) \
            .expires_at == 5.0
        with pytest.raises(ValueError):
            LocationRow.from_dict({"username": "u", "contact": "c", "expires_at": "soon"})
        with pytest.raises(ValueError):
            LocationRow.from_dict({"username": "u", "contact": "c", "expires_at": float("nan")})

    def test_subscriber_round_trip(self) -> None:
        s = SubscriberRow("1004", "127.0.0.1", "secret")
        assert SubscriberRow.from_dict(s.to_dict()) == s
        s2 = SubscriberRow("1004", "127.0.0.1", "secret", "a@b.c")
        assert SubscriberRow.from_dict(s2.to_dict()) == s2
        with pytest.raises(ValueError):
            SubscriberRow.from_dict({"username": "u", "email_address": 3})
