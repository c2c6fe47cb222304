"""Pseudo-variable specs, format strings and run-time value rules (labpbx.script.pvars/values)."""

from __future__ import annotations

import pytest

from labpbx.errors import ScriptRuntimeError
from labpbx.script.host import PVar, Value
from labpbx.script.pvars import (
    PVarError,
    check_pvar,
    is_writable,
    parse_avp_source,
    parse_format,
    parse_pvar,
)
from labpbx.script.values import arith, compare, equals, posix_to_python, to_text, truth


@pytest.mark.parametrize(("text", "name", "key", "index"), [
    ("$ru", "ru", None, None),
    ("$T_reply_code", "T_reply_code", None, None),
    ("$avp(callfwd)", "avp", "callfwd", None),
    ("$avp(s:callfwd)", "avp", "callfwd", None),
    ("$avp(i:5)", "avp", "5", None),
    ("$var(x)", "var", "x", None),
    ("$hdr(Diversion)", "hdr", "Diversion", None),
    ("$(avp(callfwd)[1])", "avp", "callfwd", 1),
    ("$(avp(x)[-1])", "avp", "x", -1),
    ("$(avp(x)[*])", "avp", "x", "*"),
    ("$(avp(x)[append])", "avp", "x", "append"),
    ("$( hdr(Via) [ 1 ] )", "hdr", "Via", 1),
    ("$(ru)", "ru", None, None),
])
def test_parse_pvar(text: str, name: str, key: str | None, index: int | str | None) -> None:
    pv = parse_pvar(text)
    assert (pv.name, pv.key, pv.index, pv.text) == (name, key, index, text)


@pytest.mark.parametrize(("text", "message"), [
    ("ru", "must start with '$'"),
    ("$", "must start with '$'"),
    ("$(avp(x)[1]", "unterminated"),
    ("$(avp(x)[z])", "bad index"),
    ("$avp()", "empty name"),
    ("$1abc", "malformed"),
])
def test_parse_pvar_errors(text: str, message: str) -> None:
    with pytest.raises(PVarError, match=message.replace("(", r"\(").replace("$", r"\$")):
        parse_pvar(text)


@pytest.mark.parametrize(("pv", "message"), [
    (PVar("nope", text="$nope"), "unknown pseudo-variable"),
    (PVar("avp", text="$avp"), "needs a name"),
    (PVar("ru", key="x", text="$ru(x)"), "takes no name"),
    (PVar("ru", index=1, text="$(ru[1])"), "cannot be indexed"),
    (PVar("var", key="x", index=1, text="$(var(x)[1])"), "cannot be indexed"),
])
def test_check_pvar_errors(pv: PVar, message: str) -> None:
    with pytest.raises(PVarError, match=message):
        check_pvar(pv)


@pytest.mark.parametrize(("pv", "writable"), [
    (PVar("ru"), True), (PVar("du"), True), (PVar("fu"), False), (PVar("avp", "x"), True),
    (PVar("var", "x"), True), (PVar("hdr", "Via"), False), (PVar("rc"), False),
])
def test_is_writable(pv: PVar, writable: bool) -> None:
    assert is_writable(pv) is writable


@pytest.mark.parametrize(("text", "name", "suffix"), [
    ("$ru", "ru", None), ("$ru/domain", "ru", "domain"), ("$fu/username", "fu", "username"),
    ("$avp(uuid)/uuid", "avp", "uuid"), ("$tu/uri", "tu", "uri"),
])
def test_avp_source(text: str, name: str, suffix: str | None) -> None:
    pv, got = parse_avp_source(text)
    assert (pv.name, got) == (name, suffix)


@pytest.mark.parametrize(("text", "parts"), [
    ("plain", ["plain"]),
    ("forwarded to: $avp(callfwd)\n", ["forwarded to: ", "$avp(callfwd)", "\n"]),
    ("> 486 ruri=<$ru>", ["> 486 ruri=<", "$ru", ">"]),
    ("$rU$rd", ["$rU", "$rd"]),
    ("$(avp(x)[1]) and $(hdr(Via)[0])", ["$(avp(x)[1])", " and ", "$(hdr(Via)[0])"]),
    ("costs $5, $ alone, trailing $", ["costs $5, $ alone, trailing $"]),
    ("$T_reply_code!", ["$T_reply_code", "!"]),
])
def test_parse_format(text: str, parts: list[str]) -> None:
    got = [p if isinstance(p, str) else p.text for p in parse_format(text)]
    assert got == parts


@pytest.mark.parametrize("text", ["$nope", "to $avp(x", "$(avp(x)[1]", "$ru(x)"])
def test_parse_format_errors(text: str) -> None:
    with pytest.raises(PVarError):
        parse_format(text)


@pytest.mark.parametrize(("value", "expected"), [
    (None, False), (0, False), (1, True), (-1, True), ("", False), ("0", True), ("a", True),
])
def test_truth(value: Value, expected: bool) -> None:
    assert truth(value) is expected


@pytest.mark.parametrize(("op", "left", "right", "expected"), [
    ("==", 200, "200", True), ("==", "200", 200, True), ("==", " 7", 7, True),
    ("==", "abc", "abc", True), ("==", 1, "abc", False), ("==", None, None, True),
    ("==", None, "", False), ("==", None, 0, False), ("!=", None, None, False),
    ("<", 9, "10", True), ("<", "9", "10", False), ("<", "a", "b", True),
    (">=", 10, 10, True), ("<", None, 1, False), (">", 1, None, False),
    ("<", 5, "x", True),  # int vs non-numeric string: compared as text "5" < "x"
])
def test_compare(op: str, left: Value, right: Value, expected: bool) -> None:
    assert compare(op, left, right) is expected
    if op == "==":
        assert equals(left, right) is expected


@pytest.mark.parametrize(("op", "left", "right", "expected"), [
    ("+", 1, 2, 3), ("+", "a", "b", "ab"), ("+", "sip:", 5060, "sip:5060"), ("+", 1, "2", "12"),
    ("-", 5, 7, -2), ("*", -3, 4, -12), ("/", 7, 2, 3), ("/", -7, 2, -3), ("/", 7, -2, -3),
    ("%", 7, 3, 1), ("%", -7, 3, -1), ("&", 6, 3, 2), ("|", 6, 3, 7), ("^", 6, 3, 5),
])
def test_arith(op: str, left: Value, right: Value, expected: Value) -> None:
    assert arith(op, left, right, 1) == expected


@pytest.mark.parametrize(("op", "left", "right"), [
    ("+", None, 1), ("-", "a", 1), ("*", 2, "3"), ("/", 1, 0), ("%", 1, 0), ("&", None, None),
])
def test_arith_errors(op: str, left: Value, right: Value) -> None:
    with pytest.raises(ScriptRuntimeError, match="line 42"):
        arith(op, left, right, 42)


def test_to_text_and_posix_classes() -> None:
    assert [to_text(v) for v in (None, 5, "x")] == ["<null>", "5", "x"]
    assert posix_to_python("^[[:digit:]]+[[:alpha:]]$") == "^[0-9]+[A-Za-z]$"
