"""Robustness: whatever text load_script gets, only ScriptError subclasses come out."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labpbx.errors import ScriptError
from labpbx.script import load_script
from tests.script.conftest import DATA

REFERENCE = (DATA / "reference.cfg").read_text(encoding="utf-8")
TOKENS = [
    "route", "failure_route", "onreply_route", "branch_route", "[", "]", "{", "}", "(", ")", ";",
    ",", "if", "else", "while", "switch", "case", "default", ":", "break", "return", "exit",
    "drop", "=", ":=", "==", "!=", "=~", "!~", "<", ">=", "&&", "||", "!", "+", "-", "*", "/",
    "%", "|", "&", "^", "~", "$ru", "$rU", "$avp(x)", "$(avp(x)[1])", "$var(i)", "$hdr(Via)",
    "$", "$(", '"str"', "'s'", '"', "'", "1", "-1", "0x1f", "NULL", "myself", "uri", "method",
    "t_relay", "xlog", "sl_send_reply", "L_ERR", "#!define X 1\n", "#!ifdef\n", "# c\n",
    "/*", "*/", "\n", " ", "loadmodule", '"tm.so"', "modparam", "listen", "relay", "x",
]
SETTINGS = settings(max_examples=1000, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def assert_only_script_errors(text: str) -> None:
    try:
        load_script(text, "fuzz.cfg")
    except ScriptError as err:
        assert err.line >= 0 and err.column >= 0
        assert err.message


@SETTINGS
@given(st.text(max_size=200))
def test_random_text(text: str) -> None:
    assert_only_script_errors(text)


@SETTINGS
@given(st.lists(st.sampled_from(TOKENS), max_size=60).map(" ".join))
def test_random_token_soup(text: str) -> None:
    assert_only_script_errors(text)


@st.composite
def mutated_reference(draw: st.DrawFn) -> str:
    text = REFERENCE
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["delete", "insert", "replace"]))
        if action == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 12)):]
        elif action == "insert":
            text = text[:pos] + draw(st.sampled_from(TOKENS)) + text[pos:]
        else:
            text = text[:pos] + draw(st.sampled_from(TOKENS)) + text[pos + 1:]
    return text


@SETTINGS
@given(mutated_reference())
def test_mutated_reference_config(text: str) -> None:
    assert_only_script_errors(text)


def test_absurd_nesting_is_a_script_error_not_a_crash() -> None:
    deep = "route { " + "if (1) { " * 2000 + "exit;" + " }" * 2000 + " }"
    assert_only_script_errors(deep)
    parens = "route { $var(x) = " + "(" * 3000 + "1" + ")" * 3000 + "; }"
    assert_only_script_errors(parens)
