"""Registrar and location (RFC 3261 §10.3, OpenSIPS registrar/usrloc return codes), manual clock."""

from __future__ import annotations

import pytest

from labpbx.proxy.registrar import Location, contact_header_values
from labpbx.sip.message import Request

SRC = ("127.0.0.1", 5070)


def register(user: str, contacts: list[str], *, expires: int | None = None, call_id: str = "c1",
             cseq: int = 1) -> Request:
    req = Request("REGISTER", "sip:127.0.0.1")
    h = req.headers
    h.add("Via", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKr")
    h.add("From", f"<sip:{user}@127.0.0.1>;tag=a")
    h.add("To", f"<sip:{user}@127.0.0.1>")
    h.add("Call-ID", call_id)
    h.add("CSeq", f"{cseq} REGISTER")
    for c in contacts:
        h.add("Contact", c)
    if expires is not None:
        h.add("Expires", str(expires))
    return req


class TestSave:
    def test_binding_and_lookup(self) -> None:
        loc = Location()
        result = loc.save(register("1001", ["<sip:1001@127.0.0.1:5070>"]), SRC, now=0)
        assert (result.status, len(result.bindings)) == (200, 1)
        assert loc.lookup("sip:1001@127.0.0.1:15060", "INVITE", now=1)[0] == 1

    @pytest.mark.parametrize(("contact", "header", "expected"), [
        ("<sip:a@127.0.0.1:1>", None, 3600),          # default_expires
        ("<sip:a@127.0.0.1:1>", 120, 120),            # Expires header
        ("<sip:a@127.0.0.1:1>;expires=300", 120, 300),  # the Contact param wins
        ("<sip:a@127.0.0.1:1>", 5, 60),               # raised to min_expires
    ])
    def test_expiry(self, contact: str, header: int | None, expected: int) -> None:
        loc = Location()
        result = loc.save(register("a", [contact], expires=header), SRC, now=0)
        assert contact_header_values(result.bindings, 0) == [f"<sip:a@127.0.0.1:1>;expires={expected}"]

    def test_binding_expires_by_the_clock(self) -> None:
        loc = Location()
        loc.save(register("a", ["<sip:a@127.0.0.1:1>"], expires=60), SRC, now=0)
        assert loc.lookup("sip:a@x", "INVITE", now=59.9)[0] == 1
        assert loc.lookup("sip:a@x", "INVITE", now=60.1)[0] == -1

    def test_expires_zero_removes_and_star_removes_all(self) -> None:
        loc = Location()
        loc.save(register("a", ["<sip:a@127.0.0.1:1>", "<sip:a@127.0.0.1:2>"]), SRC, now=0)
        loc.save(register("a", ["<sip:a@127.0.0.1:1>;expires=0"], cseq=2), SRC, now=1)
        assert [b.contact for b in loc.bindings("a", 1)] == ["sip:a@127.0.0.1:2"]
        result = loc.save(register("a", ["*"], expires=0, cseq=3), SRC, now=2)
        assert result.status == 200 and loc.lookup("sip:a@x", "INVITE", now=2)[0] == -1

    def test_star_needs_expires_zero(self) -> None:
        assert Location().save(register("a", ["*"], expires=10), SRC, now=0).status == 400

    def test_out_of_order_cseq_is_refused(self) -> None:
        loc = Location()
        loc.save(register("a", ["<sip:a@127.0.0.1:1>"], cseq=5), SRC, now=0)
        assert loc.save(register("a", ["<sip:a@127.0.0.1:1>"], cseq=4), SRC, now=1).status == 500

    def test_query_without_contact_lists_bindings(self) -> None:
        loc = Location()
        loc.save(register("a", ["<sip:a@127.0.0.1:1>"]), SRC, now=0)
        result = loc.save(register("a", [], cseq=2), SRC, now=1)
        assert result.status == 200 and len(result.bindings) == 1 and not result.changed


class TestLookup:
    def test_return_codes(self) -> None:
        loc = Location()
        assert loc.lookup("sip:nobody@x", "INVITE", now=0)[0] == -1
        assert loc.lookup("sip:x", "INVITE", now=0)[0] == -3  # no user part
        loc.save(register("m", ["<sip:m@127.0.0.1:1>;methods=\"MESSAGE\""]), SRC, now=0)
        assert loc.lookup("sip:m@x", "INVITE", now=0)[0] == -2
        assert loc.lookup("sip:m@x", "MESSAGE", now=0)[0] == 1

    def test_q_orders_contacts(self) -> None:
        loc = Location()
        loc.save(register("a", ["<sip:a@127.0.0.1:1>;q=0.2", "<sip:a@127.0.0.1:2>;q=0.9"]), SRC, now=0)
        code, found = loc.lookup("sip:a@x", "INVITE", now=0)
        assert code == 1 and [b.contact for b in found] == ["sip:a@127.0.0.1:2", "sip:a@127.0.0.1:1"]

    def test_use_domain(self) -> None:
        loc = Location(use_domain=True)
        loc.save(register("a", ["<sip:a@127.0.0.1:1>"]), SRC, now=0)
        assert loc.lookup("sip:a@127.0.0.1", "INVITE", now=0)[0] == 1
        assert loc.lookup("sip:a@127.0.0.2", "INVITE", now=0)[0] == -1
