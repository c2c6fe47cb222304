"""The routing-script language: an OpenSIPS 2.4 subset. Pure: grammar → AST → compiled closures.

Public API: load_script(text, file, defines=...) -> Script; Script.run(kind, name, host) ->
RunResult. The proxy implements ScriptHost (labpbx.script.host); the function registry is
labpbx.script.functions.
"""

from __future__ import annotations

from labpbx.script.host import FunctionArg, PVar, RouteKind, ScriptHost, Value
from labpbx.script.loader import Script, load_script
from labpbx.script.runtime import RunResult

__all__ = [
    "FunctionArg", "PVar", "RouteKind", "RunResult", "Script", "ScriptHost", "Value", "load_script",
]
