"""The grammar (labpbx/script/grammar.lark) and the parse tree -> AST transformer, construct by
construct. Each row is a snippet and the AST written back as a compact s-expression."""

from __future__ import annotations

import pytest
from lark import Lark
from lark.exceptions import LexError

from labpbx.script import ast
from labpbx.script.host import RouteKind
from labpbx.script.parser import GRAMMAR_PATH, lark_parser, parse_script
from tests.script.conftest import main


def sx(node: object) -> str:
    """A compact, readable rendering of an AST node."""
    if isinstance(node, ast.StrLit):
        return repr(node.value)
    if isinstance(node, ast.IntLit):
        return str(node.value)
    if isinstance(node, ast.NullLit):
        return "NULL"
    if isinstance(node, ast.PVarRef):
        pv = node.pv
        inner = pv.name if pv.key is None else f"{pv.name}({pv.key})"
        return f"$({inner}[{pv.index}])" if pv.index is not None else f"${inner}"
    if isinstance(node, ast.NameRef):
        return node.name
    if isinstance(node, ast.Call):
        return f"{node.name}({', '.join(sx(a) for a in node.args)})"
    if isinstance(node, ast.RouteCall):
        return f"route({node.name})"
    if isinstance(node, ast.Not):
        return f"!{sx(node.operand)}"
    if isinstance(node, ast.Logical | ast.Compare | ast.BinOp):
        return f"({sx(node.left)} {node.op} {sx(node.right)})"
    if isinstance(node, ast.Match):
        return f"({sx(node.left)} {'!~' if node.negate else '=~'} {sx(node.right)})"
    if isinstance(node, ast.Myself):
        return f"({sx(node.operand)} {'!=' if node.negate else '=='} myself)"
    if isinstance(node, ast.Unary):
        return f"({node.op}{sx(node.operand)})"
    if isinstance(node, ast.Block):
        return "{" + "; ".join(sx(s) for s in node.body) + "}"
    if isinstance(node, ast.If):
        tail = f" else {sx(node.orelse)}" if node.orelse is not None else ""
        return f"if {sx(node.cond)} {sx(node.then)}{tail}"
    if isinstance(node, ast.While):
        return f"while {sx(node.cond)} {sx(node.body)}"
    if isinstance(node, ast.Switch):
        cases = "; ".join(
            ("default" if c.value is None else f"case {sx(c.value)}")
            + ": " + " ".join(sx(s) for s in c.body) for c in node.cases
        )
        return f"switch {sx(node.subject)} [{cases}]"
    if isinstance(node, ast.Assign):
        return f"{sx(node.target)} {node.op} {sx(node.value)}"
    if isinstance(node, ast.CallStmt):
        return sx(node.call)
    if isinstance(node, ast.Return):
        return "return" if node.value is None else f"return {sx(node.value)}"
    if isinstance(node, ast.Exit | ast.Drop | ast.Break):
        return type(node).__name__.lower()
    if isinstance(node, ast.Directive):
        return f"#!{node.name} {node.symbol} {node.value}"
    raise AssertionError(f"no rendering for {node!r}")


def body_of(src: str) -> str:
    tree = parse_script(main(src))
    block = tree.items[0]
    assert isinstance(block, ast.RouteBlock)
    return "; ".join(sx(s) for s in block.body.body)


STATEMENTS = [
    # calls and arguments
    ("t_relay();", "t_relay()"),
    ('xlog("L_ERR", "a\\tb\\n");', "xlog('L_ERR', 'a\\tb\\n')"),
    ("sl_send_reply(404, 'Not Found');", "sl_send_reply(404, 'Not Found')"),
    ('xlog(L_ERR, "x");', "xlog(L_ERR, 'x')"),
    ("strip(-2);", "strip(-2)"),
    ('f("q\\"uote", \'it\\\'s\', "back\\\\slash", "re\\+gex");',
     "f('q\"uote', \"it's\", 'back\\\\slash', 're\\\\+gex')"),
    # control flow
    ("if (f()) exit;", "if f() exit"),
    ("if (f()) exit; else drop;", "if f() exit else drop"),
    ("if (f()) { exit; } else if (g()) { drop; } else { return; }",
     "if f() {exit} else if g() {drop} else {return}"),
    ("if (a()) if (b()) exit; else drop;", "if a() if b() exit else drop"),
    ("if (a()) { if (b()) exit; } else drop;", "if a() {if b() exit} else drop"),
    ("{ { exit; } }", "{{exit}}"),
    (";", "{}"),
    ("if (f()) { };", "if f() {}; {}"),
    ("while ($var(i) < 3) { $var(i) = $var(i) + 1; }",
     "while ($var(i) < 3) {$var(i) = ($var(i) + 1)}"),
    ('switch ($rU) { case "1": f(); break; case -2: case 3: g(); default: h(); }',
     "switch $rU [case '1': f() break; case -2: ; case 3: g(); default: h()]"),
    ("switch ($rc) { }", "switch $rc []"),
    # assignments
    ("$var(x) = 1;", "$var(x) = 1"),
    ('$avp(s:callfwd) := "a";', "$avp(callfwd) := 'a'"),
    ("$(avp(x)[*]) = NULL;", "$(avp(x)[*]) = NULL"),
    ("$(avp(x)[append]) = 5;", "$(avp(x)[append]) = 5"),
    ("$du = null;", "$du = NULL"),
    ("$du = $null;", "$du = NULL"),
    ("$du = MEDIA_SERVER;", "$du = MEDIA_SERVER"),
    ("$ru = $avp(callfwd);", "$ru = $avp(callfwd)"),
    # return / exit / drop / route
    ("return;", "return"),
    ("return(-1);", "return -1"),
    ("return(2);", "return 2"),
    ("return -3;", "return -3"),
    ("return($var(rc));", "return $var(rc)"),
    ("exit;", "exit"),
    ("exit();", "exit"),
    ("drop;", "drop"),
    ("drop();", "drop"),
    ("route(relay);", "route(relay)"),
    ('route("relay");', "route(relay)"),
    ("route(5);", "route(5)"),
    ("if (route(check)) exit;", "if route(check) exit"),
    ("#!define X 1\nexit;", "#!define X 1; exit"),
    # comments
    ("t_relay(); # trailing comment\n/* block\ncomment */ exit;", "t_relay(); exit"),
]

EXPRESSIONS = [
    ("1 + 2 * 3", "(1 + (2 * 3))"),
    ("(1 + 2) * 3", "((1 + 2) * 3)"),
    ("10 - 4 - 3", "((10 - 4) - 3)"),
    ("7 / 2 % 3", "((7 / 2) % 3)"),
    ("1 | 2 ^ 3 & 4", "(1 | (2 ^ (3 & 4)))"),
    ("~1 + -$var(x)", "((~1) + (-$var(x)))"),
    ("- 5", "-5"),
    ("0x1F", "31"),
    ("a() || b() && c()", "(a() || (b() && c()))"),
    ("!a() && b()", "(!a() && b())"),
    ("!(a() || b())", "!(a() || b())"),
    ("!!a()", "!!a()"),
    ("$var(x) == 1 | 2", "($var(x) == (1 | 2))"),
    ("$rs != 200", "($rs != 200)"),
    ("$var(a) < 1 || $var(a) > 2 || $var(a) <= 3 || $var(a) >= 4",
     "(((($var(a) < 1) || ($var(a) > 2)) || ($var(a) <= 3)) || ($var(a) >= 4))"),
    ('$rU =~ "^[bu]"', "($rU =~ '^[bu]')"),
    ('$rU !~ "^1"', "($rU !~ '^1')"),
    ("uri == myself", "($ru == myself)"),
    ("$rd != myself", "($rd != myself)"),
    ('method == "INVITE"', "($rm == 'INVITE')"),
    ("status == 200", "($rs == 200)"),
    ('from_uri =~ "a" && to_uri =~ "b"', "(($fu =~ 'a') && ($tu =~ 'b'))"),
    ('src_ip == "1.2.3.4" && src_port == 5060', "(($si == '1.2.3.4') && ($sp == 5060))"),
    ("$rU == NULL", "($rU == NULL)"),
    ('"sip:" + $rU', "('sip:' + $rU)"),
    ("$(avp(callfwd)[1])", "$(avp(callfwd)[1])"),
    ("$(avp(x)[-1])", "$(avp(x)[-1])"),
    ("$(hdr(Via)[1])", "$(hdr(Via)[1])"),
    ("$hdr(Diversion)", "$hdr(Diversion)"),
    ("$T_reply_code", "$T_reply_code"),
    ("route(r) > 0", "(route(r) > 0)"),
    ("MAX", "MAX"),
]


@pytest.mark.parametrize(("src", "expected"), STATEMENTS)
def test_statement(src: str, expected: str) -> None:
    assert body_of(src) == expected


@pytest.mark.parametrize(("src", "expected"), EXPRESSIONS)
def test_expression(src: str, expected: str) -> None:
    assert body_of(f"$var(r) = {src};") == f"$var(r) = {expected}"


TOP_LEVEL = [
    ("listen = udp:127.0.0.1:5060   # the lab port", ast.GlobalParam, "listen", "udp:127.0.0.1:5060"),
    ("listen=udp:127.0.0.1:5060;", ast.GlobalParam, "listen", "udp:127.0.0.1:5060"),
    ('alias="lab.example"', ast.GlobalParam, "alias", "lab.example"),
    ("children = 4", ast.GlobalParam, "children", 4),
    ("debug_mode=yes", ast.GlobalParam, "debug_mode", 1),
    ("auto_aliases=no", ast.GlobalParam, "auto_aliases", 0),
    ("log_facility=LOG_LOCAL0", ast.GlobalParam, "log_facility", "LOG_LOCAL0"),
    ('mpath="/usr/lib/opensips/modules/"', ast.GlobalParam, "mpath", "/usr/lib/opensips/modules/"),
    ("mpath=/usr/lib/opensips/modules/", ast.GlobalParam, "mpath", "/usr/lib/opensips/modules/"),
    ('loadmodule "tm.so"', ast.LoadModule, "path", "tm.so"),
    ('loadmodule "/usr/lib/opensips/modules/sl.so";', ast.LoadModule, "path",
     "/usr/lib/opensips/modules/sl.so"),
    ('#!define MEDIA_SERVER "sip:127.0.0.1:15070"', ast.Directive, "value",
     '"sip:127.0.0.1:15070"'),
    ("#!define TIMEOUT 10 # seconds", ast.Directive, "value", "10"),
]


@pytest.mark.parametrize(("src", "node_type", "field", "value"), TOP_LEVEL)
def test_top_level_item(src: str, node_type: type[ast.Node], field: str, value: object) -> None:
    tree = parse_script(src + "\nroute { exit; }\n")
    item = tree.items[0]
    assert isinstance(item, node_type)
    if isinstance(item, ast.GlobalParam):  # field is the parameter's name
        assert (item.name, item.value) == (field, value)
    else:
        assert getattr(item, field) == value


@pytest.mark.parametrize(("src", "module", "param", "value"), [
    ('modparam("tm", "fr_inv_timeout", 10)', "tm", "fr_inv_timeout", ast.IntLit),
    ('modparam("usrloc", "db_url", "text:///tmp/db");', "usrloc", "db_url", ast.StrLit),
    ("modparam('tm', 'fr_timeout', TIMEOUT)", "tm", "fr_timeout", ast.NameRef),
])
def test_modparam(src: str, module: str, param: str, value: type[ast.Node]) -> None:
    item = parse_script(src).items[0]
    assert isinstance(item, ast.ModParam)
    assert (item.module, item.param) == (module, param)
    assert isinstance(item.value, value)


@pytest.mark.parametrize(("src", "kind", "name"), [
    ("route { }", RouteKind.REQUEST, None),
    ("route[0] { }", RouteKind.REQUEST, None),
    ("route[relay] { }", RouteKind.REQUEST, "relay"),
    ("route[12] { }", RouteKind.REQUEST, "12"),
    ('route["with-dash"] { }', RouteKind.REQUEST, "with-dash"),
    ("failure_route[missed_call] { }", RouteKind.FAILURE, "missed_call"),
    ("onreply_route { }", RouteKind.ONREPLY, None),
    ("onreply_route[handle_nat] { }", RouteKind.ONREPLY, "handle_nat"),
    ("branch_route[per_branch_ops] { }", RouteKind.BRANCH, "per_branch_ops"),
    ("local_route { }", RouteKind.LOCAL, None),
    ("error_route { }", RouteKind.ERROR, None),
    ("startup_route { }", RouteKind.STARTUP, None),
])
def test_route_block_header(src: str, kind: RouteKind, name: str | None) -> None:
    block = parse_script(src).items[0]
    assert isinstance(block, ast.RouteBlock)
    assert (block.kind, block.name) == (kind, name)


def test_positions_point_at_the_first_character() -> None:
    tree = parse_script('route {\n  if ($rU == NULL) {\n     t_reply("484", "x");\n  }\n}\n')
    block = tree.items[0]
    assert isinstance(block, ast.RouteBlock)
    stmt = block.body.body[0]
    assert isinstance(stmt, ast.If)
    assert (stmt.line, stmt.column) == (2, 3)
    assert isinstance(stmt.cond, ast.Compare)
    assert (stmt.cond.left.line, stmt.cond.left.column) == (2, 7)
    inner = stmt.then
    assert isinstance(inner, ast.Block)
    call = inner.body[0]
    assert (call.line, call.column) == (3, 6)


def test_keywords_are_names_where_no_keyword_fits() -> None:
    # "method", "status" and "route" are keywords only where the grammar could accept them.
    src = 'route { xlog(method, status); } route[uri] { exit; }'
    tree = parse_script(src)
    first = tree.items[0]
    assert isinstance(first, ast.RouteBlock)
    assert body_of("xlog(method, status);") == "xlog(method, status)"
    second = tree.items[1]
    assert isinstance(second, ast.RouteBlock)
    assert second.name == "uri"


def test_grammar_has_no_conflicts() -> None:
    # lark's strict mode refuses shift/reduce conflicts while building the LALR table; the lexer
    # part of strict mode needs the optional interegular package, which is checked last.
    try:
        Lark(GRAMMAR_PATH.read_text(), parser="lalr", strict=True)
    except LexError as err:
        assert "interegular" in str(err)


def test_parser_is_built_once() -> None:
    assert lark_parser() is lark_parser()
