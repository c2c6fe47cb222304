"""Busy-forward benchmark: the lab proxy and Kamailio on the same flow, core and rates, back to back.

Absolute figures depend on the machine and on what else it runs; the ratios lab/Kamailio measured
in the same invocation are what carries over. Every run starts a fresh server (bench/busy_flow.py
describes the flow, the pinning and the servers), offers a fixed call rate for ``--seconds`` and
waits until sipp has finished every call (10 s without an answer fails a call). Results:
docs/BENCHMARKS.md.

    python bench/run_busy_bench.py rates --rates 250,500,1000 --seconds 10
        each rate on each server (alternating): CPU per call, p50/p99 INVITE→200, failed %,
        goodput, callers with a final response; the lab/Kamailio ratios
    python bench/run_busy_bench.py capacity --seconds 10
        the highest clean rate of each server (< 0.1 % failed, nothing refused): ×1.3 steps
        from --start, then three bisections
    python bench/run_busy_bench.py overload --capacity lab=900,kamailio=2000
        1×, 1.5×, 2× and 3× each server's clean capacity (measured first without --capacity)
    python bench/run_busy_bench.py all
        capacity, then rates at 250 calls/s and at half of the lab's capacity, then overload

Columns: "CPU ms/call" = the server's CPU time (all its processes) over the completed calls;
"p50/p99" = INVITE sent → 200 received at the caller (sipp -trace_rtt, 4-ms resolution);
"failed" = calls whose BYE did not get its 200; "final" = callers that got any final response to
their INVITE (200 or a refusal such as 503); "goodput" = completed calls whose INVITE got its 200
within 1 s, per second of offered load (a call served seconds late, after a queue, does not
count); "server CPU %" = the server's CPU time over the whole run (sipp's last calls included, so
it reads low when the run ends with a drain); "CPU wait %" = time the server was ready to run but
its core was busy with something else (/proc/PID/schedstat, summed over the server's processes:
other programs on the machine, and for Kamailio also its own processes sharing the core);
"offered" = the rate sipp really achieved (it lags when its own core is saturated);
"drops" = datagrams the kernel dropped at the server's socket, "sipp drops" at sipp's sockets;
"sipp CPU" = the load generator's use of its core (near 100 % means the load generator, not the
server, is the limit). Every socket, the servers' and sipp's, has a 4-MB receive buffer.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from busy_flow import TARGETS, RunResult, fmt, machine, ratio, run_busy

HEADER = ("| server | offered calls/s | calls | failed % | final % | 503 | goodput calls/s | "
          "CPU ms/call | server CPU % | CPU wait % | p50 ms | p99 ms | p99 refusal ms | drops | sipp drops | "
          "sipp CPU % |")
RULE = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"


def row(r: RunResult, multiple: float | None = None) -> str:
    offered = r.calls / max(r.seconds, r.offer_s)
    times = "" if multiple is None else f"{multiple:g} | "
    return (f"| {r.target} | {times}{fmt(offered)} | {r.calls} | {r.failed_pct:.2f} | "
            f"{r.final_share_pct:.1f} | {r.finals.get('503', 0)} | {r.goodput:.0f} | "
            f"{r.cpu_ms_per_call:.3f} | {100 * r.cpu_s / r.wall_s:.0f} | "
            f"{100 * r.wait_s / r.wall_s:.0f} | "
            f"{fmt(r.p50_ms)} | {fmt(r.p99_ms)} | "
            f"{fmt(r.p99_refusal_ms)} | {r.socket_drops} | {r.sipp_drops} | {r.sipp_cpu_pct:.0f} |")


class Bench:
    def __init__(self, seconds: float, work: Path, targets: list[str]) -> None:
        self.seconds = seconds
        self.work = work
        self.targets = targets
        self.results: list[dict[str, object]] = []
        self._n = 0

    def run(self, target: str, rate: float, label: str = "",
            multiple: float | None = None) -> RunResult:
        self._n += 1
        r = run_busy(target, rate, self.seconds, self.work / f"run{self._n}-{target}-{rate:g}")
        self.results.append({"label": label, **r.as_dict()})
        print(row(r, multiple), flush=True)
        return r

    # -- rates ------------------------------------------------------------------------------------
    def rates(self, rates: Iterable[float]) -> list[RunResult]:
        print(f"\n### Fixed rates, {self.seconds:g} s each\n\n{HEADER}\n{RULE}", flush=True)
        out = []
        for rate in rates:
            out += [self.run(t, rate, "rates") for t in self.targets]
        self._rate_ratios(out)
        return out

    def _rate_ratios(self, results: list[RunResult]) -> None:
        lab = {r.rate: r for r in results if r.target == "lab"}
        kam = {r.rate: r for r in results if r.target == "kamailio"}
        common = sorted(set(lab) & set(kam))
        if not common:
            return
        print("\n| offered calls/s | CPU/call lab/Kamailio | p99 lab/Kamailio | p50 lab/Kamailio |"
              " failed % lab / Kamailio |\n|---:|---:|---:|---:|---|")
        for rate in common:
            a, b = lab[rate], kam[rate]
            print(f"| {rate:g} | {ratio(a.cpu_ms_per_call, b.cpu_ms_per_call)} | "
                  f"{ratio(a.p99_ms, b.p99_ms)} | {ratio(a.p50_ms, b.p50_ms)} | "
                  f"{a.failed_pct:.2f} / {b.failed_pct:.2f} |", flush=True)

    # -- capacity ---------------------------------------------------------------------------------
    def capacity(self, start: dict[str, float], max_rate: float) -> dict[str, float]:
        print(f"\n### Highest clean rate, {self.seconds:g} s per probe\n\n{HEADER}\n{RULE}",
              flush=True)
        found: dict[str, float] = {}
        per_target: dict[str, RunResult] = {}
        for target in self.targets:
            clean, best = self._search(target, start.get(target, start.get("", 300.0)), max_rate)
            found[target] = clean
            if best is not None:
                per_target[target] = best
        print()
        for target, rate in found.items():
            print(f"- highest clean rate, {target}: {rate:g} calls/s", flush=True)
        if "lab" in found and "kamailio" in found:
            print(f"- ratio lab/Kamailio: {ratio(found['lab'], found['kamailio'])}")
            if "lab" in per_target and "kamailio" in per_target:
                a, b = per_target["lab"], per_target["kamailio"]
                print(f"- at its own capacity: CPU/call lab {a.cpu_ms_per_call:.3f} ms, Kamailio "
                      f"{b.cpu_ms_per_call:.3f} ms (ratio {ratio(a.cpu_ms_per_call, b.cpu_ms_per_call)})"
                      f"; p99 lab {fmt(a.p99_ms)} ms, Kamailio {fmt(b.p99_ms)} ms", flush=True)
        return found

    def _search(self, target: str, start: float, max_rate: float) -> tuple[float, RunResult | None]:
        def probe(rate: float) -> RunResult:
            return self.run(target, rate, "capacity")

        clean_rate, clean_run, failed_rate = 0.0, None, math.inf
        rate = start
        for _ in range(20):  # grow by 30 % until a probe fails or --max-rate (bounded)
            r = probe(rate)
            if r.clean:
                clean_rate, clean_run = rate, r
                if rate >= max_rate:
                    return clean_rate, clean_run
                rate = min(max_rate, _round(rate * 1.3))
            else:
                failed_rate = rate
                break
        if clean_rate == 0.0:  # even the start failed: go down
            for _ in range(4):
                rate = _round(rate / 1.5)
                r = probe(rate)
                if r.clean:
                    clean_rate, clean_run = rate, r
                    break
                failed_rate = rate
        for _ in range(3):  # bisect between the last clean and the first failing rate
            if not math.isfinite(failed_rate) or failed_rate - clean_rate <= 20:
                break
            mid = _round((clean_rate + failed_rate) / 2)
            r = probe(mid)
            if r.clean:
                clean_rate, clean_run = mid, r
            else:
                failed_rate = mid
        return clean_rate, clean_run

    # -- overload ---------------------------------------------------------------------------------
    def overload(self, capacity: dict[str, float], multiples: list[float]) -> None:
        header = HEADER.replace("| server |", "| server | × capacity |", 1)
        print(f"\n### Overload: multiples of each server's clean capacity, {self.seconds:g} s each"
              f"\n\n{header}\n|---|---:{RULE[4:]}", flush=True)
        by_target: dict[str, dict[float, RunResult]] = {}
        for m in multiples:
            for target in self.targets:
                if not capacity.get(target):
                    continue
                r = self.run(target, _round(capacity[target] * m), f"overload x{m:g}", m)
                by_target.setdefault(target, {})[m] = r
        print("\n| × capacity | " + " | ".join(
            f"{t} goodput (% of capacity) | {t} final %" for t in by_target) + " |")
        print("|---:|" + "---:|---:|" * len(by_target))
        for m in multiples:
            cells = []
            for target, runs in by_target.items():
                r = runs.get(m)
                if r is None:
                    cells += ["—", "—"]
                    continue
                cells += [f"{r.goodput:.0f} ({100 * r.goodput / capacity[target]:.0f} %)",
                          f"{r.final_share_pct:.1f}"]
            print(f"| {m:g} | " + " | ".join(cells) + " |", flush=True)


def _round(rate: float) -> float:
    return float(max(10, round(rate / 10) * 10))


def _parse_start(text: str) -> dict[str, float]:
    return {"": float(text)} if "=" not in text else _parse_capacity(text)


def _parse_capacity(text: str) -> dict[str, float]:
    out = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        out[name.strip()] = float(value)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("rates", "capacity", "overload", "all"))
    parser.add_argument("--targets", default="lab,kamailio",
                        help=f"comma-separated, from {', '.join(TARGETS)}")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rates", default="250,500,1000")
    parser.add_argument("--start", default="300",
                        help="capacity search start rate, one for all or per server "
                             "(lab=500,kamailio=1500)")
    parser.add_argument("--max-rate", type=float, default=5000.0)
    parser.add_argument("--capacity", default=None,
                        help="known clean capacities for overload, e.g. lab=900,kamailio=2000")
    parser.add_argument("--multiples", default="1,1.5,2,3")
    parser.add_argument("--json", type=Path, default=None, help="write every run's figures here")
    args = parser.parse_args()
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    for t in targets:
        if t not in TARGETS:
            parser.error(f"unknown target {t!r}")
    print(f"Machine: {machine()}; server on CPU 0, sipp on CPU 1")
    with tempfile.TemporaryDirectory(prefix="labpbx-bench-") as tmp:
        bench = Bench(args.seconds, Path(tmp), targets)
        try:
            if args.mode == "rates":
                bench.rates(float(r) for r in args.rates.split(","))
            elif args.mode == "capacity":
                bench.capacity(_parse_start(args.start), args.max_rate)
            else:
                multiples = [float(m) for m in args.multiples.split(",")]
                if args.mode == "overload" and args.capacity:
                    capacity = _parse_capacity(args.capacity)
                else:
                    capacity = bench.capacity(_parse_start(args.start), args.max_rate)
                if args.mode == "all":
                    half = _round(capacity.get("lab", 500) / 2)
                    bench.rates(sorted({250.0, half}))
                bench.overload(capacity, multiples)
        finally:
            if args.json is not None:
                args.json.write_text(json.dumps({"machine": machine(), "runs": bench.results},
                                                indent=1, default=str))


if __name__ == "__main__":
    main()
