"""SIP header fields: canonical names, `Headers`, comma lists and `Via` (RFC 3261 §7.3, §20).

Rules of this module
- Names are stored canonically (compact forms expanded, usual capitalisation, unknown names as
  received); every lookup is case-insensitive and accepts compact names.
- Values are plain strings kept as received. Nothing is parsed until a caller asks (`split_values`,
  `parse_via`), because a proxy only looks at a handful of headers of each message.
- `Headers` refuses names that are not tokens and values containing CR, LF or NUL
  (`LocalProtocolError`): such a value would inject header lines when serialized.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from labpbx.errors import LocalProtocolError, SipParseError
from labpbx.sip.uri import (
    DEFAULT_PORT,
    Params,
    find_param,
    format_params,
    is_token,
    parse_host_port,
    parse_params,
    replace_param,
)

_KNOWN_NAMES = (
    "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Accept-Resource-Priority",
    "Alert-Info", "Allow", "Allow-Events", "Answer-Mode", "Authentication-Info", "Authorization",
    "Call-ID", "Call-Info", "Contact", "Content-Disposition", "Content-Encoding", "Content-ID",
    "Content-Language", "Content-Length", "Content-Type", "CSeq", "Date", "Diversion", "Error-Info",
    "Event", "Expires", "Flow-Timer", "From", "History-Info", "Identity", "Identity-Info",
    "In-Reply-To", "Join", "Max-Breadth", "Max-Forwards", "MIME-Version", "Min-Expires", "Min-SE",
    "Organization", "P-Access-Network-Info", "P-Asserted-Identity", "P-Associated-URI",
    "P-Called-Party-ID", "P-Charging-Vector", "P-Preferred-Identity", "P-Visited-Network-ID",
    "Path", "Priority", "Privacy", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require",
    "RAck", "Reason", "Record-Route", "Refer-Sub", "Refer-To", "Referred-By", "Reject-Contact",
    "Remote-Party-ID", "Replaces", "Reply-To", "Request-Disposition", "Require",
    "Resource-Priority", "Retry-After", "Route", "RSeq", "Security-Client", "Security-Server",
    "Security-Verify", "Server", "Service-Route", "Session-Expires", "SIP-ETag", "SIP-If-Match",
    "Subject", "Subscription-State", "Supported", "Target-Dialog", "Timestamp", "To", "Unsupported",
    "User-Agent", "Via", "Warning", "WWW-Authenticate",
)

#: RFC 3261 §7.3.3 and later RFCs: compact form → full name.
COMPACT_FORMS: dict[str, str] = {
    "i": "Call-ID", "m": "Contact", "e": "Content-Encoding", "l": "Content-Length",
    "c": "Content-Type", "f": "From", "s": "Subject", "k": "Supported", "t": "To", "v": "Via",
    "o": "Event", "u": "Allow-Events", "r": "Refer-To", "b": "Referred-By", "x": "Session-Expires",
    "y": "Identity", "a": "Accept-Contact", "j": "Reject-Contact", "d": "Request-Disposition",
}

_CANONICAL: dict[str, str] = {name.lower(): name for name in _KNOWN_NAMES} | COMPACT_FORMS

#: Canonical names whose values may be comma-separated lists (§7.3.1).
MULTI_VALUE_HEADERS: frozenset[str] = frozenset({
    "Via", "Route", "Record-Route", "Contact", "Allow", "Supported", "Require", "Proxy-Require",
    "Unsupported", "Accept", "Accept-Encoding", "Accept-Language", "Allow-Events", "In-Reply-To",
    "Content-Encoding", "Content-Language", "Path", "Diversion", "Service-Route", "Alert-Info",
    "Call-Info", "Error-Info", "Warning", "Reason", "Accept-Contact", "Reject-Contact",
    "Request-Disposition", "Security-Client", "Security-Server", "Security-Verify",
    "P-Asserted-Identity", "P-Preferred-Identity", "P-Associated-URI", "History-Info",
    "Accept-Resource-Priority", "Resource-Priority",
})
_MULTI_KEYS = frozenset(name.lower() for name in MULTI_VALUE_HEADERS)

# raw spelling → (canonical name, lookup key); bounded so that garbage cannot grow it forever
NAME_CACHE: dict[str, tuple[str, str]] = {}
NAME_CACHE_LIMIT = 2048


def canonical_name(name: str) -> str:
    """Compact form → full name, known names → usual capitalisation, unknown names unchanged."""
    return _CANONICAL.get(name.lower(), name)


def resolve_name(raw: str) -> tuple[str, str] | None:
    """(canonical name, lower-case lookup key) for a header name, None when it is not a token."""
    resolved = NAME_CACHE.get(raw)
    if resolved is None:
        if not is_token(raw):
            return None
        canonical = canonical_name(raw)
        resolved = (canonical, canonical.lower())
        if len(NAME_CACHE) < NAME_CACHE_LIMIT:
            NAME_CACHE[raw] = resolved
    return resolved


def _checked_name(name: str) -> tuple[str, str]:
    resolved = resolve_name(name)
    if resolved is None:
        raise LocalProtocolError(f"invalid header name {name!r}")
    return resolved


def _check_value(value: str) -> None:
    if "\r" in value or "\n" in value or "\x00" in value:
        raise LocalProtocolError(f"header value contains CR, LF or NUL: {value!r}")


# --- comma lists ---------------------------------------------------------------------------------


def _top_level_commas(value: str) -> list[int]:
    """Positions of the commas that separate list elements (not in quotes or <brackets>)."""
    if '"' not in value and "<" not in value:
        found: list[int] = []
        i = value.find(",")
        while i >= 0:
            found.append(i)
            i = value.find(",", i + 1)
        return found
    cuts: list[int] = []
    in_quotes, depth, i, n = False, 0, 0, len(value)
    while i < n:
        char = value[i]
        if in_quotes:
            if char == "\\":
                i += 1
            elif char == '"':
                in_quotes = False
        elif char == '"':
            in_quotes = True
        elif char == "<":
            depth += 1
        elif char == ">":
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0:
            cuts.append(i)
        i += 1
    return cuts


def split_values(value: str) -> list[str]:
    """Split a comma-separated header value into stripped, non-empty elements.

    Commas inside "quoted strings" and <angle brackets> do not split.
    """
    if "," not in value:
        value = value.strip(" \t")
        return [value] if value else []
    if '"' not in value and "<" not in value:
        return [s for s in (p.strip(" \t") for p in value.split(",")) if s]
    out: list[str] = []
    start = 0
    for cut in [*_top_level_commas(value), len(value)]:
        element = value[start:cut].strip(" \t")
        if element:
            out.append(element)
        start = cut + 1
    return out


def _split_first(value: str) -> tuple[str, str]:
    """(first element, the rest of the line as written) of a comma list; ("", "") when empty."""
    if "," not in value:
        return value.strip(" \t"), ""
    start = 0
    for cut in [*_top_level_commas(value), len(value)]:
        element = value[start:cut].strip(" \t")
        if element:
            return element, value[cut + 1 :].strip(" \t")
        start = cut + 1
    return "", ""


# --- Headers -------------------------------------------------------------------------------------


class Headers:
    """Ordered (canonical name, value) pairs; lookups ignore case and accept compact names."""

    __slots__ = ("_items", "_keys")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = []
        self._keys: list[str] = []
        for name, value in items:
            self.add(name, value)

    @classmethod
    def from_trusted(cls, items: list[tuple[str, str]], keys: list[str]) -> Headers:
        """Adopt lists the parser already canonicalised (keys: the lower-case canonical names)."""
        headers = cls.__new__(cls)
        headers._items = items
        headers._keys = keys
        return headers

    def get(self, name: str) -> str | None:
        """The first header line's value, whole; None when absent."""
        try:
            return self._items[self._keys.index(_key(name))][1]
        except ValueError:
            return None

    def get_all(self, name: str) -> list[str]:
        """Every value in order; comma lists of MULTI_VALUE_HEADERS are split into elements."""
        key = _key(name)
        if key not in self._keys:
            return []
        values = [item[1] for k, item in zip(self._keys, self._items, strict=True) if k == key]
        if key not in _MULTI_KEYS:
            return values
        return [element for value in values for element in split_values(value)]

    def first_value(self, name: str) -> str | None:
        """The first element (comma lists split), e.g. the top Via value."""
        key = _key(name)
        try:
            index = self._keys.index(key)
        except ValueError:
            return None
        if key not in _MULTI_KEYS:
            return self._items[index][1]
        value = self._items[index][1]
        if "," not in value:  # the usual case: one element on the first line
            stripped = value.strip(" \t")
            if stripped:
                return stripped
        for k, (_, value) in zip(self._keys, self._items, strict=True):
            if k == key:
                first = _split_first(value)[0]
                if first:
                    return first
        return None

    def count(self, name: str) -> int:
        """Number of header lines with that name."""
        return self._keys.count(_key(name))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _key(name) in self._keys

    def add(self, name: str, value: str) -> None:
        """Append a header line at the end."""
        canonical, key = _checked_name(name)
        _check_value(value)
        self._items.append((canonical, value))
        self._keys.append(key)

    def prepend(self, name: str, value: str) -> None:
        """Insert a line just before the first line of that name (before all headers when none)."""
        canonical, key = _checked_name(name)
        _check_value(value)
        index = self._keys.index(key) if key in self._keys else 0
        self._items.insert(index, (canonical, value))
        self._keys.insert(index, key)

    def add_after(self, anchor: str, name: str, value: str) -> None:
        """Insert a line just after the first line named ``anchor`` (appended when there is none)."""
        canonical, key = _checked_name(name)
        _check_value(value)
        _, anchor_key = _checked_name(anchor)
        index = self._keys.index(anchor_key) + 1 if anchor_key in self._keys else len(self._keys)
        self._items.insert(index, (canonical, value))
        self._keys.insert(index, key)

    def set(self, name: str, value: str) -> None:
        """Replace all lines of that name by one line in place of the first (appended when none)."""
        canonical, key = _checked_name(name)
        _check_value(value)
        if key not in self._keys:
            self._items.append((canonical, value))
            self._keys.append(key)
            return
        index = self._keys.index(key)
        self._items[index] = (canonical, value)
        if self._keys.count(key) > 1:
            self._remove_where(lambda i, k: k == key and i != index)

    def remove_all(self, name: str) -> int:
        """Remove every line of that name; return how many were removed."""
        key = _key(name)
        removed = self._keys.count(key)
        if removed:
            self._remove_where(lambda _i, k: k == key)
        return removed

    def remove_first_value(self, name: str) -> str | None:
        """Remove the first *element* of that header (§16.4, §16.7 step 3) and return it.

        When the first line holds a comma list only its first element goes and the line keeps the
        rest; otherwise the whole line goes. Lines with no element at all are dropped on the way.
        """
        key = _key(name)
        while key in self._keys:
            index = self._keys.index(key)
            canonical, value = self._items[index]
            if key not in _MULTI_KEYS:
                self._delete(index)
                return value
            first, rest = _split_first(value)
            if rest.strip(" \t,"):
                self._items[index] = (canonical, rest)
            else:
                self._delete(index)
            if first:
                return first
        return None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def copy(self) -> Headers:
        return Headers.from_trusted(self._items.copy(), self._keys.copy())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self._items == other._items

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"

    def _delete(self, index: int) -> None:
        del self._items[index]
        del self._keys[index]

    def _remove_where(self, predicate: Callable[[int, str], bool]) -> None:
        keep = [i for i, k in enumerate(self._keys) if not predicate(i, k)]
        self._items = [self._items[i] for i in keep]
        self._keys = [self._keys[i] for i in keep]


def _key(name: str) -> str:
    resolved = NAME_CACHE.get(name)
    return resolved[1] if resolved is not None else canonical_name(name).lower()


# --- Via -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Via:
    """One Via value (§20.42): `SIP/2.0/UDP host:port;params`. IPv6 hosts keep their brackets."""

    protocol: str
    transport: str
    host: str
    port: int | None = None
    params: Params = ()

    @property
    def branch(self) -> str | None:
        return find_param(self.params, "branch")

    def param(self, name: str) -> str | None:
        """Value of a Via parameter ("" for a flag such as ;rport), None when absent."""
        return find_param(self.params, name)

    def with_param(self, name: str, value: str | None) -> Via:
        """A copy with parameter `name` replaced, or appended when absent (e.g. received, rport)."""
        return Via(self.protocol, self.transport, self.host, self.port,
                   replace_param(self.params, name, value))

    @property
    def sent_by(self) -> tuple[str, int]:
        """(host, port), the port defaulting to 5060."""
        return self.host, DEFAULT_PORT if self.port is None else self.port

    def __str__(self) -> str:
        host_port = self.host if self.port is None else f"{self.host}:{self.port}"
        return f"{self.protocol}/{self.transport} {host_port}{format_params(self.params)}"


@lru_cache(maxsize=4096)  # values repeat within a call; results are immutable
def parse_via(text: str) -> Via:
    """Parse one Via value (not a comma list). LWS is allowed around '/', ':', ';' and '='."""
    if text.startswith("SIP/2.0/"):
        # fast path for the usual "SIP/2.0/UDP host:port;params" (no LWS inside)
        space = text.find(" ", 8)
        semi = text.find(";", space)
        sent_by = text[space + 1 :] if semi < 0 else text[space + 1 : semi]
        transport = text[8:space]
        if space > 8 and is_token(transport) and sent_by and " " not in sent_by and "\t" not in sent_by:
            host, port = parse_host_port(sent_by)
            params = () if semi < 0 else parse_params(text[semi:])
            return Via("SIP/2.0", transport.upper(), host, port, params)
    semi = text.find(";")
    head = text if semi < 0 else text[:semi]
    params = () if semi < 0 else parse_params(text[semi:])
    pieces = head.split("/", 2)
    if len(pieces) != 3:
        raise SipParseError(f"malformed Via: {text!r}")
    name, version = pieces[0].strip(" \t"), pieces[1].strip(" \t")
    transport_sent_by = pieces[2].split(None, 1)
    if len(transport_sent_by) != 2:
        raise SipParseError(f"Via without sent-by: {text!r}")
    transport, sent_by = transport_sent_by
    if not (is_token(name) and is_token(version) and is_token(transport)):
        raise SipParseError(f"malformed Via protocol: {text!r}")
    host, port = parse_host_port(":".join(part.strip(" \t") for part in sent_by.split(":")))
    return Via(f"{name.upper()}/{version}", transport.upper(), host, port, params)
