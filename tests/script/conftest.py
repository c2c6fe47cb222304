"""Shared helpers for the script tests: a recording FakeHost and small script builders.

FakeHost answers pv_get from a dict keyed "ru", "avp(callfwd)", "avp(callfwd)[1]", "hdr(Via)" ...
(pv_key below); pv_set records and stores under the same key; call records the call and returns a
scripted result (an int, a list of ints consumed in order, or a callable taking the argument
values; 1 by default). Every event is also appended, in order, to ``events``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the package is not installed in every test venv
    sys.path.insert(0, str(ROOT))

from labpbx.script import FunctionArg, PVar, RouteKind, RunResult, Value, load_script  # noqa: E402
from labpbx.script.functions import ANY, FUNCTIONS, FunctionSpec  # noqa: E402

DATA = Path(__file__).with_name("data")
Result = int | list[int] | Callable[[tuple[Value, ...]], int]


def pv_key(pv: PVar) -> str:
    key = pv.name if pv.key is None else f"{pv.name}({pv.key})"
    return key if pv.index is None else f"{key}[{pv.index}]"


class FakeHost:
    """A ScriptHost that records everything; functions return 1 unless scripted otherwise."""

    def __init__(
        self, pvars: dict[str, Value] | None = None, results: dict[str, Result] | None = None,
        myself: Sequence[str] = ("127.0.0.1", "127.0.0.1:5060", "sip:127.0.0.1:5060"),
    ) -> None:
        self.pvars: dict[str, Value] = dict(pvars or {})
        self.results: dict[str, Result] = dict(results or {})
        self.myself = set(myself)
        self.calls: list[tuple[str, tuple[Value, ...]]] = []
        self.raw_args: list[tuple[FunctionArg, ...]] = []
        self.sets: list[tuple[str, Value, str]] = []
        self.entered: list[tuple[RouteKind, str | None]] = []
        self.events: list[tuple[object, ...]] = []
        self.lines: list[int] = []

    def pv_get(self, pv: PVar) -> Value:
        return self.pvars.get(pv_key(pv))

    def pv_set(self, pv: PVar, value: Value, op: str, line: int) -> None:
        self.sets.append((pv.text, value, op))
        self.events.append(("set", pv.text, value, op))
        self.pvars[pv_key(pv)] = value

    def call(self, name: str, args: Sequence[FunctionArg], line: int) -> int:
        values = tuple(a.value for a in args)
        self.calls.append((name, values))
        self.raw_args.append(tuple(args))
        self.events.append(("call", name, values))
        self.lines.append(line)
        result = self.results.get(name, 1)
        if isinstance(result, list):
            return result.pop(0) if result else 1
        if callable(result):
            return result(values)
        return result

    def is_myself(self, value: str) -> bool:
        self.events.append(("myself", value))
        return value in self.myself

    def route_entered(self, kind: RouteKind, name: str | None, line: int) -> None:
        self.entered.append((kind, name))
        self.events.append(("route", kind.value, name))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def main(body: str, extra: str = "") -> str:
    """A script whose main route is ``body`` plus extra top-level text."""
    return f"route {{\n{body}\n}}\n{extra}"


def run(src: str, host: FakeHost | None = None, kind: RouteKind = RouteKind.REQUEST,
        name: str | None = None) -> tuple[RunResult, FakeHost]:
    host = host or FakeHost()
    result = load_script(src, "test.cfg").run(kind, name, host)
    return result, host


# Short stand-in functions (no arguments, allowed everywhere) so that rows read "if (f()) g();".
TEST_FUNCTIONS = ("a", "b", "c", "d", "e", "f", "g", "h", "i", "tick", "after", "inner", "more",
                  "in_a", "in_b", "done", "neg", "pos", "five", "other", "one")


@pytest.fixture
def test_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register TEST_FUNCTIONS in the function registry for one test."""
    for name in TEST_FUNCTIONS:
        spec = FunctionSpec(name, "core", ((),), ANY, f"{name}()", "test stand-in")
        monkeypatch.setitem(FUNCTIONS, name, spec)


@pytest.fixture
def reference_cfg() -> str:
    return (DATA / "reference.cfg").read_text(encoding="utf-8")
