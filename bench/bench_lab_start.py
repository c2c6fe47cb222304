"""Time from ``Lab.start()`` to every extension registered, for the default lab (target ≤ 1.5 s).

Run: ``python bench/bench_lab_start.py [runs]`` (default 5). Each run starts a fresh default lab
(extensions 1000–1004 in 3 phone processes, proxy, voicemail box; free loopback ports) in a new
temporary data directory, measures the wall time of ``start()`` — which returns once every
extension's REGISTER has been answered 200 — and stops it. Prints every run, the median, and
per component when its "ready" event arrived (from the lab's own event stream), which shows
where the time goes (the proxy's Python start-up and script load dominate).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from labpbx.events import ComponentEvent, RegistrationEvent
from labpbx.lab import Lab, LabConfig


def one_run() -> tuple[float, float, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="labpbx-bench-") as tmp:
        lab = Lab(LabConfig(data_dir=Path(tmp)))
        wall = time.time()
        t0 = time.perf_counter()
        try:
            lab.start()
            elapsed = time.perf_counter() - t0
            ready: dict[str, float] = {}
            for event in lab.events():
                if isinstance(event, ComponentEvent) and event.status == "ready":
                    ready.setdefault(event.component, event.time - wall)
                elif isinstance(event, RegistrationEvent) and event.registered:
                    ready[f"reg {event.ext}"] = event.time - wall
        finally:
            t1 = time.perf_counter()
            lab.stop()
            stop = time.perf_counter() - t1
    return elapsed, stop, ready


def main(runs: int) -> None:
    one_run()  # warm-up: byte-code caches, page cache
    times: list[float] = []
    stops: list[float] = []
    for i in range(runs):
        elapsed, stop, ready = one_run()
        times.append(elapsed)
        stops.append(stop)
        parts = ", ".join(f"{k} {v:.3f}" for k, v in sorted(ready.items(), key=lambda kv: kv[1]))
        print(f"run {i + 1}: start→all registered {elapsed:.3f} s, stop {stop:.3f} s  [{parts}]")
    print(f"median start→all registered over {runs} runs: {statistics.median(times):.3f} s "
          f"(min {min(times):.3f}, max {max(times):.3f}); median stop {statistics.median(stops):.3f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
