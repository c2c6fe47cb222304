"""SIP URIs and name-addr values (labpbx.sip.uri), grouped by RFC 3261 section.

Also RFC 4475 torture-test URIs (esc01, escnull, semiuri, intmeth, quotbal, baddn, badaspec …).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the package is not installed in every test venv
    sys.path.insert(0, str(ROOT))

from labpbx.errors import SipParseError  # noqa: E402
from labpbx.sip.message import NameAddr, SipURI, parse_name_addr, parse_uri  # noqa: E402
from labpbx.sip.uri import name_addr_param, split_name_addr  # noqa: E402

INTMETH_USER = "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
INTMETH_PASSWORD = "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"

# text, scheme, user, password, host, port, params, headers
VALID_URIS: list[tuple[str, str, str | None, str | None, str, int | None,
                        tuple[tuple[str, str | None], ...], str | None]] = [
    ("sip:alice@atlanta.com", "sip", "alice", None, "atlanta.com", None, (), None),
    ("sips:alice@atlanta.com:5061", "sips", "alice", None, "atlanta.com", 5061, (), None),
    ("SIP:alice@atlanta.com", "sip", "alice", None, "atlanta.com", None, (), None),
    ("sIpS:bob@Biloxi.COM", "sips", "bob", None, "Biloxi.COM", None, (), None),
    ("sip:alice:secretword@atlanta.com;transport=tcp", "sip", "alice", "secretword",
     "atlanta.com", None, (("transport", "tcp"),), None),
    ("sips:alice@atlanta.com?subject=project%20x&priority=urgent", "sips", "alice", None,
     "atlanta.com", None, (), "subject=project%20x&priority=urgent"),
    ("sip:+1-212-555-1212:1234@gateway.com;user=phone", "sip", "+1-212-555-1212", "1234",
     "gateway.com", None, (("user", "phone"),), None),
    ("sips:1212@gateway.com", "sips", "1212", None, "gateway.com", None, (), None),
    ("sip:alice@192.0.2.4", "sip", "alice", None, "192.0.2.4", None, (), None),
    ("sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com", "sip", None, None, "atlanta.com",
     None, (("method", "REGISTER"),), "to=alice%40atlanta.com"),
    ("sip:alice;day=tuesday@atlanta.com", "sip", "alice;day=tuesday", None, "atlanta.com", None,
     (), None),
    ("sip:%61lice@h", "sip", "%61lice", None, "h", None, (), None),
    ("sip:[2001:db8::10]", "sip", None, None, "[2001:db8::10]", None, (), None),
    ("sip:[2001:db8::10]:5070", "sip", None, None, "[2001:db8::10]", 5070, (), None),
    ("sip:user@[::1]:5060;transport=udp", "sip", "user", None, "[::1]", 5060,
     (("transport", "udp"),), None),
    ("sip:user@[::ffff:192.0.2.1]", "sip", "user", None, "[::ffff:192.0.2.1]", None, (), None),
    ("sip:proxy.example.com;lr", "sip", None, None, "proxy.example.com", None, (("lr", None),),
     None),
    ("sip:host;LR;Transport=UDP", "sip", None, None, "host", None,
     (("lr", None), ("transport", "UDP")), None),
    ("sip:host;maddr=[::1];ttl=15", "sip", None, None, "host", None,
     (("maddr", "[::1]"), ("ttl", "15")), None),
    ("sip:user:@host", "sip", "user", "", "host", None, (), None),
    ("sip:host:0", "sip", None, None, "host", 0, (), None),
    ("sip:host:65535", "sip", None, None, "host", 65535, (), None),
    ("sip:under_score.example.com", "sip", None, None, "under_score.example.com", None, (), None),
    ("  sip:alice@h  ", "sip", "alice", None, "h", None, (), None),
    # RFC 4475 3.1.1.3 esc01
    ("sip:sips%3Auser%40example.com@example.net", "sip", "sips%3Auser%40example.com", None,
     "example.net", None, (), None),
    ("sip:%75se%72@example.com", "sip", "%75se%72", None, "example.com", None, (), None),
    ("sip:I%20have%20spaces@example.net", "sip", "I%20have%20spaces", None, "example.net", None,
     (), None),
    ("sip:cal%6Cer@192.168.0.2:5060;%6C%72;n%61me=v%61lue%25%34%31", "sip", "cal%6Cer", None,
     "192.168.0.2", 5060, (("%6c%72", None), ("n%61me", "v%61lue%25%34%31")), None),
    # RFC 4475 3.1.1.4 escnull
    ("sip:null-%00-null@example.com", "sip", "null-%00-null", None, "example.com", None, (), None),
    ("sip:%00%00@host5.example.com", "sip", "%00%00", None, "host5.example.com", None, (), None),
    # RFC 4475 3.1.1.9 semiuri
    ("sip:user;par=u%40example.net@example.com", "sip", "user;par=u%40example.net", None,
     "example.com", None, (), None),
    # RFC 4475 3.1.1.2 intmeth: every user/password character class
    (f"sip:{INTMETH_USER}:{INTMETH_PASSWORD}@example.com", "sip", INTMETH_USER, INTMETH_PASSWORD,
     "example.com", None, (), None),
    # RFC 4475 3.3.? regescrt: escaped Route header in a Contact URI
    ("sip:user@example.com?Route=%3Csip:sip.example.com%3E", "sip", "user", None, "example.com",
     None, (), "Route=%3Csip:sip.example.com%3E"),
]

INVALID_URIS: list[tuple[str, int]] = [
    ("tel:+1-212-555-1212", 416),
    ("mailto:alice@example.com", 416),
    ("urn:service:sos", 416),
    ("http://example.com/", 416),
    ("nobodyKnowsThisScheme:totallyopaquecontent", 416),  # RFC 4475 unkscm
    ("isbn:2983792873", 416),  # RFC 4475 novelsc
    ("alice@atlanta.com", 400),
    ("", 400),
    ("sip", 400),
    (":alice@h", 400),
    ("1sip:x", 400),
    ("<sip:alice@h>", 400),
    ("sip:", 400),
    ("sip:@host", 400),
    ("sip:alice@", 400),
    ("sip:alice@host:", 400),
    ("sip:alice@host:65536", 400),
    ("sip:alice@host:50a", 400),
    ("sip:alice@host:-1", 400),
    ("sip:alice@host:123456", 400),
    ("sip:alice@host:5060:1", 400),
    ("sip:a b@host", 400),
    ("sip:alice@ho st", 400),
    ("sip:alice@host@x", 400),
    ("sip:alice@[::1", 400),
    ("sip:alice@[::g]", 400),
    ("sip:alice@[192.0.2.1]", 400),
    ("sip:alice@[::1]x", 400),
    ("sip:%6@host", 400),
    ("sip:%zz@host", 400),
    ("sip:a%@host", 400),
    ("sip:al<ice@host", 400),
    ("sip:al#ice@host", 400),
    ("sip:alice:p@ss@host", 400),
    ("sip:alice:p:w@host", 400),
    ("sip:host;;lr", 400),
    ("sip:host;", 400),
    ("sip:host;=x", 400),
    ("sip:host;x=", 400),
    ("sip:host;a=b c", 400),
    ('sip:host;x="q"', 400),
    ("sip:host;x=%g1", 400),
    ("sip:host?", 400),
    ("sip:host?a=<b>", 400),
    ("sip:host name", 400),
    ("sip:h\u00e9st", 400),
]


def _fields(uri: SipURI) -> tuple[object, ...]:
    return (uri.scheme, uri.user, uri.password, uri.host, uri.port, uri.params, uri.headers)


class Test19_1_1_SipUriComponents:
    """RFC 3261 §19.1.1 / §25.1: scheme, userinfo (escapes kept), host, port, params, headers."""

    @pytest.mark.parametrize(("text", "scheme", "user", "password", "host", "port", "params",
                              "headers"), VALID_URIS, ids=[row[0].strip() for row in VALID_URIS])
    def test_parse_valid(self, text: str, scheme: str, user: str | None, password: str | None,
                         host: str, port: int | None,
                         params: tuple[tuple[str, str | None], ...], headers: str | None) -> None:
        assert _fields(parse_uri(text)) == (scheme, user, password, host, port, params, headers)

    @pytest.mark.parametrize(("text", "status"), INVALID_URIS, ids=[row[0] for row in INVALID_URIS])
    def test_parse_invalid(self, text: str, status: int) -> None:
        with pytest.raises(SipParseError) as info:
            parse_uri(text)
        assert info.value.status_hint == status

    def test_sips_and_sip_are_distinct(self) -> None:
        assert parse_uri("sips:a@b") != parse_uri("sip:a@b")


class Test19_1_1_SipUriSerialization:
    """`str()` is canonical and parses back to an equal URI."""

    @pytest.mark.parametrize("text", [row[0] for row in VALID_URIS])
    def test_round_trip(self, text: str) -> None:
        uri = parse_uri(text)
        assert parse_uri(str(uri)) == uri

    @pytest.mark.parametrize("text", [
        "sip:alice@atlanta.com",
        "sips:alice:pw@atlanta.com:5061;transport=tls;lr?subject=x",
        "sip:[2001:db8::1]:5070;maddr=[::1]",
        "sip:%61lice@h",
        "sip:user;par=u%40example.net@example.com",
        "sip:host;lr",
    ])
    def test_canonical_text_is_unchanged(self, text: str) -> None:
        assert str(parse_uri(text)) == text

    @pytest.mark.parametrize(("text", "expected"), [
        ("SIP:alice@h", "sip:alice@h"),
        ("sip:h;LR", "sip:h;lr"),
        ("sip:h:05060", "sip:h:5060"),
        (" sip:h ", "sip:h"),
    ])
    def test_normalised_parts(self, text: str, expected: str) -> None:
        assert str(parse_uri(text)) == expected


class Test19_1_4_UriAccessors:
    """Accessors and copy-with helpers (comparison rules of §19.1.4 are the caller's business)."""

    URI = parse_uri("sip:alice:pw@atlanta.com:5070;transport=udp;lr;Maddr=10.0.0.1?subject=x")

    @pytest.mark.parametrize(("name", "value"), [
        ("transport", "udp"), ("TRANSPORT", "udp"), ("lr", ""), ("maddr", "10.0.0.1"),
        ("ttl", None), ("", None),
    ])
    def test_param(self, name: str, value: str | None) -> None:
        assert self.URI.param(name) == value
        assert self.URI.has_param(name) is (value is not None)

    @pytest.mark.parametrize(("text", "host_port"), [
        ("sip:a@h", "h"), ("sip:a@h:5060", "h:5060"), ("sip:[::1]:7", "[::1]:7"),
        ("sip:[::1]", "[::1]"),
    ])
    def test_host_port(self, text: str, host_port: str) -> None:
        assert parse_uri(text).host_port == host_port

    def test_with_user(self) -> None:
        assert str(self.URI.with_user("bob")) == \
            "sip:bob:pw@atlanta.com:5070;transport=udp;lr;maddr=10.0.0.1?subject=x"
        assert str(self.URI.with_user(None)) == \
            "sip:atlanta.com:5070;transport=udp;lr;maddr=10.0.0.1?subject=x"
        assert str(parse_uri("sip:h").with_user("b1004")) == "sip:b1004@h"

    @pytest.mark.parametrize(("host", "port", "expected"), [
        ("ms.example", 5080,
         "sip:alice:pw@ms.example:5080;transport=udp;lr;maddr=10.0.0.1?subject=x"),
        ("[::1]", None, "sip:alice:pw@[::1];transport=udp;lr;maddr=10.0.0.1?subject=x"),
    ])
    def test_with_host_port(self, host: str, port: int | None, expected: str) -> None:
        assert str(self.URI.with_host_port(host, port)) == expected

    def test_with_params_lowercases_names(self) -> None:
        uri = self.URI.with_params((("LR", None), ("user", "phone")))
        assert uri.params == (("lr", None), ("user", "phone"))
        assert str(uri) == "sip:alice:pw@atlanta.com:5070;lr;user=phone?subject=x"

    def test_frozen_and_hashable(self) -> None:
        with pytest.raises(dataclasses.FrozenInstanceError):
            self.URI.host = "x"  # type: ignore[misc]
        assert len({parse_uri("sip:a@b"), parse_uri("sip:a@b")}) == 1

    def test_keyword_construction(self) -> None:
        uri = SipURI("sip", "alice", None, "h", port=5062, params=(("lr", None),))
        assert str(uri) == "sip:alice@h:5062;lr"


# text, display name, uri, header params, bracketed
NAME_ADDRS: list[tuple[str, str | None, str, tuple[tuple[str, str | None], ...], bool]] = [
    ('"Bob" <sip:bob@biloxi.com>;tag=a6c85cf', "Bob", "sip:bob@biloxi.com", (("tag", "a6c85cf"),),
     True),
    ("Bob <sip:bob@biloxi.com>", "Bob", "sip:bob@biloxi.com", (), True),
    ("Bob  Smith\t<sip:x@y>", "Bob  Smith", "sip:x@y", (), True),
    ("<sip:bob@biloxi.com>", None, "sip:bob@biloxi.com", (), True),
    ("sip:bob@biloxi.com;tag=1", None, "sip:bob@biloxi.com", (("tag", "1"),), False),
    ("sip:bob@biloxi.com", None, "sip:bob@biloxi.com", (), False),
    ("<sip:bob@biloxi.com;transport=tcp>;tag=1", None, "sip:bob@biloxi.com;transport=tcp",
     (("tag", "1"),), True),
    # §20: after an addr-spec the params belong to the header, not to the URI
    ("sip:bob@biloxi.com;transport=tcp;tag=9", None, "sip:bob@biloxi.com",
     (("transport", "tcp"), ("tag", "9")), False),
    ('"" <sip:x@y>', "", "sip:x@y", (), True),
    ('"a<b>, c" <sip:x@y>', "a<b>, c", "sip:x@y", (), True),
    ('"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =  newvalue ;  secondparam ; '
     "q = 0.33", 'Quoted string ""', "sip:jdrosen@example.com",
     (("newparam", "newvalue"), ("secondparam", None), ("q", "0.33")), True),
    ('"J Rosenberg \\\\\\""       <sip:jdrosen@example.com> ; tag = 98asjd8',
     'J Rosenberg \\"', "sip:jdrosen@example.com", (("tag", "98asjd8"),), True),
    ("sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n", None,
     "sip:vivekg@chair-dnrc.example.com", (("tag", "1918181833n"),), False),
    ("caller<sip:caller@example.com>;tag=323", "caller", "sip:caller@example.com",
     (("tag", "323"),), True),  # RFC 4475 lwsdisp
    ('"%Z%45" <sip:resource@example.com>', "%Z%45", "sip:resource@example.com", (), True),
    ('"Watson, Thomas" < sip:t.watson@example.org >', "Watson, Thomas", "sip:t.watson@example.org",
     (), True),  # RFC 4475 badaspec: we are liberal and ignore the spaces
    ("<sip:x@[::1]:5070>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\"",
     None, "sip:x@[::1]:5070",
     (("+sip.instance", '"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"'),), True),
    ("<sip:x@y>;expires=3600;Q=0.5", None, "sip:x@y", (("expires", "3600"), ("q", "0.5")), True),
    ('<sip:x@y>;p="a;b,c"', None, "sip:x@y", (("p", '"a;b,c"'),), True),
    ("token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%="
     '"\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439";tag=_token~1\'+`*%!-.',
     "token1~` token2'+_ token3*%!.-", "sip:mundane@example.com",
     (("fromparam''~+*_!.-%", '"\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439"'),
      ("tag", "_token~1'+`*%!-.")), True),  # RFC 4475 intmeth From
    ("<sip:user@example.com?Route=%3Csip:sip.example.com%3E>", None,
     "sip:user@example.com?Route=%3Csip:sip.example.com%3E", (), True),  # RFC 4475 regescrt
]

INVALID_NAME_ADDRS: list[tuple[str, int]] = [
    ("*", 400),
    ("", 400),
    ("   ", 400),
    ('"Mr. J. User <sip:j.user@example.com>', 400),  # RFC 4475 quotbal
    ("Bell, Alexander <sip:a.g.bell@example.com>;tag=43", 400),  # RFC 4475 baddn
    ("<sip:x@y", 400),
    ("<sip:x@y> junk", 400),
    ('"Bob" sip:x@y', 400),
    ('"Bob" junk <sip:x@y>', 400),
    ("<sip:x@y>;;tag=1", 400),
    ("<sip:x@y>;tag=a b", 400),
    ('<sip:x@y>;tag="open', 400),
    ('<sip:x@y>;tag="a"b', 400),
    ("<sip:x@y>;=1", 400),
    ("<>", 400),
    ("<tel:+12125551212>", 416),
    ("tel:+12125551212;tag=1", 416),
    ("isbn:2983792873", 416),
]


class Test20_10_NameAddr:
    """RFC 3261 §20.10 / §20.20 / §20.39 / §25.1 name-addr and addr-spec."""

    @pytest.mark.parametrize(("text", "display", "uri", "params", "bracketed"), NAME_ADDRS,
                             ids=[f"na{i}" for i in range(len(NAME_ADDRS))])
    def test_parse_valid(self, text: str, display: str | None, uri: str,
                         params: tuple[tuple[str, str | None], ...], bracketed: bool) -> None:
        value = parse_name_addr(text)
        assert (value.display_name, str(value.uri), value.params, value.bracketed) == \
            (display, uri, params, bracketed)

    @pytest.mark.parametrize(("text", "status"), INVALID_NAME_ADDRS,
                             ids=[f"bad{i}" for i in range(len(INVALID_NAME_ADDRS))])
    def test_parse_invalid(self, text: str, status: int) -> None:
        with pytest.raises(SipParseError) as info:
            parse_name_addr(text)
        assert info.value.status_hint == status

    @pytest.mark.parametrize("text", [row[0] for row in NAME_ADDRS])
    def test_round_trip_through_str(self, text: str) -> None:
        value = parse_name_addr(text)
        again = parse_name_addr(str(value))
        assert again == dataclasses.replace(value, bracketed=True)

    @pytest.mark.parametrize(("text", "expected"), [
        ("sip:bob@biloxi.com;tag=1", "<sip:bob@biloxi.com>;tag=1"),
        ("Bob <sip:bob@biloxi.com>", '"Bob" <sip:bob@biloxi.com>'),
        ('"J \\"R\\" \\\\" <sip:j@x>', '"J \\"R\\" \\\\" <sip:j@x>'),
        ("<sip:x@y> ;  lr ; Q = 1", "<sip:x@y>;lr;q=1"),
    ])
    def test_str_always_uses_angle_brackets(self, text: str, expected: str) -> None:
        assert str(parse_name_addr(text)) == expected


class Test20_10_NameAddrParams:
    """Header parameters of a name-addr: tag (§19.3), expires, q …"""

    @pytest.mark.parametrize(("text", "tag"), [
        ("<sip:a@b>;tag=xyz", "xyz"),
        ("<sip:a@b;tag=in-uri>", None),
        ("sip:a@b;tag=addr-spec", "addr-spec"),
        ("<sip:a@b>;TAG=Upper", "Upper"),
        ("<sip:a@b>;tag", ""),
        ("<sip:a@b>", None),
    ])
    def test_tag(self, text: str, tag: str | None) -> None:
        assert parse_name_addr(text).tag == tag
        assert name_addr_param(text, "tag") == tag

    def test_with_param_replaces_then_appends(self) -> None:
        value = parse_name_addr("<sip:a@b>;tag=1;expires=60")
        assert str(value.with_param("tag", "2")) == "<sip:a@b>;tag=2;expires=60"
        assert str(value.with_param("Q", "0.5")) == "<sip:a@b>;tag=1;expires=60;q=0.5"
        assert str(value.with_param("lr", None)) == "<sip:a@b>;tag=1;expires=60;lr"
        assert value.param("expires") == "60"
        assert value.param("q") is None

    def test_name_addr_param_ignores_the_uri_scheme(self) -> None:
        assert name_addr_param("<tel:+1234>;tag=x", "tag") == "x"
        assert name_addr_param("isbn:2983792873", "tag") is None

    @pytest.mark.parametrize(("text", "parts"), [
        ('"A" <sip:a@b>;tag=1', ("A", "sip:a@b", ";tag=1", True)),
        ("sip:a@b;tag=1", (None, "sip:a@b", ";tag=1", False)),
        ("urn:x:y", (None, "urn:x:y", "", False)),
    ])
    def test_split_name_addr(self, text: str, parts: tuple[object, ...]) -> None:
        assert split_name_addr(text) == parts

    def test_constructed_value(self) -> None:
        value = NameAddr("Alice", parse_uri("sip:alice@a.example"), (("tag", "t1"),))
        assert str(value) == '"Alice" <sip:alice@a.example>;tag=t1'
        assert value.bracketed
