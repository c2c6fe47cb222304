"""The window under load: start-up, event-loop stalls, event→screen latency and memory.

    python bench/bench_window.py --rate 200 --seconds 60          # the issue's load, 1 minute
    python bench/bench_window.py --rate 200 --seconds 600         # 10 minutes: memory curve
    python bench/bench_window.py --start-runs 5 --seconds 0       # start-up only

What it does, in one process (offscreen Qt, so it runs on CI machines and over ssh):
1. Start-up: the real window over a fresh default lab; the time from creating the window to
   "every extension registered" shown by the window (``LabBridge.started``), beside a headless
   ``Lab.start()`` in the same run (the anchor: what the window adds to the lab's own start).
2. Load: sipp sends ``--rate`` calls/s through the window lab's proxy to a sipp UAS registered as
   extension 2001 (INVITE/100/180/200/ACK/BYE/200, every message traced into the window's event
   stream: ~9 SIP events, a lookup and a relay decision per call) while the window shows it.
   - stall: a 5-ms QTimer on the GUI thread; each firing's lateness over its interval is a stall
     of the event loop. Reported: p50, p95, p99, max.
   - event→screen: for every event of a batch, the time from the event's own timestamp (set by the
     process that emitted it) to the end of the first paint of the window after the batch was
     applied. Reported: p50, p95, max.
   - memory: the window process's RSS every 30 s (the lab's children are separate processes).
   - CPU: the window process's CPU time (GUI thread, the lab's reader and dispatcher threads and
     its history writer: one interpreter, one GIL) per call; the figure least moved by load.
Results: docs/BENCHMARKS.md ("The window").
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QElapsedTimer, QEvent, QEventLoop, QObject, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bench.busy_flow import cpu_seconds, machine, rss_mb  # noqa: E402
from labpbx.events import Event  # noqa: E402
from labpbx.lab import Lab, LabConfig  # noqa: E402
from tests.integration.sipp_harness import Sipp, register_contact  # noqa: E402
from ui.bridge import LabBridge  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402

TICK_MS = 5
if os.environ.get("SWITCH_MS"):
    sys.setswitchinterval(float(os.environ["SWITCH_MS"]) / 1000)
WAIT_S = 60.0


class Histogram:
    """Counts in 1-ms buckets: percentiles in constant memory (a list of every sample grew the
    bench's own process by ~100 MB in 10 minutes, which is not the window's memory)."""

    def __init__(self, limit_ms: int = 60_000) -> None:
        self.counts = [0] * (limit_ms + 1)
        self.total = 0
        self.largest = 0.0

    def add(self, ms: float) -> None:
        self.counts[min(len(self.counts) - 1, max(0, int(ms)))] += 1
        self.total += 1
        self.largest = max(self.largest, ms)

    def pct(self, q: float) -> float:
        if not self.total:
            return float("nan")
        wanted, seen = q * self.total, 0
        for bucket, count in enumerate(self.counts):
            seen += count
            if seen > wanted:
                return float(bucket)
        return float(len(self.counts) - 1)


def spin(app: QApplication, done: Callable[[], object], timeout: float) -> bool:
    """Run Qt's own event loop until ``done()`` is true or ``timeout`` seconds passed (a
    hand-written processEvents loop would add its own sleeps to the stalls measured)."""
    del app
    if done():
        return True
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(20)
    poll.timeout.connect(lambda: loop.quit() if done() else None)
    QTimer.singleShot(int(timeout * 1000), loop.quit)
    poll.start()
    loop.exec()
    poll.stop()
    return bool(done())


class PaintWatch(QObject):
    """Latency of events to the first finished paint after their batch was applied."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[float] = []
        self.latencies = Histogram()
        self.batches = 0

    def add(self, batch: list[tuple[int, Event]]) -> None:
        self.batches += 1
        self.pending.extend(event.time for _seq, event in batch)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.UpdateRequest and self.pending:
            # UpdateRequest on the top-level window is the synchronous repaint of everything
            # that changed; measure after it, so the paint's own cost is included.
            QTimer.singleShot(0, self._painted)
        return False

    def _painted(self) -> None:
        now = time.time()
        for t in self.pending:
            self.latencies.add(1000 * (now - t))
        self.pending.clear()


class StallWatch:
    def __init__(self) -> None:
        self.clock = QElapsedTimer()
        self.late = Histogram()
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.late = Histogram()
        self.clock.start()
        self.timer.start()

    def _tick(self) -> None:
        elapsed = self.clock.restart()
        self.late.add(max(0.0, elapsed - TICK_MS))

    def stop(self) -> None:
        self.timer.stop()


def start_window(app: QApplication, data: Path) -> tuple[MainWindow, LabBridge, float]:
    t0 = time.perf_counter()
    bridge = LabBridge(LabConfig(data_dir=data))
    window = MainWindow(bridge)
    window.show()
    bridge.start()
    if not spin(app, lambda: bridge.running, WAIT_S):
        raise SystemExit("the window's lab did not start")
    return window, bridge, time.perf_counter() - t0


def close_window(app: QApplication, window: MainWindow) -> None:
    window.close()
    spin(app, window.isHidden, WAIT_S)


def headless_start(data: Path) -> float:
    lab = Lab(LabConfig(data_dir=data))
    t0 = time.perf_counter()
    try:
        lab.start()
        return time.perf_counter() - t0
    finally:
        lab.stop()


def bench_start(app: QApplication, runs: int) -> None:
    window_s: list[float] = []
    lab_s: list[float] = []
    for i in range(runs + 1):  # the first pair warms caches and is not counted
        with tempfile.TemporaryDirectory(prefix="labpbx-bench-") as tmp:
            lab_t = headless_start(Path(tmp) / "headless")
            window, _bridge, win_t = start_window(app, Path(tmp) / "window")
            close_window(app, window)
        if i:
            window_s.append(win_t)
            lab_s.append(lab_t)
            print(f"  run {i}: window usable {win_t:.2f} s, headless lab {lab_t:.2f} s")
    w, h = statistics.median(window_s), statistics.median(lab_s)
    print(f"start-up (median of {runs}): window {w:.2f} s, headless lab {h:.2f} s, "
          f"ratio {w / h:.2f}")


def bench_load(app: QApplication, rate: float, seconds: float) -> None:
    with tempfile.TemporaryDirectory(prefix="labpbx-bench-") as tmp:
        work = Path(tmp)
        window, bridge, start_s = start_window(app, work / "lab")
        lab = bridge.lab
        assert lab is not None
        proxy_port = int(lab.proxy_address.rsplit(":", 1)[1])
        paints = PaintWatch()
        window.installEventFilter(paints)
        bridge.events_added.connect(paints.add)
        stalls = StallWatch()
        uas = Sipp("uas_answer.xml", workdir=work / "sipp", calls=None, timeout=seconds + 120,
                    trace_msg=False, recv_timeout_ms=30000)
        uac: Sipp | None = None
        memory: list[tuple[float, float]] = []
        try:
            uas.start()
            register_contact(proxy_port, "2001", uas.local_port)
            calls = max(1, round(rate * seconds))
            uac = Sipp("uac_call.xml", workdir=work / "sipp", remote_port=proxy_port, calls=calls,
                       rate=rate, max_concurrent=max(1000, int(rate * 30)), service="2001",
                       keys={"caller": "1000"}, timeout=seconds + 120, trace_msg=False,
                       recv_timeout_ms=10000)
            print(f"load: window up in {start_s:.2f} s; {calls} calls at {rate:g}/s to 2001")
            memory.append((0.0, rss_mb([os.getpid()])))
            stalls.start()
            t0 = time.monotonic()
            sampler = QTimer()
            sampler.setInterval(30_000)
            sampler.timeout.connect(
                lambda: memory.append((time.monotonic() - t0, rss_mb([os.getpid()]))))
            sampler.start()
            cpu0 = cpu_seconds([os.getpid()])
            uac.start()
            spin(app, lambda: not uac.running, seconds + 180)
            sampler.stop()
            wall = time.monotonic() - t0
            cpu = cpu_seconds([os.getpid()]) - cpu0
            spin(app, lambda: not paints.pending, 5.0)  # the last batch reaches the screen
            stalls.stop()
            memory.append((time.monotonic() - t0, rss_mb([os.getpid()])))
            answered = uac.final_codes().count(200)
        finally:
            if uac is not None:
                uac.stop()
            uas.stop()
            close_window(app, window)
        lat, late = paints.latencies, stalls.late
        print(f"  {wall:.0f} s, {answered} of {calls} calls answered, "
              f"{lat.total} events in {paints.batches} batches")
        print(f"  window process CPU: {100 * cpu / wall:.0f} % of a core, "
              f"{1000 * cpu / max(1, answered):.2f} ms per call")
        print(f"  event-loop stall ms: p50 {late.pct(0.5):.0f}, p95 {late.pct(0.95):.0f}, "
              f"p99 {late.pct(0.99):.0f}, max {late.largest:.0f}")
        print(f"  event→screen ms: p50 {lat.pct(0.5):.0f}, p95 {lat.pct(0.95):.0f}, "
              f"max {lat.largest:.0f}")
        print("  window RSS MB: " + ", ".join(f"{t:.0f}s {m:.0f}" for t, m in memory))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start-runs", type=int, default=5)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    app = QApplication([sys.argv[0]])
    print(f"Machine: {machine()}")
    if args.start_runs:
        bench_start(app, args.start_runs)
    if args.seconds:
        bench_load(app, args.rate, args.seconds)


if __name__ == "__main__":
    main()
