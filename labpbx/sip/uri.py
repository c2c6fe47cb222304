"""SIP URIs and address values: `SipURI`, `NameAddr` (RFC 3261 §19.1, §20.10, §25.1).

Rules of this module
- Pure and stdlib-only; every malformed input raises `SipParseError` (status_hint 400, or 416 for a
  URI scheme other than sip/sips).
- Parsed objects are frozen dataclasses. Text is kept as written (escapes are not decoded, hosts
  are not lower-cased); only the scheme and parameter *names* are lower-cased.
- `str()` of a parsed object parses back to an equal object (NameAddr: except `bracketed`, because
  `str()` always writes the `<uri>` form).
- The parameter helpers (`parse_params`, `format_params`) are shared with `headers.Via`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache

from labpbx.errors import SipParseError

Params = tuple[tuple[str, str | None], ...]

DEFAULT_PORT = 5060

_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_UNRESERVED = _ALNUM | frozenset("-_.!~*'()")
#: RFC 3261 §25.1 `token`
TOKEN_CHARS = _ALNUM | frozenset("-.!%*_+`'~")
_USER_CHARS = _UNRESERVED | frozenset("%&=+$,;?/")
_PASSWORD_CHARS = _UNRESERVED | frozenset("%&=+$,")
_PARAM_CHARS = _UNRESERVED | frozenset("%[]/:&+$")
_URI_HEADER_CHARS = _UNRESERVED | frozenset("%[]/?:+$&=")
_HOST_CHARS = _ALNUM | frozenset("-._")
_HEX = frozenset("0123456789abcdefABCDEF")
_SCHEME_CHARS = _ALNUM | frozenset("+-.")


# --- small shared helpers ------------------------------------------------------------------------


def is_token(text: str) -> bool:
    """True when `text` is a non-empty RFC 3261 token (method, header and parameter names)."""
    return bool(text) and TOKEN_CHARS.issuperset(text)


def _check_escapes(text: str, what: str) -> None:
    i = text.find("%")
    while i >= 0:
        if len(text) < i + 3 or text[i + 1] not in _HEX or text[i + 2] not in _HEX:
            raise SipParseError(f"bad %-escape in {what}: {text!r}")
        i = text.find("%", i + 3)


def _check_chars(text: str, allowed: frozenset[str], what: str) -> None:
    if not text or not allowed.issuperset(text):
        raise SipParseError(f"invalid {what}: {text!r}")
    if "%" in text:
        _check_escapes(text, what)


def read_quoted(text: str, start: int) -> tuple[str, int]:
    """Read the quoted-string opening at `text[start]`: (unescaped content, index after it)."""
    end = text.find('"', start + 1)
    if end < 0:
        raise SipParseError(f"unterminated quoted string: {text!r}")
    if "\\" not in text[start + 1 : end]:
        return text[start + 1 : end], end + 1
    out: list[str] = []
    i, n = start + 1, len(text)
    while i < n:
        char = text[i]
        if char == "\\":
            if i + 1 >= n:
                break
            out.append(text[i + 1])
            i += 2
        elif char == '"':
            return "".join(out), i + 1
        else:
            out.append(char)
            i += 1
    raise SipParseError(f"unterminated quoted string: {text!r}")


def quote(text: str) -> str:
    """Write `text` as a quoted-string (the inverse of `read_quoted`)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def split_unquoted(text: str, sep: str) -> list[str]:
    """Split on `sep` outside "quoted strings" (pieces are not stripped)."""
    if '"' not in text:
        return text.split(sep)
    parts: list[str] = []
    start, i, n, in_quotes = 0, 0, len(text), False
    while i < n:
        char = text[i]
        if in_quotes:
            if char == "\\":
                i += 1
            elif char == '"':
                in_quotes = False
        elif char == '"':
            in_quotes = True
        elif char == sep:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    if in_quotes:
        raise SipParseError(f"unterminated quoted string: {text!r}")
    parts.append(text[start:])
    return parts


def parse_params(text: str) -> Params:
    """Parse header parameters `;name[=value]...` (LWS around ';' and '='; names lower-cased).

    Values are kept as written, quoted strings included with their quotes.
    """
    text = text.strip(" \t")
    if not text:
        return ()
    if text[0] != ";":
        raise SipParseError(f"expected ';' before parameters: {text!r}")
    params: list[tuple[str, str | None]] = []
    for piece in split_unquoted(text[1:], ";"):
        name, eq, value = piece.partition("=")
        name = name.strip(" \t").lower()
        if not is_token(name):
            raise SipParseError(f"invalid parameter name {name!r} in {text!r}")
        if not eq:
            params.append((name, None))
            continue
        value = value.strip(" \t")
        if value.startswith('"'):
            if read_quoted(value, 0)[1] != len(value):
                raise SipParseError(f"text after quoted parameter value: {value!r}")
        elif " " in value or "\t" in value or '"' in value:
            raise SipParseError(f"invalid parameter value {value!r}")
        params.append((name, value))
    return tuple(params)


def format_params(params: Params) -> str:
    """Write parameters back: `;name` for a flag, `;name=value` otherwise."""
    return "".join(f";{name}" if value is None else f";{name}={value}" for name, value in params)


def find_param(params: Params, name: str) -> str | None:
    """Value of the first parameter `name` ("" for a flag), None when absent."""
    name = name.lower()
    for key, value in params:
        if key == name:
            return "" if value is None else value
    return None


def replace_param(params: Params, name: str, value: str | None) -> Params:
    """Return `params` with `name` set to `value` (first occurrence replaced, else appended)."""
    name = name.lower()
    out = list(params)
    for i, (key, _) in enumerate(out):
        if key == name:
            out[i] = (name, value)
            return tuple(out)
    out.append((name, value))
    return tuple(out)


def parse_host_port(text: str) -> tuple[str, int | None]:
    """Parse `host[:port]`: a hostname, an IPv4 address or an `[IPv6]` reference (brackets kept)."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise SipParseError(f"unterminated IPv6 reference: {text!r}")
        host, tail = text[: end + 1], text[end + 1 :]
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise SipParseError(f"invalid IPv6 address: {host!r}") from None
    else:
        colon = text.find(":")
        host, tail = (text, "") if colon < 0 else (text[:colon], text[colon:])
        if not host or not _HOST_CHARS.issuperset(host):
            raise SipParseError(f"invalid host: {text!r}")
    if not tail:
        return host, None
    if tail[0] != ":":
        raise SipParseError(f"unexpected text after host: {text!r}")
    return host, _parse_port(tail[1:])


def _parse_port(text: str) -> int:
    if not (0 < len(text) <= 5 and text.isascii() and text.isdigit()) or int(text) > 65535:
        raise SipParseError(f"invalid port: {text!r}")
    return int(text)


def _host_port(host: str, port: int | None) -> str:
    return host if port is None else f"{host}:{port}"


# --- SIP URI -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SipURI:
    """A sip: or sips: URI. Text fields are kept as written (escaped form, host case)."""

    scheme: str
    user: str | None
    password: str | None
    host: str
    port: int | None = None
    params: Params = ()
    headers: str | None = None

    def __str__(self) -> str:
        parts = [self.scheme, ":"]
        if self.user is not None:
            parts.append(self.user)
            if self.password is not None:
                parts += [":", self.password]
            parts.append("@")
        parts.append(_host_port(self.host, self.port))
        if self.params:
            parts.append(format_params(self.params))
        if self.headers is not None:
            parts += ["?", self.headers]
        return "".join(parts)

    @property
    def host_port(self) -> str:
        """`host` or `host:port`."""
        return _host_port(self.host, self.port)

    def param(self, name: str) -> str | None:
        """Value of a uri-parameter ("" for a flag such as ;lr), None when absent."""
        return find_param(self.params, name)

    def has_param(self, name: str) -> bool:
        return find_param(self.params, name) is not None

    def with_user(self, user: str | None) -> SipURI:
        return SipURI(self.scheme, user, self.password if user is not None else None,
                      self.host, self.port, self.params, self.headers)

    def with_host_port(self, host: str, port: int | None) -> SipURI:
        return SipURI(self.scheme, self.user, self.password, host, port, self.params, self.headers)

    def with_params(self, params: Params) -> SipURI:
        return SipURI(self.scheme, self.user, self.password, self.host, self.port,
                      tuple((name.lower(), value) for name, value in params), self.headers)


def is_scheme(text: str) -> bool:
    return bool(text) and text[0].isascii() and text[0].isalpha() and _SCHEME_CHARS.issuperset(text)


def _parse_userinfo(text: str) -> tuple[str, str | None]:
    user, colon, password = text.partition(":")
    _check_chars(user, _USER_CHARS, "URI user part")
    if not colon:
        return user, None
    if password:
        _check_chars(password, _PASSWORD_CHARS, "URI password")
    return user, password


def _parse_uri_params(text: str) -> Params:
    params: list[tuple[str, str | None]] = []
    for piece in text.split(";"):
        name, eq, value = piece.partition("=")
        _check_chars(name, _PARAM_CHARS, "URI parameter name")
        if eq:
            _check_chars(value, _PARAM_CHARS, "URI parameter value")
        params.append((name.lower(), value if eq else None))
    return tuple(params)


@lru_cache(maxsize=4096)  # values repeat within a call; results are immutable
def parse_uri(text: str) -> SipURI:
    """Parse a sip:/sips: URI (RFC 3261 §19.1.1, §25.1). Other schemes raise status_hint 416."""
    text = text.strip(" \t")
    colon = text.find(":")
    scheme = text[:colon].lower() if colon > 0 else ""
    if scheme not in ("sip", "sips"):
        if is_scheme(scheme):
            raise SipParseError(f"unsupported URI scheme {scheme!r}", status_hint=416)
        raise SipParseError(f"not a URI: {text!r}")
    rest = text[colon + 1 :]
    user: str | None = None
    password: str | None = None
    at = rest.find("@")
    if at >= 0:
        user, password = _parse_userinfo(rest[:at])
        rest = rest[at + 1 :]
    headers: str | None = None
    qmark = rest.find("?")
    if qmark >= 0:
        headers = rest[qmark + 1 :]
        _check_chars(headers, _URI_HEADER_CHARS, "URI headers")
        rest = rest[:qmark]
    params: Params = ()
    semi = rest.find(";")
    if semi >= 0:
        params = _parse_uri_params(rest[semi + 1 :])
        rest = rest[:semi]
    host, port = parse_host_port(rest)
    return SipURI(scheme, user, password, host, port, params, headers)


# --- name-addr / addr-spec -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NameAddr:
    """A From/To/Contact/Route/Record-Route value: display name, SIP URI and header params."""

    display_name: str | None
    uri: SipURI
    params: Params = ()
    bracketed: bool = True

    def __str__(self) -> str:
        display = "" if self.display_name is None else quote(self.display_name) + " "
        return f"{display}<{self.uri}>{format_params(self.params)}"

    def param(self, name: str) -> str | None:
        """Value of a header parameter ("" for a flag), None when absent."""
        return find_param(self.params, name)

    @property
    def tag(self) -> str | None:
        return find_param(self.params, "tag")

    def with_param(self, name: str, value: str | None) -> NameAddr:
        """A copy with parameter `name` replaced, or appended when absent."""
        return NameAddr(self.display_name, self.uri, replace_param(self.params, name, value),
                        self.bracketed)


def _check_display_tokens(text: str) -> None:
    if not TOKEN_CHARS.issuperset(text.replace(" ", "").replace("\t", "")):
        raise SipParseError(f"display name must be tokens or a quoted string: {text!r}")


def split_name_addr(text: str) -> tuple[str | None, str, str, bool]:
    """Split a name-addr / addr-spec into (display name, URI text, parameter text, bracketed).

    The URI is not parsed, so this works for any scheme. Per §20, the `;params` after an
    addr-spec (no angle brackets) belong to the header, not to the URI.
    """
    text = text.strip(" \t")
    if not text:
        raise SipParseError("empty address")
    display: str | None
    if text[0] == '"':
        display, pos = read_quoted(text, 0)
        lt = text.find("<", pos)
        if lt < 0 or text[pos:lt].strip(" \t"):
            raise SipParseError(f"expected '<' after display name: {text!r}")
    else:
        lt = text.find("<")
        if lt < 0:
            semi = text.find(";")
            if semi < 0:
                return None, text, "", False
            return None, text[:semi].rstrip(" \t"), text[semi:], False
        display = text[:lt].strip(" \t") or None
        if display is not None:
            _check_display_tokens(display)
    gt = text.find(">", lt)
    if gt < 0:
        raise SipParseError(f"missing '>': {text!r}")
    rest = text[gt + 1 :].strip(" \t")
    if rest and rest[0] != ";":
        raise SipParseError(f"unexpected text after '>': {text!r}")
    return display, text[lt + 1 : gt].strip(" \t"), rest, True


@lru_cache(maxsize=4096)  # values repeat within a call; results are immutable
def parse_name_addr(text: str) -> NameAddr:
    """Parse `"Bob" <sip:bob@x>;tag=1`, `Bob <sip:x>`, `<sip:x>` or addr-spec `sip:bob@x;tag=1`."""
    display, uri_text, params_text, bracketed = split_name_addr(text)
    if uri_text == "*":
        raise SipParseError("'*' is not an address")
    return NameAddr(display, parse_uri(uri_text), parse_params(params_text), bracketed)


def name_addr_param(text: str, name: str) -> str | None:
    """One header parameter (e.g. tag) of a name-addr/addr-spec value, without parsing its URI."""
    params_text = split_name_addr(text)[2]
    if not params_text:
        return None
    return find_param(parse_params(params_text), name)
