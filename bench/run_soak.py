"""Soak: the busy-forward flow at half the clean capacity for a long time (issue #7).

Offers ``--rate`` calls/s (or half of ``--capacity``) to a fresh lab proxy for ``--minutes``
(default 10), the same flow, pinning and sipp roles as bench/run_busy_bench.py (see
bench/busy_flow.py), and samples the proxy's RSS, open descriptors (/proc/PID/fd) and CPU every
``--every`` seconds. Prints the curve as CSV lines while it runs, then a summary:

- failed calls (must be 0) and callers without a final response;
- RSS at the end of the first 64·T1 = 32-s window (from then on every finished transaction is
  replaced by a new one, so memory must stay flat), at the end, the largest value after the
  window and the least-squares slope after it in MB per minute;
- open descriptors: first, smallest and largest value.

    python bench/run_soak.py --capacity 1100 --minutes 10
    python bench/run_soak.py --rate 400 --minutes 2 --csv soak.csv
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from busy_flow import (
    TARGETS,
    Server,
    cpu_seconds,
    machine,
    open_fds,
    rss_mb,
    run_busy,
    runqueue_wait_seconds,
)

WINDOW = 32.0  # 64·T1: the longest time a finished transaction is kept


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return 60.0 * sum((t - mx) * (v - my) for t, v in points) / var


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--rate", type=float, help="calls/s to offer")
    group.add_argument("--capacity", type=float, help="clean capacity; offers half of it")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--target", default="lab", choices=TARGETS)
    parser.add_argument("--csv", type=Path, default=None, help="also write the samples here")
    args = parser.parse_args()
    rate = args.rate if args.rate is not None else round(args.capacity / 2)
    seconds = args.minutes * 60
    print(f"Machine: {machine()}; server on CPU 0, sipp on CPU 1")
    print(f"Soak: {args.target}, {rate:g} calls/s for {args.minutes:g} min, "
          f"a sample every {args.every:g} s")
    samples: list[tuple[float, float, int, float]] = []
    # Per interval also: the share of the interval the proxy used its core ("cpu %"), the share
    # it waited for the core while ready to run ("wait %": other programs on that core), and
    # the refusals (503) counted so far in the caller's log: refusals with the core saturated
    # are a capacity shortfall; refusals without are stalls.
    print("elapsed_s,rss_mb,open_fds,cpu_s,cpu_pct,wait_pct,refused_so_far", flush=True)
    work: list[Path] = []
    last: list[tuple[float, float, float]] = []

    def refused_so_far() -> int:
        logs = list(work[0].glob("*uac_busy_forward*_logs.log")) if work else []
        if not logs:
            return 0
        with contextlib.suppress(OSError):
            return logs[0].read_bytes().count(b"FINAL 503")
        return 0

    def sample(server: Server, elapsed: float) -> None:
        pids = server.pids()
        point = (elapsed, rss_mb(pids), open_fds(pids), cpu_seconds(pids))
        samples.append(point)
        wait = runqueue_wait_seconds(pids)
        cpu_pct = wait_pct = 0.0
        if last and elapsed > last[0][0]:
            span = elapsed - last[0][0]
            cpu_pct = 100 * (point[3] - last[0][1]) / span
            wait_pct = 100 * (wait - last[0][2]) / span
        last[:] = [(elapsed, point[3], wait)]
        print(f"{point[0]:.0f},{point[1]:.1f},{point[2]},{point[3]:.1f},{cpu_pct:.0f},"
              f"{wait_pct:.0f},{refused_so_far()}", flush=True)

    started = time.time()
    with tempfile.TemporaryDirectory(prefix="labpbx-soak-") as tmp:
        work.append(Path(tmp) / "soak")
        result = run_busy(args.target, rate, seconds, work[0], sample=sample,
                          sample_every=args.every)
    if args.csv is not None:
        args.csv.write_text("elapsed_s,rss_mb,open_fds,cpu_s\n" + "".join(
            f"{t:.1f},{r:.2f},{f},{c:.2f}\n" for t, r, f, c in samples))
    after = [(t, r) for t, r, _, _ in samples if WINDOW <= t <= seconds]
    at_window = after[0][1] if after else float("nan")
    fds = [f for _, _, f, _ in samples]
    print()
    print(f"- started {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}, "
          f"{result.wall_s:.0f} s wall")
    print(f"- calls {result.calls}, completed {result.completed}, failed {result.failed} "
          f"({result.failed_pct:.3f} %), callers with a final response "
          f"{result.final_share_pct:.2f} %, refused {result.refused}")
    print(f"- CPU {1000 * result.cpu_s / max(1, result.completed):.3f} ms/call, p50 "
          f"{result.p50_ms:.0f} ms, p99 {result.p99_ms:.0f} ms INVITE→200")
    if after:
        print(f"- RSS at {after[0][0]:.0f} s (end of the first 64·T1 window) {at_window:.1f} MB, "
              f"at {after[-1][0]:.0f} s {after[-1][1]:.1f} MB, largest after the window "
              f"{max(r for _, r in after):.1f} MB, slope after the window "
              f"{slope_per_minute(after):+.2f} MB/min")
    if fds:
        print(f"- open descriptors: first {fds[0]}, smallest {min(fds)}, largest {max(fds)}")


if __name__ == "__main__":
    main()
