"""The routing script as a view sees it: check text, name what runs, list the language's words.

Rules of this module:
- Pure, no Qt, no I/O: the window's script editor uses it (it may not import labpbx.script),
  and so can a test or a terminal tool. Checking runs the proxy's own loader
  (labpbx.script.diagnostics), with the #!define overrides the lab's proxy gets
  (``RunningScript.defines``), so text that passes here is text the proxy loads.
- Checking the default script (198 lines) takes 7 ms once lark's parser exists and 65 ms the
  first time in a process (the parser is built then); on a loaded 2-core machine 14 ms (28 ms
  at worst) and 175 ms: a GUI runs it on a worker thread.
- ``ScriptRefused`` is the one error for "this script was not applied": ``component`` says who
  refused it ("lab": the check before anything was written; "proxy": the proxy's own load), and
  ``diagnostics`` where. The running script stays in both cases.
- The word lists (keywords, functions, pseudo-variables) come from the grammar and the function
  registry, so the highlighter colours what the checker accepts. ``highlight_spans`` cuts one
  line into coloured spans the way the grammar's lexer does (strings and comments first, a
  ``/* … */`` comment may span lines); an unknown function name stays plain, as a hint.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from labpbx.lab.config import LabError
from labpbx.script.diagnostics import Diagnostic as ScriptDiagnostic
from labpbx.script.diagnostics import diagnose
from labpbx.script.functions import FUNCTIONS, KEYED_PVARS, PVARS, XLOG_LEVELS

__all__ = [
    "CORE_VARIABLES", "FUNCTION_NAMES", "KEYED_PSEUDO_VARIABLES", "KEYWORDS", "PSEUDO_VARIABLES",
    "XLOG_LEVEL_NAMES", "RunningScript", "ScriptDiagnostic", "ScriptRefused", "Span", "SpanKind",
    "check_script_text", "highlight_spans",
]

# The statement keywords and block types of the grammar (labpbx/script/grammar.lark).
KEYWORDS: tuple[str, ...] = (
    "route", "failure_route", "onreply_route", "branch_route", "local_route", "error_route",
    "startup_route", "loadmodule", "modparam", "if", "else", "while", "switch", "case", "default",
    "break", "return", "exit", "drop", "myself", "NULL", "null",
)
# Core words that read message fields (uri == $ru …).
CORE_VARIABLES: tuple[str, ...] = ("uri", "method", "status", "from_uri", "to_uri", "src_ip",
                                   "src_port")
FUNCTION_NAMES: tuple[str, ...] = tuple(sorted(FUNCTIONS))
PSEUDO_VARIABLES: tuple[str, ...] = tuple(sorted(PVARS))
KEYED_PSEUDO_VARIABLES: tuple[str, ...] = tuple(sorted(KEYED_PVARS))  # $avp(…) $var(…) $hdr(…)
XLOG_LEVEL_NAMES: tuple[str, ...] = tuple(XLOG_LEVELS)


def check_script_text(text: str, file: str = "<script>", *,
                      defines: Mapping[str, str] | None = None) -> tuple[ScriptDiagnostic, ...]:
    """() when ``text`` loads, else where and why it does not (1-based line and column)."""
    return diagnose(text, file, defines=defines)


@dataclass(frozen=True, slots=True)
class RunningScript:
    """The script the lab's proxy runs: its text and file, and how to check an edit of it.

    ``applied``: the file is the lab's working copy (written by ``Lab.apply_script``), not the
    script the lab started with. ``defines``: the #!define overrides the proxy passes (its media
    and MWI servers); check an edited text with them. ``message``: the proxy's answer when this
    script was just loaded ("" for a query).
    """

    text: str
    path: Path
    applied: bool = False
    defines: Mapping[str, str] = field(default_factory=dict)
    message: str = ""


class ScriptRefused(LabError):
    """A script that was not applied; the running one stays. ``diagnostics`` say where."""

    def __init__(self, message: str, diagnostics: tuple[ScriptDiagnostic, ...],
                 component: str = "lab") -> None:
        super().__init__(message, component)
        self.diagnostics = diagnostics


SpanKind = Literal["keyword", "function", "variable", "string", "number", "comment", "directive"]
Span = tuple[int, int, SpanKind]  # (start, length, kind); start and length in characters

_TOKEN = re.compile(r"""
    (?P<block>/\*)
  | (?P<directive>\#![^\n]*)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?)
  | (?P<pvar>\$\((?:[^()\n]|\([^()\n]*\))*\)|\$[A-Za-z_][A-Za-z0-9_]*(?:\([^()\n]*\))?)
  | (?P<number>\b(?:0[xX][0-9a-fA-F]+|[0-9]+)\b)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
""", re.VERBOSE)
_PVAR_IN_STRING = re.compile(r"\$\((?:[^()\n]|\([^()\n]*\))*\)|\$[A-Za-z_][A-Za-z0-9_]*(?:\([^()\n]*\))?")
_CALL_AFTER = re.compile(r"\s*\(")
_KEYWORDS = frozenset(KEYWORDS)
_FUNCTIONS = frozenset(FUNCTION_NAMES)
_CONSTANTS = frozenset(XLOG_LEVEL_NAMES) | frozenset(CORE_VARIABLES)


def highlight_spans(line: str, in_block_comment: bool = False) -> tuple[list[Span], bool]:
    """The coloured spans of one line, in order (a later span may sit inside an earlier one:
    a pseudo-variable inside a string), and whether a ``/*`` comment is still open at its end."""
    spans: list[Span] = []
    pos = 0
    if in_block_comment:
        end = line.find("*/")
        if end < 0:
            return ([(0, len(line), "comment")] if line else []), True
        spans.append((0, end + 2, "comment"))
        pos = end + 2
    while True:
        match = _TOKEN.search(line, pos)
        if match is None:
            return spans, False
        kind, start, pos = match.lastgroup, match.start(), match.end()
        if kind == "block":
            end = line.find("*/", start + 2)
            if end < 0:
                spans.append((start, len(line) - start, "comment"))
                return spans, True
            pos = end + 2
            spans.append((start, pos - start, "comment"))
        elif kind in ("comment", "directive"):
            spans.append((start, pos - start, "comment" if kind == "comment" else "directive"))
        elif kind == "string":
            spans.append((start, pos - start, "string"))
            spans.extend((m.start(), m.end() - m.start(), "variable")
                         for m in _PVAR_IN_STRING.finditer(line, start, pos))
        elif kind == "pvar":
            spans.append((start, pos - start, "variable"))
        elif kind == "number":
            spans.append((start, pos - start, "number"))
        else:
            word = match.group()
            if word in _KEYWORDS:
                spans.append((start, pos - start, "keyword"))
            elif word in _FUNCTIONS and _CALL_AFTER.match(line, pos):
                spans.append((start, pos - start, "function"))
            elif word in _CONSTANTS:
                spans.append((start, pos - start, "number" if word.startswith("L_") else "variable"))
