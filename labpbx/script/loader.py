"""Loading a routing script: text -> checked, compiled Script; the package's public entry point.

Rules of this module:
  * load_script either returns a Script ready to run or raises a ScriptError subclass
    (ScriptSyntaxError / ScriptSemanticError) with file, line, column, text and source context;
    nothing else escapes, whatever the input (an over-deep nesting is reported as a syntax error).
  * All checking and compiling happens here, once. Script.run does no parsing or name lookup.
  * A Script is immutable after loading and holds no per-message state, so one instance serves
    every message; each run gets its own ScriptHost.

Usage::

    script = load_script(text, "routing.cfg", defines={"MEDIA_SERVER": '"sip:127.0.0.1:15070"'})
    result = script.run(RouteKind.REQUEST, None, host)          # the main route {}
    result = script.run(RouteKind.FAILURE, "missed_call", host)  # failure_route[missed_call]
"""

from __future__ import annotations

from collections.abc import Mapping

from labpbx.errors import ScriptError, ScriptSyntaxError
from labpbx.script import ast
from labpbx.script.checker import check
from labpbx.script.declarations import declare
from labpbx.script.host import RouteKind, ScriptHost, Value
from labpbx.script.interpreter import compile_script
from labpbx.script.parser import parse_script
from labpbx.script.report import Reporter
from labpbx.script.runtime import Program, RunResult


class Script:
    """A loaded routing script.

    file:       the name given to load_script (for messages)
    globals:    core parameters (``listen``, ``debug_mode`` ...) -> value; yes/no read as 1/0
    modules:    loaded module names in load order ("tm", "sl" ...)
    modparams:  (module, param) -> value; the last modparam for a pair wins
    defines:    #!define names -> their raw text, after the caller's overrides
    routes:     route kind -> block name (None for the unnamed one) -> the block's AST
    """

    def __init__(
        self, file: str, decls_globals: dict[str, Value], modules: tuple[str, ...],
        modparams: dict[tuple[str, str], Value], defines: dict[str, str],
        routes: dict[RouteKind, dict[str | None, ast.RouteBlock]], program: Program,
    ) -> None:
        self.file = file
        self.globals = decls_globals
        self.modules = modules
        self.modparams = modparams
        self.defines = defines
        self.routes = routes
        self._program = program

    def has_route(self, kind: RouteKind, name: str | None = None) -> bool:
        return self._program.has_route(kind, name)

    def run(self, kind: RouteKind, name: str | None, host: ScriptHost) -> RunResult:
        """Run one route block (name None = the unnamed block of that kind) for one message.

        Raises ScriptRuntimeError when the block does not exist or the run fails on data.
        """
        return self._program.run(kind, name, host)

    def __repr__(self) -> str:
        counts = ", ".join(f"{k.value}={len(v)}" for k, v in self.routes.items() if v)
        return f"<Script {self.file} {counts}>"


def load_script(
    text: str, file: str = "<script>", *, defines: Mapping[str, str] | None = None
) -> Script:
    """Parse, check and compile a script. Raises ScriptSyntaxError or ScriptSemanticError."""
    try:
        tree = parse_script(text, file)
        rep = Reporter(text, file)
        decls = declare(tree, rep, defines)
        checked = check(decls, rep)
        program = compile_script(checked)
    except ScriptError:
        raise
    except RecursionError:
        raise ScriptSyntaxError("the script is nested too deeply", file=file) from None
    return Script(
        file, decls.globals, decls.modules, decls.modparams, decls.defines, decls.routes, program
    )
