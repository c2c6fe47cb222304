"""Loading whole scripts: the tutorial's snippets (SEED.md), the SEMANTICS.md §4 reference config,
and what a loaded Script exposes (globals, modules, modparams, defines, routes)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from labpbx.errors import ScriptSemanticError
from labpbx.script import RouteKind, RunResult, Value, load_script
from tests.script.conftest import FakeHost, main

SEMANTICS = Path("/work/shared/docs/SEMANTICS.md")

SEED_REQUEST = """
    if (avp_db_load("$ru", "$avp(callfwd)")) {
        $ru = $avp(callfwd);
        xlog("forwarded to: $avp(callfwd)");
    }
"""
SEED_BUSY = """
    if (t_check_status("486")) {
        revert_uri();
        prefix("b");            # tells the media server to play the "busy" message
        xlog("L_ERR", "> 486 ruri=<$ru>");
        route(media);
        route(relay);
        exit;
    }
"""
SEED_NO_ANSWER = """
    if (t_check_status("408") || t_check_status("480")) {
        revert_uri();
        prefix("u");            # tells the media server to play the "unavailable" message
        xlog("L_ERR", "> 480 ruri=<$ru>");
        route(media);
        route(relay);
        exit;
    }
"""
TUTORIAL = f"""
modparam("tm", "fr_inv_timeout", 10)
route {{
{SEED_REQUEST}
    route(relay);
}}
route[relay] {{
    t_on_failure("missed_call");
    t_relay();
    exit;
}}
failure_route[missed_call] {{
{SEED_BUSY}
{SEED_NO_ANSWER}
}}
route[media] {{ $du = "sip:127.0.0.1:15070"; }}
"""


def status_is(code: int) -> Callable[[tuple[Value, ...]], int]:
    """A t_check_status stand-in: its regex argument against the reply code."""
    return lambda args: 1 if re.search(str(args[0]), str(code)) else -1


@pytest.mark.parametrize(("snippet", "kind"), [
    (SEED_REQUEST, RouteKind.REQUEST), (SEED_BUSY, RouteKind.FAILURE),
    (SEED_NO_ANSWER, RouteKind.FAILURE),
])
def test_seed_snippet_loads_in_its_route(snippet: str, kind: RouteKind) -> None:
    extra = "route[media] { }\nroute[relay] { }\n"
    if kind is RouteKind.FAILURE:
        src = main("exit;", f"failure_route[f] {{\n{snippet}\n}}\n{extra}")
    else:
        src = main(snippet, extra)
    load_script(src, "seed.cfg")


def test_seed_modparam() -> None:
    script = load_script('modparam("tm", "fr_inv_timeout", 10)\n' + main("exit;"))
    assert script.modparams == {("tm", "fr_inv_timeout"): 10}


def test_tutorial_unconditional_forward() -> None:
    script = load_script(TUTORIAL, "tutorial.cfg")
    host = FakeHost(pvars={"ru": "sip:1004@127.0.0.1", "avp(callfwd)": "sip:2345678@127.0.0.1"})
    result = script.run(RouteKind.REQUEST, None, host)
    assert result == RunResult(0, exited=True)
    assert host.events == [
        ("route", "route", None),
        ("call", "avp_db_load", ("$ru", "$avp(callfwd)")),
        ("set", "$ru", "sip:2345678@127.0.0.1", "="),
        ("call", "xlog", ("forwarded to: sip:2345678@127.0.0.1",)),
        ("route", "route", "relay"),
        ("call", "t_on_failure", ("missed_call",)),
        ("call", "t_relay", ()),
    ]


@pytest.mark.parametrize(("code", "prefix"), [(486, "b"), (408, "u"), (480, "u")])
def test_tutorial_failure_route(code: int, prefix: str) -> None:
    script = load_script(TUTORIAL, "tutorial.cfg")
    host = FakeHost(pvars={"ru": f"sip:{prefix}1001@127.0.0.1"},
                    results={"t_check_status": status_is(code)})
    result = script.run(RouteKind.FAILURE, "missed_call", host)
    assert result == RunResult(0, exited=True)
    assert ("prefix", (prefix,)) in host.calls
    assert host.names[-3:] == ["xlog", "t_on_failure", "t_relay"]
    assert ("$du", "sip:127.0.0.1:15070", "=") in host.sets
    log = next(args for name, args in host.calls if name == "xlog")
    assert log == ("L_ERR", f"> {486 if code == 486 else 480} ruri=<sip:{prefix}1001@127.0.0.1>")


def test_tutorial_failure_route_other_code_does_nothing() -> None:
    host = FakeHost(results={"t_check_status": status_is(500)})
    result = load_script(TUTORIAL).run(RouteKind.FAILURE, "missed_call", host)
    assert result == RunResult(1)
    assert host.names == ["t_check_status", "t_check_status", "t_check_status"]


def test_reference_config_loads_and_runs(reference_cfg: str) -> None:
    script = load_script(reference_cfg, "reference.cfg")
    assert set(script.routes[RouteKind.REQUEST]) == {None, "relay", "media"}
    assert script.has_route(RouteKind.FAILURE, "missed_call")
    assert script.has_route(RouteKind.BRANCH, "per_branch_ops")
    invite = FakeHost(
        pvars={"rU": "1004", "ru": "sip:1004@127.0.0.1", "avp(callfwd)": None},
        results={"has_totag": -1, "loose_route": -1, "avp_db_load": -1,
                 "is_method": lambda args: 1 if "INVITE" in str(args[0]).split("|") else -1},
    )
    assert script.run(RouteKind.REQUEST, None, invite) == RunResult(0, exited=True)
    assert invite.names == [
        "mf_process_maxfwd_header", "has_totag", "is_method", "t_check_trans", "loose_route",
        "is_method", "record_route", "is_method", "avp_db_load", "lookup", "is_method",
        "t_on_branch", "t_on_reply", "t_on_failure", "t_relay",
    ]
    busy = FakeHost(results={"t_was_cancelled": -1, "t_check_status": status_is(486),
                             "is_method": 1})
    script.run(RouteKind.FAILURE, "missed_call", busy)
    assert ("prefix", ("b",)) in busy.calls
    assert busy.sets == [("$du", "sip:MEDIA_SERVER:5060", "=")]
    cancelled = FakeHost(results={"t_was_cancelled": 1})
    script.run(RouteKind.FAILURE, "missed_call", cancelled)
    assert cancelled.names == ["t_was_cancelled"]


def test_reference_config_max_forwards_exhausted(reference_cfg: str) -> None:
    host = FakeHost(results={"mf_process_maxfwd_header": -1})
    load_script(reference_cfg).run(RouteKind.REQUEST, None, host)
    assert host.calls == [("mf_process_maxfwd_header", (10,)),
                          ("sl_send_reply", (483, "Too Many Hops"))]


@pytest.mark.skipif(not SEMANTICS.exists(), reason="shared docs not available")
def test_semantics_section_4_as_published() -> None:
    """The §4 block from the doc itself, with only its "..." placeholder and the two blocks it
    names but does not show filled in."""
    text = SEMANTICS.read_text(encoding="utf-8")
    block = text.split("## 4. Reference config", 1)[1].split("```", 2)[1]
    cfg = block.replace('{ ... "403 Preload Route denied"; exit; }',
                        '{ sl_send_reply("403", "Preload Route denied"); exit; }')
    with pytest.raises(ScriptSemanticError, match=r"no branch_route\[per_branch_ops\]"):
        load_script(cfg)  # §4 arms a branch route it does not define
    load_script(cfg + "branch_route[per_branch_ops] { }\nonreply_route[handle_nat] { }\n")


FULL = """#!define MEDIA_SERVER "sip:127.0.0.1:15070"
#!trydef TIMEOUT 10
#!trydef TIMEOUT 20
/* globals */
debug_mode=yes
listen = udp:127.0.0.1:5060
alias="lab.example"
children=4
mpath="/usr/lib/opensips/modules/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "/usr/lib/opensips/modules/rr.so"
loadmodule "tm.so"
modparam("tm", "fr_inv_timeout", 30)
modparam("tm", "fr_inv_timeout", TIMEOUT)
modparam("usrloc", "db_url", "text:///tmp") ;
loadmodule "usrloc.so"
route { route(media); }
route[media] { $du = MEDIA_SERVER; }
failure_route[missed_call] { }
onreply_route { }
onreply_route[handle_nat] { }
branch_route[per_branch] { }
local_route { }
error_route { }
startup_route { }
"""


def test_script_exposes_its_declarations() -> None:
    script = load_script(FULL, "full.cfg")
    assert script.file == "full.cfg"
    assert script.globals == {"debug_mode": 1, "listen": "udp:127.0.0.1:5060",
                              "alias": "lab.example", "children": 4,
                              "mpath": "/usr/lib/opensips/modules/"}
    assert script.modules == ("tm", "sl", "rr", "usrloc")
    assert script.modparams == {("tm", "fr_inv_timeout"): 10, ("usrloc", "db_url"): "text:///tmp"}
    assert script.defines == {"MEDIA_SERVER": '"sip:127.0.0.1:15070"', "TIMEOUT": "10"}
    expected: dict[RouteKind, set[str | None]] = {
        RouteKind.REQUEST: {None, "media"}, RouteKind.FAILURE: {"missed_call"},
        RouteKind.ONREPLY: {None, "handle_nat"}, RouteKind.BRANCH: {"per_branch"},
        RouteKind.LOCAL: {None}, RouteKind.ERROR: {None}, RouteKind.STARTUP: {None},
    }
    assert {k: set(v) for k, v in script.routes.items()} == expected
    for kind, names in expected.items():
        for name in names:
            assert script.has_route(kind, name)
    assert not script.has_route(RouteKind.FAILURE, "other")
    assert "full.cfg" in repr(script)


def test_define_override_changes_modparam_and_values() -> None:
    script = load_script(FULL, defines={"TIMEOUT": "45", "MEDIA_SERVER": "sip:10.1.1.1:5060"})
    assert script.modparams[("tm", "fr_inv_timeout")] == 45
    host = FakeHost()
    script.run(RouteKind.REQUEST, None, host)
    assert host.sets == [("$du", "sip:10.1.1.1:5060", "=")]


@pytest.mark.parametrize(("raw", "value"), [
    ('"sip:127.0.0.1:15070"', "sip:127.0.0.1:15070"), ("'single'", "single"), ("10", 10),
    ("-3", -3), ("sip:bare:5060", "sip:bare:5060"), ('"esc\\"aped"', 'esc"aped'),
])
def test_define_values(raw: str, value: Value) -> None:
    host = FakeHost()
    load_script(f"#!define X {raw}\n" + main("$var(x) = X;")).run(RouteKind.REQUEST, None, host)
    assert host.sets == [("$var(x)", value, "=")]


def test_define_inside_a_route_block_is_global() -> None:
    host = FakeHost()
    src = main("$var(x) = LATER;", 'route[r] {\n#!define LATER "yes"\n}\n')
    load_script(src).run(RouteKind.REQUEST, None, host)
    assert host.sets == [("$var(x)", "yes", "=")]


def test_defines_can_name_routes_and_levels_in_arguments() -> None:
    src = ('#!define FAIL "missed"\n#!define LVL "L_INFO"\n'
           + main('t_on_failure(FAIL); xlog(LVL, "x");', "failure_route[missed] { }\n"))
    host = FakeHost()
    load_script(src).run(RouteKind.REQUEST, None, host)
    assert host.calls == [("t_on_failure", ("missed",)), ("xlog", ("L_INFO", "x"))]
