"""Building located ScriptSemanticErrors for one script (file name, source line and caret).

Rules of this module: positions are 1-based and come from AST nodes; ``text`` is the offending
name or literal as the user wrote it; ``suggest`` adds a "did you mean" from difflib.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from labpbx.errors import ScriptSemanticError
from labpbx.script.ast import Node
from labpbx.script.parser import source_context


class Reporter:
    """Creates errors located in one script text."""

    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file

    def error(self, node: Node, message: str, text: str = "") -> ScriptSemanticError:
        return ScriptSemanticError(
            message, file=self.file, line=node.line, column=node.column, text=text,
            context=source_context(self.text, node.line, node.column),
        )


def suggest(name: str, candidates: Iterable[str], template: str = " (did you mean {!r}?)") -> str:
    """A " (did you mean 'x'?)" suffix for the closest candidate, or "" when nothing is close."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return template.format(close[0]) if close else ""
