"""Running scripts (labpbx.script.interpreter): OpenSIPS 2.4 semantics, SEMANTICS.md §3.2 / §8.

Each row: a main-route body (plus optional extra blocks), the host's variables and scripted
function results, then the calls the script makes, the assignments, and the RunResult.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from labpbx.errors import ScriptRuntimeError
from labpbx.script import RouteKind, RunResult, Value, load_script
from tests.script.conftest import FakeHost, Result, main, run

pytestmark = pytest.mark.usefixtures("test_functions")


def rendered(host: FakeHost) -> list[str]:
    return [f"{name}({', '.join(repr(v) for v in args)})" for name, args in host.calls]


@dataclass
class Row:
    id: str
    body: str
    calls: list[str]
    result: RunResult = field(default_factory=lambda: RunResult(1))
    sets: list[tuple[str, Value, str]] = field(default_factory=list)
    pvars: dict[str, Value] = field(default_factory=dict)
    results: dict[str, Result] = field(default_factory=dict)
    extra: str = ""
    before: str = ""


STOPPED = RunResult(0, exited=True)

TRUTH = [
    Row("true-runs-then", "if (f()) g();", ["f()", "g()"]),
    Row("false-skips-then", "if (f()) g(); h();", ["f()", "h()"], results={"f": -1}),
    Row("zero-in-if-stops", "if (f()) g(); else h(); i();", ["f()"], STOPPED, results={"f": 0}),
    Row("zero-under-not-stops", "if (!f()) g(); h();", ["f()"], STOPPED, results={"f": 0}),
    Row("zero-as-statement-stops", "f(); g();", ["f()"], STOPPED, results={"f": 0}),
    Row("zero-in-assignment-stops", "$var(x) = f(); g();", ["f()"], STOPPED, results={"f": 0}),
    Row("negative-is-false", "if (!f()) g();", ["f()", "g()"], results={"f": -3}),
    Row("or-short-circuits", "if (f() || g()) h();", ["f()", "h()"]),
    Row("and-short-circuits", "if (f() && g()) h();", ["f()"], results={"f": -1}),
    Row("and-both", "if (f() && g()) h();", ["f()", "g()", "h()"]),
    Row("code-as-value", "$var(x) = f();", ["f()"], sets=[("$var(x)", 7, "=")],
        results={"f": 7}),
    Row("comparison-as-value", "$var(x) = (1 == 1); $var(y) = !(1 == 1);", [],
        sets=[("$var(x)", 1, "="), ("$var(y)", 0, "=")]),
    Row("pvar-truth-null", "if ($var(x)) f(); else g();", ["g()"]),
    Row("pvar-truth-zero", "if ($var(x)) f(); else g();", ["g()"], pvars={"var(x)": 0}),
    Row("pvar-truth-empty", "if ($var(x)) f(); else g();", ["g()"], pvars={"var(x)": ""}),
    Row("pvar-truth-text", "if ($var(x)) f(); else g();", ["f()"], pvars={"var(x)": "a"}),
    Row("literal-zero-is-false-not-stop", "if (0) f(); g();", ["g()"]),
    Row("exit", "f(); exit; g();", ["f()"], STOPPED),
    Row("exit-parens", "exit(); g();", [], STOPPED),
    Row("drop", "f(); drop; g();", ["f()"], RunResult(0, dropped=True)),
    Row("fall-off-returns-1", "f();", ["f()"], RunResult(1)),
    Row("return-n-in-main", "return(3); f();", [], RunResult(3)),
    Row("return-negative-in-main", "return(-2);", [], RunResult(-2)),
    Row("return-zero-in-main-is-exit", "return(0);", [], STOPPED),
    Row("return-var", "$var(r) = 5; return($var(r));", [], RunResult(5),
        sets=[("$var(r)", 5, "=")]),
    Row("return-define", "return(BUSY);", [], RunResult(-4), extra="#!define BUSY -4\n"),
]

ELSE_IF = [
    Row(f"else-if-{n}", 'if ($var(n) == 1) a(); else if ($var(n) == 2) b(); else c(); d();',
        [first, "d()"], pvars={"var(n)": n})
    for n, first in ((1, "a()"), (2, "b()"), (3, "c()"))
] + [
    Row("dangling-else-binds-inner", "if (f()) if (g()) a(); else b();", ["f()"],
        results={"f": -1}),
    Row("dangling-else-inner-false", "if (f()) if (g()) a(); else b();", ["f()", "g()", "b()"],
        results={"g": -1}),
]

SWITCH_BODY = """switch ($rU) {
  case "1001": a(); break;
  case "1002": b();
  case "1003": c(); break;
  case 5: five(); break;
  default: other();
}
after();"""

SWITCH = [
    Row("switch-match", SWITCH_BODY, ["a()", "after()"], pvars={"rU": "1001"}),
    Row("switch-fallthrough", SWITCH_BODY, ["b()", "c()", "after()"], pvars={"rU": "1002"}),
    Row("switch-default", SWITCH_BODY, ["other()", "after()"], pvars={"rU": "9"}),
    Row("switch-null-goes-default", SWITCH_BODY, ["other()", "after()"]),
    Row("switch-int-case-numeric-string", SWITCH_BODY, ["five()", "after()"], pvars={"rU": "5"}),
    Row("switch-on-rc", "f(); switch ($rc) { case -1: neg(); break; case 1: pos(); }",
        ["f()", "neg()"], results={"f": -1}),
    Row("switch-on-retcode", "f(); switch ($retcode) { case -2: neg(); break; default: d(); }",
        ["f()", "neg()"], results={"f": -2}),
    Row("break-inside-if-in-case",
        'switch ($rU) { case "1": if (f()) { break; } g(); default: h(); } i();',
        ["f()", "i()"], pvars={"rU": "1"}),
    Row("default-first-falls-through", 'switch ($rU) { default: d(); case "1": one(); }',
        ["d()", "one()"], pvars={"rU": "x"}),
    Row("no-match-no-default", 'switch ($rU) { case "1": one(); } after();', ["after()"]),
]

REGEX = [
    Row("match", 'if ($rU =~ "^[bu]") f();', ["f()"], pvars={"rU": "b1004"}),
    Row("no-match", 'if ($rU =~ "^[bu]") f();', [], pvars={"rU": "1004"}),
    Row("unanchored", 'if ($rU =~ "00") f();', ["f()"], pvars={"rU": "1004"}),
    Row("not-match", 'if ($rU !~ "^[bu]") f();', ["f()"], pvars={"rU": "1004"}),
    Row("case-insensitive", 'if ($rm =~ "^invite$") f();', ["f()"], pvars={"rm": "INVITE"}),
    Row("posix-class", 'if ($rU =~ "^[[:digit:]]+$") f();', ["f()"], pvars={"rU": "1004"}),
    Row("posix-class-no", 'if ($rU =~ "^[[:digit:]]+$") f();', [], pvars={"rU": "b1004"}),
    Row("alternation", 'if ($var(c) =~ "408|480") f();', ["f()"], pvars={"var(c)": 480}),
    Row("null-never-matches", 'if ($rU =~ ".*") f(); if ($rU !~ "x") g();', ["g()"]),
    Row("dynamic-pattern", "if ($rU =~ $var(re)) f();", ["f()"],
        pvars={"rU": "u1001", "var(re)": "^u"}),
    Row("dynamic-null-pattern", "if ($rU =~ $var(re)) f();", [], pvars={"rU": "u1001"}),
    Row("escaped-plus", 'if ($rU =~ "^\\+49") f();', ["f()"], pvars={"rU": "+4930"}),
]

FORMAT = [
    Row("fmt-avp", 'xlog("forwarded to: $avp(callfwd)\\n");',
        ["xlog('forwarded to: sip:2345678@lab\\n')"], pvars={"avp(callfwd)": "sip:2345678@lab"}),
    Row("fmt-s-prefix", 'xlog("$avp(s:callfwd)");', ["xlog('x')"], pvars={"avp(callfwd)": "x"}),
    Row("fmt-null", 'xlog("L_ERR", "> 486 ruri=<$ru>");', ["xlog('L_ERR', '> 486 ruri=<<null>>')"]),
    Row("fmt-int", 'xlog("code $T_reply_code");', ["xlog('code 486')"],
        pvars={"T_reply_code": 486}),
    Row("fmt-index", 'xlog("$(avp(x)[1]) $(hdr(Via)[1]) $hdr(Diversion) $var(v)");',
        ["xlog('b v2 d 3')"],
        pvars={"avp(x)[1]": "b", "hdr(Via)[1]": "v2", "hdr(Diversion)": "d", "var(v)": 3}),
    Row("fmt-rc", 'f(); xlog("rc=$rc retcode=$retcode");', ["f()", "xlog('rc=-1 retcode=-1')"],
        results={"f": -1}),
    Row("fmt-literal-dollar", 'xlog("costs $5 and $ only");', ["xlog('costs $5 and $ only')"]),
    Row("fmt-adjacent", 'xlog("$rU$rd");', ["xlog('1004lab')"], pvars={"rU": "1004", "rd": "lab"}),
    Row("fmt-in-reply-reason", 't_reply("404", "No $rU here");', ["t_reply(404, 'No 1004 here')"],
        pvars={"rU": "1004"}),
    Row("str-arg-not-expanded", 'is_method("$rm");', ["is_method('$rm')"], pvars={"rm": "X"}),
    Row("assignment-string-literal", '$var(x) = "$ru";', [], sets=[("$var(x)", "$ru", "=")]),
    Row("define-in-fmt-arg", "rewritehostport(MS);", ["rewritehostport('ms.lab:5060')"],
        extra='#!define MS "ms.lab:5060"\n'),
]

ROUTES = [
    Row("route-return-negative", "if (route(r)) a(); xlog(\"$rc\"); b(); xlog(\"$rc\");",
        ["xlog('-1')", "b()", "xlog('1')"], extra="route[r] { return(-1); }"),
    Row("route-return-positive", "if (route(r)) a();", ["a()"], extra="route[r] { return(2); }"),
    Row("route-fall-off-is-1", "route(r); $var(x) = $rc;", ["inner()"],
        sets=[("$var(x)", 1, "=")], extra="route[r] { inner(); }"),
    Row("route-bare-return-is-1", "if (route(r)) a();", ["a()"], extra="route[r] { return; }"),
    Row("route-return-zero-stops", "route(r); after();", [], STOPPED,
        extra="route[r] { return(0); }"),
    Row("route-exit-stops-all", "route(r); after();", ["inner()"], STOPPED,
        extra="route[r] { inner(); exit; more(); }"),
    Row("route-drop-stops-all", "route(r); after();", [], RunResult(0, dropped=True),
        extra="route[r] { drop; }"),
    Row("route-value", "$var(x) = route(r);", [], sets=[("$var(x)", -5, "=")],
        extra="route[r] { return(-5); }"),
    Row("nested-routes", "route(a); done();", ["in_b()", "in_a()", "done()"],
        extra="route[a] { route(b); in_a(); } route[b] { in_b(); }"),
    Row("route-declared-before-caller", "route(early);", ["e()"],
        before="route[early] { e(); }\n"),
    Row("rc-tracks-last-call", "f(); g(); $var(x) = $retcode;", ["f()", "g()"],
        sets=[("$var(x)", 3, "=")], results={"f": -1, "g": 3}),
]

VALUES = [
    Row("int-vs-numeric-string", "if ($rs == 200) f();", ["f()"], pvars={"rs": "200"}),
    Row("numeric-string-vs-int-order", 'if ($var(a) < 10) f();', ["f()"], pvars={"var(a)": "9"}),
    Row("strings-lexicographic", 'if ($var(a) < "10") f();', [], pvars={"var(a)": "9"}),
    Row("null-equals-null", "if ($var(a) == NULL) f(); if ($var(a) != NULL) g();", ["f()"]),
    Row("empty-is-not-null", 'if ($var(a) == NULL) f(); if ($var(a) == "") g();', ["g()"],
        pvars={"var(a)": ""}),
    Row("null-not-equal-empty", 'if ($var(a) == "") f();', []),
    Row("null-not-ordered", "if ($var(a) < 1 || $var(a) >= 1) f();", []),
    Row("arithmetic", "$var(x) = 1 + 2 * 3 - 4 / 3 % 2;", [], sets=[("$var(x)", 6, "=")]),
    Row("c-division", "$var(a) = -7 / 2; $var(b) = -7 % 2;", [],
        sets=[("$var(a)", -3, "="), ("$var(b)", -1, "=")]),
    Row("bitwise", "$var(x) = (6 & 3) | 8 ^ 1; $var(y) = ~0;", [],
        sets=[("$var(x)", 11, "="), ("$var(y)", -1, "=")]),
    Row("concat", '$du = "sip:" + $rU + "@ms:" + 5060;', [],
        sets=[("$du", "sip:1004@ms:5060", "=")], pvars={"rU": "1004"}),
    Row("colon-assign", '$avp(fwd) := "a";', [], sets=[("$avp(fwd)", "a", ":=")]),
    Row("null-assign", "$(avp(fwd)[*]) = NULL;", [], sets=[("$(avp(fwd)[*])", None, "=")]),
    Row("core-keywords", 'if (method == "INVITE" && status == 200 && src_port == 5060) f();',
        ["f()"], pvars={"rm": "INVITE", "rs": 200, "sp": 5060}),
    Row("myself", "if (uri == myself) f(); if ($rd != myself) g();", ["f()"],
        pvars={"ru": "sip:127.0.0.1:5060", "rd": "127.0.0.1"}),
    Row("myself-null", "if ($du == myself) f();", []),
    Row("while-loop", "$var(i) = 0; while ($var(i) < 3) { tick(); $var(i) = $var(i) + 1; }",
        ["tick()", "tick()", "tick()"],
        sets=[("$var(i)", n, "=") for n in (0, 1, 2, 3)]),
    Row("while-break", "while (1) { tick(); break; } after();", ["tick()", "after()"]),
]

ALL = TRUTH + ELSE_IF + SWITCH + REGEX + FORMAT + ROUTES + VALUES


@pytest.mark.parametrize("row", ALL, ids=[r.id for r in ALL])
def test_run(row: Row) -> None:
    src = row.before + main(row.body, row.extra)
    result, host = run(src, FakeHost(pvars=row.pvars, results=row.results))
    assert rendered(host) == row.calls
    assert host.sets == row.sets
    assert result == row.result


def test_route_entered_for_top_level_and_route_calls() -> None:
    src = main("route(a);", "route[a] { route(b); }\nroute[b] { }")
    _, host = run(src)
    assert host.entered == [(RouteKind.REQUEST, None), (RouteKind.REQUEST, "a"),
                            (RouteKind.REQUEST, "b")]


def test_failure_and_reply_routes_run_by_kind_and_name() -> None:
    src = main("exit;", 'failure_route[missed] { if (t_check_status("486")) f(); }\n'
                        "onreply_route { g(); }")
    script = load_script(src)
    host = FakeHost(results={"t_check_status": 1})
    assert script.run(RouteKind.FAILURE, "missed", host) == RunResult(1)
    assert host.calls == [("t_check_status", ("486",)), ("f", ())]
    assert host.entered == [(RouteKind.FAILURE, "missed")]
    host = FakeHost()
    script.run(RouteKind.ONREPLY, None, host)
    assert host.names == ["g"]


def test_running_a_missing_route_is_a_runtime_error() -> None:
    script = load_script(main("exit;"))
    with pytest.raises(ScriptRuntimeError, match=r"no failure_route\[nope\]"):
        script.run(RouteKind.FAILURE, "nope", FakeHost())


def test_arguments_by_kind() -> None:
    src = main('avp_db_load("$ru/domain", "$avp(s:callfwd)"); mf_process_maxfwd_header("10");'
               ' xlog(L_WARN, "x"); t_on_failure(missed); t_on_branch("b");',
               "failure_route[missed] { }\nbranch_route[b] { }")
    _, host = run(src)
    load, maxfwd, xlog, on_failure, on_branch = host.raw_args
    assert load[0].value == "$ru/domain"
    assert load[0].pvar is not None and load[0].pvar.name == "ru"
    assert load[1].value == "$avp(s:callfwd)"
    assert load[1].pvar is not None and (load[1].pvar.name, load[1].pvar.key) == ("avp", "callfwd")
    assert maxfwd[0].value == 10
    assert xlog[0].value == "L_WARN"
    assert on_failure[0].value == "missed"
    assert on_branch[0].value == "b"


def test_call_line_numbers_are_passed() -> None:
    _, host = run("route {\n  f();\n\n  g();\n}\n")
    assert host.lines == [2, 4]


def test_assignment_line_and_state_visible_to_later_reads() -> None:
    _, host = run(main('$var(x) = "a"; if ($var(x) == "a") f();'))
    assert host.names == ["f"]


def test_defines_override_from_loader() -> None:
    src = '#!define MEDIA_SERVER "sip:127.0.0.1:15070"\n' + main("$du = MEDIA_SERVER;")
    host = FakeHost()
    load_script(src).run(RouteKind.REQUEST, None, host)
    assert host.sets == [("$du", "sip:127.0.0.1:15070", "=")]
    host = FakeHost()
    load_script(src, defines={"MEDIA_SERVER": '"sip:10.0.0.9:5070"'}).run(
        RouteKind.REQUEST, None, host)
    assert host.sets == [("$du", "sip:10.0.0.9:5070", "=")]
    host = FakeHost()
    load_script(main("$du = MEDIA_SERVER;"), defines={"MEDIA_SERVER": "sip:ms:5060"}).run(
        RouteKind.REQUEST, None, host)
    assert host.sets == [("$du", "sip:ms:5060", "=")]


RUNTIME_ERRORS = [
    ("arith-on-string", "$var(x) = $rU - 1;", {"rU": "abc"}, r"line 2: '-' needs integers"),
    ("arith-on-null", "$var(x) = $rU + 1;", {}, r"line 2: NULL operand"),
    ("division-by-zero", "$var(x) = 1 / $var(z);", {"var(z)": 0}, r"line 2: division by zero"),
    ("bad-dynamic-regex", "if ($rU =~ $var(re)) f();", {"rU": "a", "var(re)": "("},
     r"line 2: invalid regular expression"),
    ("return-non-int", "return($var(r));", {"var(r)": "x"}, r"line 2: return needs an integer"),
    ("unary-on-string", "$var(x) = -$rU;", {"rU": "a"}, r"line 2: '-' needs an integer"),
]


@pytest.mark.parametrize(("body", "pvars", "pattern"), [r[1:] for r in RUNTIME_ERRORS],
                         ids=[r[0] for r in RUNTIME_ERRORS])
def test_runtime_errors_name_the_line(body: str, pvars: dict[str, Value], pattern: str) -> None:
    with pytest.raises(ScriptRuntimeError, match=pattern):
        run(main(body), FakeHost(pvars=pvars))


def test_runaway_while_loop_is_stopped() -> None:
    with pytest.raises(ScriptRuntimeError, match="while loop ran more than 10000 times"):
        run(main("while (1) { f(); }"))


def test_runaway_recursion_is_stopped() -> None:
    with pytest.raises(ScriptRuntimeError, match=r"route\(loop\) nested more than 100 deep"):
        run(main("route(loop);", "route[loop] { route(loop); }"))


def test_recursion_up_to_the_limit_works() -> None:
    src = main("$var(n) = 0; route(down);",
               "route[down] { $var(n) = $var(n) + 1; if ($var(n) < 99) route(down); }")
    result, host = run(src)
    assert result == RunResult(1)
    assert host.pvars["var(n)"] == 99


def test_script_is_reusable_across_hosts() -> None:
    script = load_script(main("if ($rU == \"1\") a(); else b();"))
    hosts = [FakeHost(pvars={"rU": str(n)}) for n in (1, 2, 1)]
    for h in hosts:
        script.run(RouteKind.REQUEST, None, h)
    assert [h.names for h in hosts] == [["a"], ["b"], ["a"]]
