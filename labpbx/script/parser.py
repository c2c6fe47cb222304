"""Script text -> labpbx.script.ast.ScriptAst, with syntax errors a learner can act on.

Rules of this module:
  * The lark parser is built lazily, once per process (functools.lru_cache), from grammar.lark next
    to this file. No on-disk lark cache: the package may be read-only (PyInstaller, system site).
  * Parsing goes token by token through lark's interactive parser so that, on an error, we know the
    token before the offending one (to say "missing ';'" right after it), the still-open '{' (to say
    which block is unbalanced) and the exact set of tokens the parser would have accepted.
  * Every failure leaves as ScriptSyntaxError(message, file, line, column, text, context) with
    1-based positions; ``context`` is the source line plus a caret under the column.
"""

from __future__ import annotations

import functools
from pathlib import Path

from lark import Lark, Token, Tree, UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.exceptions import VisitError
from lark.parsers.lalr_interactive_parser import InteractiveParser

from labpbx.errors import ScriptError, ScriptSyntaxError
from labpbx.script import ast
from labpbx.script.transform import ToAst

GRAMMAR_PATH = Path(__file__).with_name("grammar.lark")

# How terminals are named in messages.
_TERMINAL_TEXT = {
    "_SEMI": "';'", "_COMMA": "','", "_COLON": "':'", "_LPAR": "'('", "_RPAR": "')'",
    "_LBRACE": "'{'", "_RBRACE": "'}'", "_LSQB": "'['", "_RSQB": "']'", "EQUAL": "'='",
    "COLON_EQUAL": "':='", "_OR": "'||'", "_AND": "'&&'", "_NOT": "'!'", "EQ_OP": "'=='",
    "REL_OP": "a comparison", "MATCH_OP": "'=~'", "BIT_OR": "'|'", "BIT_XOR": "'^'", "BIT_AND": "'&'",
    "BIT_NOT": "'~'", "PLUS": "'+'", "MINUS": "'-'", "STAR": "'*'", "SLASH": "'/'",
    "PERCENT": "'%'", "NAME": "a name", "INT": "a number", "STRING": "a string",
    "PVAR": "a pseudo-variable", "RAW_VALUE": "a value", "DIRECTIVE": "a #! directive",
    "$END": "end of file", "NULL": "NULL", "NULL_LC": "null",
}
_MAX_EXPECTED_SHOWN = 8
# Tokens that begin a statement: seeing one where ';' was possible means the ';' was forgotten.
_STATEMENT_STARTS = frozenset({
    "NAME", "PVAR", "ROUTE", "DIRECTIVE", "_IF", "_ELSE", "_WHILE", "_SWITCH", "_CASE", "_DEFAULT",
    "_BREAK", "_RETURN", "_EXIT", "_DROP", "_LBRACE", "_RBRACE",
})


@functools.lru_cache(maxsize=1)
def lark_parser() -> Lark:
    """The LALR parser (contextual lexer, positions kept), built on first use."""
    return Lark(
        GRAMMAR_PATH.read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
    )


def parse_script(text: str, file: str = "<script>") -> ast.ScriptAst:
    """Parse a whole script. Raises ScriptSyntaxError; names are not checked here."""
    tree = _parse_tree(text, file)
    try:
        result = ToAst().transform(tree)
    except VisitError as err:
        orig = err.orig_exc
        if isinstance(orig, ScriptError):
            raise _located(text, file, orig.message, orig.line, orig.column, orig.text) from None
        raise
    assert isinstance(result, ast.ScriptAst)
    return result


def _parse_tree(text: str, file: str) -> Tree[Token]:
    parser = lark_parser()
    ip = parser.parse_interactive(text)
    prev: Token | None = None
    cur: Token | None = None
    open_braces: list[Token] = []
    depth_before = 0  # open '{' count before ``cur``
    try:
        for tok in ip.iter_parse():
            prev, cur = cur, tok
            depth_before = len(open_braces)
            if tok.type == "_LBRACE":
                open_braces.append(tok)
            elif tok.type == "_RBRACE" and open_braces:
                open_braces.pop()
        tree: Tree[Token] = ip.feed_eof(cur)  # type: ignore[no-untyped-call]
        return tree
    except UnexpectedToken as err:
        before = prev if err.token is cur else cur
        depth = depth_before if err.token is cur else len(open_braces)
        raise _token_error(text, file, err.token, before, ip, open_braces, depth) from None
    except UnexpectedCharacters as err:
        raise _char_error(text, file, err) from None
    except UnexpectedInput as err:  # pragma: no cover - lark has no other LALR error kinds today
        raise _located(text, file, "syntax error", err.line, err.column, "") from None


def _token_error(
    text: str, file: str, tok: Token, before: Token | None, ip: InteractiveParser,
    open_braces: list[Token], depth: int,
) -> ScriptSyntaxError:
    try:
        expected: set[str] = set(ip.accepts())  # type: ignore[no-untyped-call]
    except UnexpectedInput:  # pragma: no cover - defensive: accepts() replays the parser
        expected = set()
    value = str(tok.value)
    rest = text[tok.start_pos:] if tok.start_pos is not None else ""
    if tok.type == "RAW_VALUE" or rest.startswith("/*"):
        # Only the root lexer's catch-all matched: this is really a lexical error.
        return _lexical_error(text, file, rest, tok.line or 1, tok.column or 1)
    if tok.type == "$END":
        if open_braces:
            brace = open_braces[-1]
            return _located(
                text, file, "unbalanced '{': this block is never closed (missing '}')",
                brace.line or 1, brace.column or 1, "{",
            )
        if "_SEMI" in expected and before is not None and depth > 0:
            return _after(text, file, "missing ';'", before, "")
        return _at(text, file, f"unexpected end of file; expected {_describe(expected)}", tok, "")
    if tok.type == "_RBRACE" and depth == 0:
        return _at(text, file, "unbalanced '}': there is no open block to close", tok, value)
    if before is not None and before.type == "NAME" and str(before) == "else":
        return _at(text, file, "'else' without a matching 'if' (is there a ';' before it?)",
                   before, "else")
    if tok.type in ("EQUAL", "COLON_EQUAL") and before is not None and before.type == "NAME":
        return _at(text, file, f"cannot assign to {str(before)!r}: only pseudo-variables can be "
                   "assigned, e.g. $var(x) = 1;", before, str(before))
    if ("_SEMI" in expected and depth > 0 and tok.type in _STATEMENT_STARTS
            and before is not None and before.type not in ("_SEMI", "_LBRACE", "_RBRACE")):
        return _after(text, file, "missing ';'", before, value)
    if "_RPAR" in expected and before is not None and tok.type in ("_LBRACE", "_RBRACE", "_SEMI"):
        return _after(text, file, "missing ')'", before, value)
    if tok.type == "_ELSE":
        return _at(text, file, "'else' without a matching 'if'", tok, value)
    what = _TERMINAL_TEXT.get(tok.type, repr(value))
    if tok.type in ("NAME", "INT", "STRING", "PVAR"):
        what = repr(value)
    return _at(text, file, f"unexpected {what}; expected {_describe(expected)}", tok, value)


def _char_error(text: str, file: str, err: UnexpectedCharacters) -> ScriptSyntaxError:
    return _lexical_error(text, file, text[err.pos_in_stream:], err.line, err.column)


def _lexical_error(text: str, file: str, rest: str, line: int, column: int) -> ScriptSyntaxError:
    """Characters that start no token: an open quote, an open comment, a bad '$' ..."""
    rest = rest.split("\n", 1)[0]
    char = rest[:1]
    if char in ("'", '"'):
        message, shown = "unterminated string (the closing quote is missing on this line)", rest
    elif rest.startswith("/*"):
        message, shown = "unterminated comment: '/*' without '*/'", "/*"
    elif char == "$":
        message, shown = "malformed pseudo-variable", rest.split()[0]
    else:
        message, shown = f"unexpected character {char!r}", char
    return _located(text, file, message, line, column, shown.strip())


def _describe(expected: set[str]) -> str:
    names = sorted({_TERMINAL_TEXT.get(t, t.strip("_").lower()) for t in expected})
    if not names:
        return "nothing more"
    if len(names) > _MAX_EXPECTED_SHOWN:
        names = [*names[:_MAX_EXPECTED_SHOWN], "..."]
    return ", ".join(names)


def _at(text: str, file: str, message: str, tok: Token, shown: str) -> ScriptSyntaxError:
    return _located(text, file, message, tok.line or 1, tok.column or 1, shown)


def _after(text: str, file: str, message: str, tok: Token, shown: str) -> ScriptSyntaxError:
    line = tok.end_line or tok.line or 1
    column = tok.end_column or tok.column or 1
    return _located(text, file, message, line, column, shown)


def _located(
    text: str, file: str, message: str, line: int, column: int, shown: str
) -> ScriptSyntaxError:
    return ScriptSyntaxError(
        message, file=file, line=line, column=column, text=shown,
        context=source_context(text, line, column),
    )


def source_context(text: str, line: int, column: int) -> str:
    """The source line and a caret under ``column`` (tabs copied so the caret lines up)."""
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return ""
    src = lines[line - 1]
    pad = "".join(c if c == "\t" else " " for c in src[: max(column - 1, 0)])
    return f"{src}\n{pad}^"
