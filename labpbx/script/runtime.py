"""The per-run machinery of a compiled script: run context, control-flow signals, Program.run.

Rules of this module:
  * One Ctx per top-level run: the host, $rc/$retcode and the route() nesting depth. Nothing about
    a run survives it, so one Program serves every message.
  * exit/drop/0 (Stop), return (Return) and break (Break) travel as private exceptions between the
    compiled closures; Program.run turns them into a RunResult. They never reach the host.
  * Limits (MAX_LOOP_ITERATIONS, MAX_ROUTE_DEPTH) are OpenSIPS-like guards against runaway scripts;
    the compiler enforces them, Program.run only converts a Python RecursionError.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from labpbx.errors import ScriptRuntimeError
from labpbx.script.host import RouteKind, ScriptHost

MAX_LOOP_ITERATIONS = 10_000
MAX_ROUTE_DEPTH = 100


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of one top-level route run.

    code:    $retcode at the end: 1 when the block ran to its end, n for ``return(n)``, 0 when the
             run was stopped (``exit``, ``drop``, or a function/route returning 0).
    dropped: ``drop`` was executed.
    exited:  the run was stopped by ``exit``, ``return(0)`` or a 0 return code.
    """

    code: int
    dropped: bool = False
    exited: bool = False


class Ctx:
    """Per-run state."""

    __slots__ = ("depth", "host", "rc")

    def __init__(self, host: ScriptHost) -> None:
        self.host = host
        self.rc = 0
        self.depth = 0


class Stop(Exception):
    """exit, drop, return(0) or a 0 return code: the whole run ends."""

    __slots__ = ("dropped",)

    def __init__(self, dropped: bool) -> None:
        self.dropped = dropped


class Return(Exception):
    """return(n): leave the current route block with n."""

    __slots__ = ("code",)

    def __init__(self, code: int) -> None:
        self.code = code


class Break(Exception):
    """break: leave the innermost switch or while."""


Body = Callable[[Ctx], object]


def _noop(ctx: Ctx) -> None:
    return None


class RouteCell:
    """Late-bound body of a route[name] block, so route() can call blocks compiled after it."""

    __slots__ = ("body",)

    def __init__(self) -> None:
        self.body: Body = _noop


@dataclass(frozen=True, slots=True)
class Entry:
    body: Body
    line: int


class Program:
    """The compiled script: run any route block against a host."""

    def __init__(self, entries: dict[tuple[RouteKind, str | None], Entry]) -> None:
        self._entries = entries

    def has_route(self, kind: RouteKind, name: str | None) -> bool:
        return (kind, name) in self._entries

    def run(self, kind: RouteKind, name: str | None, host: ScriptHost) -> RunResult:
        entry = self._entries.get((kind, name))
        if entry is None:
            label = kind.value if name is None else f"{kind.value}[{name}]"
            raise ScriptRuntimeError(f"the script has no {label} block")
        ctx = Ctx(host)
        host.route_entered(kind, name, entry.line)
        try:
            entry.body(ctx)
        except Return as ret:
            return RunResult(ret.code, exited=ret.code == 0)
        except Stop as stop:
            return RunResult(0, dropped=stop.dropped, exited=not stop.dropped)
        except RecursionError:
            raise ScriptRuntimeError("the script nests too deeply (recursion limit)") from None
        return RunResult(1)
