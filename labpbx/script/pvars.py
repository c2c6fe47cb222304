"""Pseudo-variable specs and format strings: text -> PVar, validated against the registry.

Rules of this module:
  * Spellings accepted (OpenSIPS 2.4): ``$name``, ``$name(key)``, ``$(name)``, ``$(name(key))``,
    ``$(name[index])`` and ``$(name(key)[index])``. The index is an integer (negative counts from
    the end), ``*`` (all values) or ``append``. For ``avp`` the ``s:``/``i:`` name prefixes are
    dropped, so ``$avp(s:callfwd)`` and ``$avp(callfwd)`` name the same AVP.
  * Whether a name exists, needs a key and may be written comes from PVARS / KEYED_PVARS in
    labpbx.script.functions; nothing here knows about messages.
  * Format strings (xlog text, reply reasons ...) are split ONCE, at load, into literal text and
    PVar parts. A ``$`` that does not start a variable name is kept literally ("costs $5").
  * Errors are PVarError (a ValueError) carrying a message; callers add the script position.
"""

from __future__ import annotations

import difflib
import re

from labpbx.script.functions import KEYED_PVARS, PVARS
from labpbx.script.host import PVar

AVP_SOURCE_SUFFIXES = frozenset({"username", "domain", "uri", "uuid"})

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INNER = re.compile(
    r"\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?:\((?P<key>[^()]*)\))?\s*(?:\[(?P<index>[^\[\]]*)\])?\s*"
)
_SHORT = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:\((?P<key>[^()]*)\))?")
_INT = re.compile(r"[+-]?[0-9]+")


class PVarError(ValueError):
    """A pseudo-variable that is malformed or unknown; ``str(err)`` is the message for the user."""


def parse_pvar(text: str) -> PVar:
    """Parse one complete pseudo-variable spec (shape only; see check_pvar for the name)."""
    if not text.startswith("$") or len(text) < 2:
        raise PVarError(f"{text!r} is not a pseudo-variable (it must start with '$')")
    if text[1] == "(":
        if not text.endswith(")"):
            raise PVarError(f"unterminated pseudo-variable {text!r}")
        m = _INNER.fullmatch(text, 2, len(text) - 1)
    else:
        m = _SHORT.fullmatch(text, 1)
    if m is None:
        raise PVarError(f"malformed pseudo-variable {text!r}")
    name = m.group("name")
    key = m.group("key")
    index_text = m.groupdict().get("index")
    if key is not None:
        key = key.strip()
        if name == "avp" and len(key) > 2 and key[1] == ":" and key[0] in "si":
            key = key[2:]
        if not key:
            raise PVarError(f"empty name in {text!r}")
    index: int | str | None = None
    if index_text is not None:
        index_text = index_text.strip()
        if _INT.fullmatch(index_text):
            index = int(index_text)
        elif index_text in ("*", "append"):
            index = index_text
        else:
            raise PVarError(f"bad index [{index_text}] in {text!r}: use a number, * or append")
    return PVar(name=name, key=key, index=index, text=text)


def check_pvar(pv: PVar) -> None:
    """Raise PVarError unless ``pv`` names a known class used with the right shape."""
    if pv.name in KEYED_PVARS:
        if pv.key is None:
            raise PVarError(f"${pv.name} needs a name in parentheses, e.g. ${pv.name}(x)")
        if pv.name == "var" and pv.index is not None:
            raise PVarError(f"$var cannot be indexed: {pv.text}")
        return
    if pv.name in PVARS:
        if pv.key is not None:
            raise PVarError(f"${pv.name} takes no name in parentheses: {pv.text}")
        if pv.index is not None:
            raise PVarError(f"${pv.name} cannot be indexed: {pv.text}")
        return
    msg = f"unknown pseudo-variable {pv.text or '$' + pv.name}"
    close = difflib.get_close_matches(pv.name, [*PVARS, *KEYED_PVARS], n=1, cutoff=0.5)
    if close:
        hint = f"${close[0]}(...)" if close[0] in KEYED_PVARS else f"${close[0]}"
        msg += f" (did you mean {hint}?)"
    raise PVarError(msg)


def is_writable(pv: PVar) -> bool:
    return KEYED_PVARS.get(pv.name, False) if pv.name in KEYED_PVARS else PVARS.get(pv.name, False)


def parse_checked(text: str) -> PVar:
    """parse_pvar + check_pvar: the whole of ``text`` must be one known pseudo-variable."""
    pv = parse_pvar(text.strip())
    check_pvar(pv)
    return pv


def parse_avp_source(text: str) -> tuple[PVar, str | None]:
    """An avp_db_* source: a pseudo-variable with an optional /username|/domain|/uri|/uuid."""
    base, sep, suffix = text.strip().rpartition("/")
    if sep and suffix in AVP_SOURCE_SUFFIXES:
        return parse_checked(base), suffix
    return parse_checked(text), None


FormatPart = str | PVar


def parse_format(text: str) -> tuple[FormatPart, ...]:
    """Split a format string into literal text and checked PVar parts (adjacent text merged)."""
    parts: list[FormatPart] = []
    literal: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "$" or i + 1 >= n or not (text[i + 1] == "(" or _NAME.match(text, i + 1)):
            literal.append(ch)
            i += 1
            continue
        end = _pvar_end(text, i)
        pv = parse_pvar(text[i:end])
        check_pvar(pv)
        if literal:
            parts.append("".join(literal))
            literal.clear()
        parts.append(pv)
        i = end
    if literal:
        parts.append("".join(literal))
    return tuple(parts)


def _pvar_end(text: str, start: int) -> int:
    """Index just past the pseudo-variable that starts at text[start] == '$'."""
    if text[start + 1] == "(":
        depth = 0
        for j in range(start + 1, len(text)):
            if text[j] == "(":
                depth += 1
            elif text[j] == ")":
                depth -= 1
                if depth == 0:
                    return j + 1
        raise PVarError(f"unterminated pseudo-variable {text[start:]!r}")
    m = _NAME.match(text, start + 1)
    assert m is not None  # parse_format only calls us when a name follows
    end = m.end()
    if end < len(text) and text[end] == "(":
        close = text.find(")", end)
        if close < 0:
            raise PVarError(f"unterminated pseudo-variable {text[start:]!r}")
        return close + 1
    return end
