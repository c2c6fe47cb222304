"""Checking script TEXT without running it: what is wrong and where, as plain values.

Rules of this module:
  * Pure: text (and the #!define overrides the proxy would pass) in, diagnostics out; no file is
    read, nothing is kept. ``diagnose`` runs the whole loader (parse, declare, check, compile), so
    a text it passes is one the proxy loads with the same defines.
  * The loader stops at the first error: ``diagnose`` returns no diagnostic (the script loads) or
    exactly one. The tuple leaves room for a checker that reports more.
  * Positions are 1-based, as in the CLI's ``file:line:column``; line 0 means "not located" (a
    file the proxy could not read). ``text`` is the offending text as the user wrote it.
  * A Diagnostic crosses the process boundary as a plain dict (``to_dict`` / ``from_dict``): the
    proxy child puts its own refusal into its reload ack that way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from labpbx.errors import LabPbxError, ScriptError, ScriptSyntaxError
from labpbx.script.loader import load_script

DiagnosticKind = Literal["syntax", "semantic", "load"]


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem of a script: where (line, column), what (message) and near which text."""

    line: int
    column: int
    message: str
    text: str = ""
    kind: DiagnosticKind = "syntax"

    @property
    def location(self) -> str:
        """``line:column`` (``line`` alone when there is no column, "" when not located)."""
        if not self.line:
            return ""
        return f"{self.line}:{self.column}" if self.column else str(self.line)

    def __str__(self) -> str:
        near = f" near {self.text!r}" if self.text else ""
        where = f"{self.location}: " if self.location else ""
        return f"{where}{self.message}{near}"

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "message": self.message,
                "text": self.text, "kind": self.kind}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Diagnostic:
        """The diagnostic a ``to_dict`` made; wrong types become "not located"."""
        kind = data.get("kind")
        return cls(
            line=_int(data.get("line")), column=_int(data.get("column")),
            message=str(data.get("message", "")), text=str(data.get("text", "")),
            kind=kind if kind in ("syntax", "semantic", "load") else "load")


def diagnostic_of(error: LabPbxError) -> Diagnostic:
    """The diagnostic for a loader error (a ScriptError carries its position)."""
    if isinstance(error, ScriptError):
        return Diagnostic(error.line, error.column, error.message, error.text,
                          "syntax" if isinstance(error, ScriptSyntaxError) else "semantic")
    return Diagnostic(0, 0, str(error), "", "load")


def diagnose(text: str, file: str = "<script>", *,
             defines: Mapping[str, str] | None = None) -> tuple[Diagnostic, ...]:
    """What stops ``text`` from loading: () when it loads, else its (first) error."""
    try:
        load_script(text, file, defines=defines)
    except ScriptError as exc:
        return (diagnostic_of(exc),)
    return ()


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
