"""Busy-forward flow under load, over real UDP on loopback (issue: the lab proxy, benchmark).

INVITE → proxy → callee 486 → ACK → failure_route → media server 100/180/200 → ACK → BYE → 200,
with sipp as caller, callee and media server, and the real `labpbx proxy` process pinned to CPU 0
(sipp processes on CPU 1). For each call rate it runs a fixed number of calls and records failed
calls, the proxy's CPU time per call (utime+stime from /proc) and its peak RSS. The highest rate with
< 0.1 % failed calls is the result. Results: docs/BENCHMARKS.md.

    python bench/run_busy_bench.py --rates 200,400,600,800 --seconds 10
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.proxy_process import ProxyProcess  # noqa: E402
from tests.integration.sipp_harness import Sipp, free_udp_ports, register_contact  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pin(pid: int, cpu: int) -> None:
    if shutil.which("taskset") and os.cpu_count() and os.cpu_count() > 1:  # type: ignore[operator]
        subprocess.run(["taskset", "-a", "-p", "-c", str(cpu), str(pid)], check=False,
                       capture_output=True)


def run_rate(rate: int, seconds: float, work: Path) -> dict[str, float]:
    proxy_port, media_port = free_udp_ports(2)
    data = work / f"rate{rate}"
    data.mkdir()
    calls = int(rate * seconds)
    proxy = ProxyProcess(data, ("127.0.0.1", proxy_port), ("127.0.0.1", media_port),
                         fr_timeout=5, fr_inv_timeout=10, trace=False)
    try:
        proxy.wait_ready()
        pin(proxy.proc.pid, 0)
        timeout = seconds * 3 + 30
        media = Sipp("media_server.xml", workdir=data, local_port=media_port, calls=None,
                     timeout=timeout, trace_msg=False, recv_timeout_ms=20000).start()
        callee = Sipp("uas_busy.xml", workdir=data, calls=None, timeout=timeout, trace_msg=False,
                      recv_timeout_ms=20000).start()
        for s in (media, callee):
            pin(s.pid, 1)
        register_contact(proxy_port, "1001", callee.local_port)
        cpu0 = cpu_seconds(proxy.proc.pid)
        caller = Sipp("uac_call.xml", workdir=data, remote_port=proxy_port, calls=calls,
                      rate=rate, service="1001", keys={"caller": "1000"}, timeout=timeout,
                      trace_msg=False, trace_stat=True, recv_timeout_ms=10000,
                      extra_args=["-max_recv_loops", "10000", "-max_sched_loops", "10000"])
        caller.start()
        pin(caller.pid, 1)
        started = time.monotonic()
        code = caller.wait(timeout + 5)
        wall = time.monotonic() - started
        cpu = cpu_seconds(proxy.proc.pid) - cpu0
        rss = peak_rss_mb(proxy.proc.pid)
        ok = len([line for line in caller.log_lines() if line.startswith("BYE_OK")])
        failed = calls - ok
        for s in (media, callee):
            s.stop()
        return {"rate": rate, "calls": calls, "failed": failed, "failed_pct": 100 * failed / calls,
                "cpu_ms_per_call": 1000 * cpu / calls, "cpu_util": cpu / wall, "rss_mb": rss,
                "wall_s": wall, "sipp_exit": code}
    finally:
        proxy.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="100,200,400,600,800,1000")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labpbx-bench-") as tmp:
        work = Path(tmp)
        print("| calls/s | calls | failed | failed % | proxy CPU ms/call | proxy CPU use | peak RSS MB |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for rate in (int(r) for r in args.rates.split(",")):
            r = run_rate(rate, args.seconds, work)
            print(f"| {rate} | {int(r['calls'])} | {int(r['failed'])} | {r['failed_pct']:.2f} | "
                  f"{r['cpu_ms_per_call']:.3f} | {100 * r['cpu_util']:.0f} % | {r['rss_mb']:.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
