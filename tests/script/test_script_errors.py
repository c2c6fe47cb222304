"""Load errors: every ScriptSyntaxError / ScriptSemanticError names file, line, column and the
offending text, and shows the source line with a caret. Positions are 1-based."""

from __future__ import annotations

import pytest

from labpbx.errors import ScriptError, ScriptSemanticError, ScriptSyntaxError
from labpbx.script import load_script

SYN = ScriptSyntaxError
SEM = ScriptSemanticError

# id, script, error type, line, column, message fragment, offending text
ERRORS: list[tuple[str, str, type[ScriptError], int, int, str, str]] = [
    # --- syntax ---
    ("missing-semicolon", "route {\n    t_relay()\n    exit;\n}\n",
     SYN, 2, 14, "missing ';'", "exit"),
    ("missing-semicolon-before-brace", "route {\n  exit\n}\n", SYN, 2, 7, "missing ';'", "}"),
    ("missing-semicolon-before-else", "route {\n  if ($rU) exit else drop;\n}\n",
     SYN, 2, 16, "missing ';'", "else"),
    ("unclosed-brace", "route {\n  if (is_method(\"INVITE\")) {\n    t_relay();\n}\n",
     SYN, 1, 7, "unbalanced '{'", "{"),
    ("extra-closing-brace", "route {\n  exit;\n}\n}\n", SYN, 4, 1, "unbalanced '}'", "}"),
    ("unterminated-string", 'route {\n  xlog("abc);\n}\n', SYN, 2, 8, "unterminated string",
     '"abc);'),
    ("unterminated-single-quote", "route {\n  xlog('abc);\n}\n", SYN, 2, 8,
     "unterminated string", "'abc);"),
    ("unterminated-comment", "route { exit; }\n/* never\nclosed", SYN, 2, 1,
     "unterminated comment", "/*"),
    ("missing-paren", "route {\n  if ($rU == NULL {\n    exit;\n  }\n}\n", SYN, 2, 18,
     "missing ')'", "{"),
    ("else-without-if", "route {\n  exit;\n  else drop;\n}\n", SYN, 3, 3, "'else' without", "else"),
    ("assign-to-name", "route {\n  x = 1;\n}\n", SYN, 2, 3, "only pseudo-variables", "x"),
    ("bad-character", "route {\n  exit; @\n}\n", SYN, 2, 9, "unexpected character '@'", "@"),
    ("malformed-pvar", "route {\n  $ = 1;\n}\n", SYN, 2, 3, "malformed pseudo-variable", "$"),
    ("bad-pvar-index", "route {\n  $(avp(x)[foo]) = 1;\n}\n", SYN, 2, 3, "bad index", "$(avp(x)[foo])"),
    ("unexpected-token", "route {\n  $var(x) = ;\n}\n", SYN, 2, 13, "unexpected ';'", ";"),
    # --- functions ---
    ("unknown-function", "route {\n  t_relayy();\n}\n", SEM, 2, 3,
     "unknown function t_relayy() (did you mean t_relay()?)", "t_relayy"),
    ("unknown-function-no-hint", "route {\n  exit;\n  frobnicate();\n}\n", SEM, 3, 3,
     "unknown function frobnicate()", "frobnicate"),
    ("wrong-arg-count", 'route {\n  t_reply("404");\n}\n', SEM, 2, 3,
     "t_reply() takes 2 arguments, got 1", "t_reply"),
    ("wrong-arg-count-optional", "route {\n  xlog();\n}\n", SEM, 2, 3,
     "xlog() takes 1 or 2 arguments, got 0", "xlog"),
    ("wrong-arg-count-none", 'route {\n  has_totag("x");\n}\n', SEM, 2, 3,
     "has_totag() takes no arguments, got 1", "has_totag"),
    ("int-arg", 'route {\n  strip("abc");\n}\n', SEM, 2, 9, "must be an integer", "abc"),
    ("pvar-arg", 'route {\n  avp_db_load("$ru", "callfwd");\n}\n', SEM, 2, 22,
     "argument 2 of avp_db_load()", "callfwd"),
    ("avpsrc-arg", 'route {\n  avp_db_load("$ru/host", "$avp(x)");\n}\n', SEM, 2, 15,
     "argument 1 of avp_db_load()", "$ru/host"),
    ("level-arg", 'route {\n  xlog(L_FOO, "x");\n}\n', SEM, 2, 8,
     "unknown log level 'L_FOO'", "L_FOO"),
    ("fmt-unknown-pvar", 'route {\n  xlog("to $foo");\n}\n', SEM, 2, 8,
     "unknown pseudo-variable $foo", "to $foo"),
    ("bare-name-arg", "route {\n  sl_send_reply(404, NotFound);\n}\n", SEM, 2, 22,
     "undefined name 'NotFound'", "NotFound"),
    ("failure-route-arg", 'route {\n  t_on_failure("missed");\n}\n', SEM, 2, 16,
     "there is no failure_route[missed]", "missed"),
    ("t_relay-in-onreply", "route { exit; }\nonreply_route[r] {\n  t_relay();\n}\n", SEM, 3, 3,
     "t_relay() cannot be used in onreply_route; allowed in: route, failure_route", "t_relay"),
    ("t_relay-via-subroute", "route { exit; }\nonreply_route { route(fwd); }\n"
     "route[fwd] {\n  t_relay();\n}\n", SEM, 4, 3,
     "t_relay() cannot be used in onreply_route (route[fwd] is called from onreply_route)",
     "t_relay"),
    ("sl-in-failure", "route { exit; }\nfailure_route[f] {\n  sl_send_reply(404, \"x\");\n}\n",
     SEM, 3, 3, "sl_send_reply() cannot be used in failure_route", "sl_send_reply"),
    ("module-not-loaded", 'loadmodule "tm.so"\nroute {\n  sl_send_reply("404", "x");\n}\n',
     SEM, 3, 3, "module 'sl', which is not loaded (add loadmodule \"sl.so\")", "sl_send_reply"),
    # --- routes ---
    ("unknown-route", "route {\n  route(nowhere);\n}\n", SEM, 2, 3,
     "unknown route 'nowhere'", "nowhere"),
    ("unknown-route-hint", "route {\n  route(rely);\n}\nroute[relay] { exit; }\n", SEM, 2, 3,
     "(did you mean 'relay'?)", "rely"),
    ("route-to-failure-route", "route {\n  route(f);\n}\nfailure_route[f] { }\n", SEM, 2, 3,
     "failure_route[f] exists, but route() runs route[...] blocks", "f"),
    ("duplicate-route", "route { exit; }\nroute[a] { exit; }\nroute[a] { exit; }\n", SEM, 3, 1,
     "duplicate route[a]: already defined at line 2", "route[a]"),
    ("duplicate-main-route", "route { exit; }\nroute[0] { exit; }\n", SEM, 2, 1,
     "duplicate route", "route"),
    ("duplicate-failure-route", "route { }\nfailure_route[x] { }\nfailure_route[x] { }\n", SEM,
     3, 1, "duplicate failure_route[x]", "failure_route[x]"),
    ("no-main-route", "route[a] { exit; }\n", SEM, 1, 1, "no main 'route { ... }' block", ""),
    ("failure-route-needs-name", "route { }\nfailure_route { }\n", SEM, 2, 1, "needs a name", ""),
    ("local-route-no-name", "route { }\nlocal_route[x] { }\n", SEM, 2, 1, "takes no name",
     "local_route[x]"),
    # --- pseudo-variables ---
    ("unknown-pvar", "route {\n  if ($T_reply_cod == 486) exit;\n}\n", SEM, 2, 7,
     "unknown pseudo-variable $T_reply_cod (did you mean $T_reply_code?)", "$T_reply_cod"),
    ("unknown-pvar-assign", "route {\n  $foo = 1;\n}\n", SEM, 2, 3,
     "unknown pseudo-variable $foo", "$foo"),
    ("keyed-pvar-without-key", "route {\n  $var = 1;\n}\n", SEM, 2, 3,
     "$var needs a name", "$var"),
    ("read-only-pvar", 'route {\n  $fu = "sip:x@y";\n}\n', SEM, 2, 3, "$fu is read-only", "$fu"),
    ("read-only-hdr", 'route {\n  $hdr(Via) = "x";\n}\n', SEM, 2, 3, "is read-only", "$hdr(Via)"),
    ("read-only-rc", "route {\n  $rc = 1;\n}\n", SEM, 2, 3, "$rc is read-only", "$rc"),
    ("colon-null-non-avp", "route {\n  $var(x) := NULL;\n}\n", SEM, 2, 3, "only AVPs", "$var(x)"),
    # --- statements ---
    ("break-outside", "route {\n  break;\n}\n", SEM, 2, 3, "'break' outside", "break"),
    ("return-string", 'route {\n  return("a");\n}\n', SEM, 2, 10, "return takes an integer", ""),
    ("duplicate-case", 'route {\n  switch ($rU) { case "1": exit; case 1: drop; }\n}\n', SEM, 2,
     34, "duplicate case 1", "case 1"),
    ("bad-static-regex", 'route {\n  if ($rU =~ "(") exit;\n}\n', SEM, 2, 14,
     "invalid regular expression", "("),
    ("undefined-name", "route {\n  $du = MEDIA_SERVER;\n}\n", SEM, 2, 9,
     "undefined name 'MEDIA_SERVER'", "MEDIA_SERVER"),
    # --- modules and modparams ---
    ("unknown-modparam", 'modparam("tm", "fr_inv_timout", 10)\nroute { }\n', SEM, 1, 1,
     "unknown parameter 'fr_inv_timout' of module tm (did you mean 'fr_inv_timeout'?)",
     "fr_inv_timout"),
    ("modparam-unknown-module", 'modparam("tmx", "fr_timeout", 10)\nroute { }\n', SEM, 1, 1,
     "unknown module 'tmx'", "tmx"),
    ("modparam-wrong-type", 'modparam("tm", "fr_inv_timeout", "10")\nroute { }\n', SEM, 1, 34,
     "needs an integer", "10"),
    ("modparam-str-type", 'modparam("usrloc", "db_url", 5)\nroute { }\n', SEM, 1, 30,
     "needs a quoted string", "5"),
    ("modparam-module-not-loaded", 'loadmodule "sl.so"\nmodparam("tm", "fr_timeout", 10)\n'
     "route { }\n", SEM, 2, 1, "module 'tm', which is not loaded", "tm"),
    ("unknown-loadmodule", 'loadmodule "tmm.so"\nroute { }\n', SEM, 1, 1,
     "unknown module 'tmm' (did you mean 'tm'?)", "tmm.so"),
    # --- preprocessor ---
    ("unsupported-directive", "#!ifdef WITH_X\nroute { }\n", SEM, 1, 1,
     "unsupported preprocessor directive '#!ifdef'", "#!ifdef"),
    ("define-twice", "#!define A 1\n#!define A 2\nroute { }\n", SEM, 2, 1,
     "'A' is already defined at line 1", "A"),
]


@pytest.mark.parametrize(
    ("src", "kind", "line", "column", "message", "text"),
    [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS],
)
def test_load_error(src: str, kind: type[ScriptError], line: int, column: int, message: str,
                    text: str) -> None:
    with pytest.raises(ScriptError) as info:
        load_script(src, "lab.cfg")
    err = info.value
    assert type(err) is kind, f"{type(err).__name__}: {err}"
    assert message in err.message, err.message
    assert (err.line, err.column) == (line, column), str(err)
    assert err.text == text
    assert err.file == "lab.cfg"
    src_line, caret = err.context.split("\n")
    assert src_line == src.splitlines()[line - 1]
    assert caret == " " * (column - 1) + "^"
    assert str(err).startswith(f"lab.cfg:{line}:{column}: ")


def test_context_caret_follows_tabs() -> None:
    with pytest.raises(ScriptSemanticError) as info:
        load_script("route {\n\tfoo();\n}\n")
    assert info.value.context == "\tfoo();\n\t^"


def test_textops_satisfies_sipmsgops_functions() -> None:
    load_script('loadmodule "textops.so"\nroute { if (is_method("INVITE")) exit; }\n')


def test_core_functions_need_no_module() -> None:
    load_script('loadmodule "tm.so"\nroute { revert_uri(); prefix("b"); t_relay(); }\n')


def test_modules_are_not_required_without_loadmodule_lines() -> None:
    load_script('route { sl_send_reply("404", "x"); t_relay(); }\n')


def test_unreached_subroute_is_checked_as_request_route() -> None:
    with pytest.raises(ScriptSemanticError, match="t_was_cancelled"):
        load_script("route { }\nroute[orphan] { t_was_cancelled(); }\n")


def test_subroute_called_from_failure_route_may_use_failure_functions() -> None:
    load_script("route { }\nfailure_route[f] { route(check); }\n"
                "route[check] { if (t_was_cancelled()) exit; }\n")
