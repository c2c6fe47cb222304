"""Micro-benchmark of the routing-script interpreter.

Loads the SEMANTICS.md §4 reference config (tests/script/data/reference.cfg, route[media]
included) and runs its main route 50,000 times for an initial INVITE that takes the long path
(max-forwards, in-dialog check, CANCEL check, Record-Route, call-forward AVP, lookup,
route(relay), t_relay) against a host whose functions are dictionary lookups.

Usage: python bench/bench_script.py [runs]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labpbx.script import FunctionArg, PVar, RouteKind, Value, load_script  # noqa: E402

CONFIG = ROOT / "tests" / "script" / "data" / "reference.cfg"
RESULTS = {"has_totag": -1, "loose_route": -1, "t_check_trans": -1}
PVARS: dict[str, Value] = {"rU": "1004", "ru": "sip:1004@127.0.0.1", "avp": "sip:2345678@lab"}


class TrivialHost:
    """Answers every script request with a dictionary lookup."""

    def pv_get(self, pv: PVar) -> Value:
        return PVARS.get(pv.name)

    def pv_set(self, pv: PVar, value: Value, op: str, line: int) -> None:
        pass

    def call(self, name: str, args: Sequence[FunctionArg], line: int) -> int:
        if name == "is_method":
            return 1 if args[0].value == "INVITE" else -1
        return RESULTS.get(name, 1)

    def is_myself(self, value: str) -> bool:
        return False

    def route_entered(self, kind: RouteKind, name: str | None, line: int) -> None:
        pass


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    t0 = time.perf_counter()
    script = load_script(CONFIG.read_text(encoding="utf-8"), str(CONFIG))
    load_ms = (time.perf_counter() - t0) * 1000
    host = TrivialHost()
    run = script.run
    for _ in range(1000):  # warm-up
        run(RouteKind.REQUEST, None, host)
    start = time.perf_counter()
    for _ in range(runs):
        run(RouteKind.REQUEST, None, host)
    elapsed = time.perf_counter() - start
    print(f"load (first, includes building the parser): {load_ms:.1f} ms")
    print(f"{runs} runs of the main route: {elapsed:.3f} s = {elapsed / runs * 1e6:.2f} µs/run "
          f"({runs / elapsed:,.0f} runs/s)")


if __name__ == "__main__":
    main()
