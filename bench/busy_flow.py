"""One busy-forward load run against one SIP server, the same way for the lab proxy and Kamailio.

INVITE → server (100) → callee 486 → server ACKs → failure route → INVITE b1001 to the media
server → 100/180/200 → caller ACK → BYE → 200. sipp plays caller (bench/sipp/uac_busy_forward.xml),
callee (tests/sipp/uas_busy.xml) and media server (tests/sipp/media_server.xml). The server under
test is pinned to CPU 0 with ``taskset`` (every process of Kamailio's group), the three sipp
processes to CPU 1. Everything runs on 127.0.0.1.

Servers (``TARGETS``):
  lab                 ``labpbx proxy`` with the default script and its defaults
  lab-default-gc      the same with ``--default-gc`` (CPython's collector settings, for comparison)
  lab-no-overload     the same with ``--overload-delay 0`` (never refuses, for comparison)
  kamailio            Debian's Kamailio 5.6 with tests/data/kamailio_tutorial.cfg (the same
                      forwarding, in Kamailio's dialect), 2 UDP workers, no sipdump
Both servers use fr_timer 5 s, fr_inv_timer 10 s. Kamailio keeps a finished transaction 5 s (tm
wait timer); the lab proxy keeps it for RFC 3261's 32-s windows.

Used by bench/run_busy_bench.py and bench/run_soak.py.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.integration.proxy_process import ProxyProcess  # noqa: E402
from tests.integration.sipp_harness import Sipp, free_udp_ports, register_contact  # noqa: E402
from tests.interop.kamailio_harness import Kamailio, group_members, kamailio_binary  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
CALLER_SCENARIO = ROOT / "bench" / "sipp" / "uac_busy_forward.xml"
SERVER_CPU, SIPP_CPU = 0, 1
GOOD_WITHIN_MS = 1000.0  # a call counts in the goodput when its INVITE got its 200 within this
SOCKET_BUFFER = 4 * 1024 * 1024  # receive buffer of every socket, server and sipp alike
SIPP_ARGS = ["-max_recv_loops", "10000", "-max_sched_loops", "10000",
             "-buff_size", str(SOCKET_BUFFER)]
LAB_VARIANTS = {"lab": [], "lab-default-gc": ["--default-gc"],
                "lab-no-overload": ["--overload-delay", "0"]}
TARGETS = (*LAB_VARIANTS, "kamailio")


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, IndexError, ValueError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    load = ""
    with contextlib.suppress(OSError):
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return (f"{os.cpu_count()} CPUs ({model}), {mem}, Python {sys.version.split()[0]}, "
            f"load average at start {load}")


# -- /proc helpers -------------------------------------------------------------------------------

def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def runqueue_wait_seconds(pids: list[int]) -> float:
    """Time the processes were runnable but waiting for a CPU (/proc/PID/schedstat, field 2):
    how much of its core something else took from the server."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[1])
    return total / 1e9


def rss_mb(pids: list[int], key: str = "VmRSS:") -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(key):
                    total += int(line.split()[1])
    return total / 1024


def open_fds(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += len(os.listdir(f"/proc/{pid}/fd"))
    return total


def socket_drops(port: int) -> int:
    """Datagrams the kernel dropped at the UDP socket bound to ``port`` (/proc/net/udp 'drops')."""
    wanted = f":{port:04X}"
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(wanted):
                return int(fields[-1])
    return 0


def pin(pid: int, cpu: int) -> None:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        subprocess.run(["taskset", "-a", "-p", "-c", str(cpu), str(pid)], check=False,
                       capture_output=True)


# -- servers -----------------------------------------------------------------------------------------

class Server:
    name: str
    port: int

    def pids(self) -> list[int]:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class LabServer(Server):
    def __init__(self, name: str, work: Path, port: int, media_port: int) -> None:
        self.name, self.port = name, port
        self.proxy = ProxyProcess(work, ("127.0.0.1", port), ("127.0.0.1", media_port),
                                  fr_timeout=5, fr_inv_timeout=10, trace=False,
                                  extra=LAB_VARIANTS[name])
        try:
            self.proxy.wait_ready()
        except BaseException:
            self.proxy.stop()
            raise

    def pids(self) -> list[int]:
        return [self.proxy.proc.pid]

    def stop(self) -> None:
        self.proxy.stop()


class KamailioServer(Server):
    def __init__(self, work: Path, port: int, media_port: int) -> None:
        self.name, self.port = "kamailio", port
        self.kam = Kamailio(work, port, media_port, fr_inv_timer_ms=10000, fr_timer_ms=5000)
        argv = self.kam.argv
        for flag in ("WITH_SIPDUMP", f'SIPDUMP_DIR="{self.kam.dumps}"'):  # no per-message dump
            i = argv.index(flag)
            del argv[i - 1:i + 1]
        argv[argv.index("-m") + 1] = "2048"  # shared memory MB: room for overload backlogs
        argv[argv.index("-M") + 1] = "32"
        argv[1:1] = ["-b", str(SOCKET_BUFFER)]  # the lab proxy's receive buffer (transport.udp)
        self.kam.start()

    def pids(self) -> list[int]:
        return group_members(self.kam.pid) or [self.kam.pid]

    def stop(self) -> None:
        self.kam.stop()


def start_server(name: str, work: Path, port: int, media_port: int) -> Server:
    if name == "kamailio":
        if kamailio_binary() is None:
            raise SystemExit("kamailio is not installed (./dev installs Debian's package)")
        return KamailioServer(work, port, media_port)
    return LabServer(name, work, port, media_port)


# -- one run -------------------------------------------------------------------------------------

@dataclass
class RunResult:
    target: str
    rate: float
    seconds: float
    calls: int
    completed: int = 0  # BYE answered: the whole call went through
    answered_in_time: int = 0  # 200 to the INVITE within GOOD_WITHIN_MS of sending it
    answered: int = 0  # 200 to the INVITE
    refused: int = 0  # 503 (or 500/408/480/486) to the INVITE
    cpu_s: float = 0.0
    wait_s: float = 0.0  # runnable but waiting for its CPU (taken by other processes)
    wall_s: float = 0.0
    offer_s: float = 0.0  # time sipp took to place every call (≥ seconds when sipp lags)
    p50_ms: float = math.nan  # INVITE → 200 at the caller
    p99_ms: float = math.nan
    p99_refusal_ms: float = math.nan  # INVITE → refusal
    socket_drops: int = 0  # datagrams dropped at the server's socket
    sipp_drops: int = 0  # … at the sipp sockets (the load generator's own losses)
    rss_mb: float = 0.0  # server RSS at the end of the run (all its processes)
    sipp_cpu_pct: float = 0.0  # CPU use of the three sipp processes on their core
    finals: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return self.calls - self.completed

    @property
    def failed_pct(self) -> float:
        return 100.0 * self.failed / self.calls if self.calls else 0.0

    @property
    def final_share_pct(self) -> float:
        """Callers that got a final response (200 or a refusal)."""
        return 100.0 * (self.answered + self.refused) / self.calls if self.calls else 0.0

    @property
    def goodput(self) -> float:
        """Completed calls answered within GOOD_WITHIN_MS, per second of offered load (a call
        that waited seconds in a queue and completed after the offered period does not count)."""
        return min(self.completed, self.answered_in_time) / max(self.seconds, self.offer_s)

    @property
    def cpu_ms_per_call(self) -> float:
        """Server CPU per completed call (per offered call when none completed)."""
        return 1000.0 * self.cpu_s / max(1, self.completed)

    @property
    def clean(self) -> bool:
        return self.failed_pct < 0.1 and self.refused == 0

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out.update(failed=self.failed, failed_pct=self.failed_pct, goodput=self.goodput,
                   final_share_pct=self.final_share_pct, cpu_ms_per_call=self.cpu_ms_per_call,
                   clean=self.clean)
        return out


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _rtts(work: Path) -> dict[int, list[float]]:
    out: dict[int, list[float]] = {}
    for path in work.glob("uac_busy_forward_*_rtt.csv"):
        for line in path.read_text(errors="replace").splitlines()[1:]:
            parts = line.split(";")
            with contextlib.suppress(ValueError, IndexError):
                out.setdefault(int(parts[2]), []).append(float(parts[1]))
    return out


def _offer_seconds(caller: Sipp, calls: int) -> float:
    """When sipp had created every call, from its -trace_stat rows (ElapsedTime(C) H:M:S:ms)."""
    for row in caller.stat_rows():
        with contextlib.suppress(KeyError, ValueError):
            if int(row["OutgoingCall(C)"]) >= calls:
                h, m, s = row["ElapsedTime(C)"].split(":")[:3]
                return int(h) * 3600 + int(m) * 60 + float(s)
    return 0.0


def run_busy(target: str, rate: float, seconds: float, work: Path,
             sample: Callable[[Server, float], None] | None = None,
             sample_every: float = 5.0) -> RunResult:
    """Offer ``rate`` calls/s for ``seconds`` to a fresh ``target``; wait until sipp is done.

    ``sample(server, elapsed)`` is called about every ``sample_every`` seconds while it runs."""
    work.mkdir(parents=True, exist_ok=True)
    port, media_port = free_udp_ports(2)
    calls = max(1, round(rate * seconds))
    result = RunResult(target=target, rate=rate, seconds=seconds, calls=calls)
    server = start_server(target, work, port, media_port)
    sipps: list[Sipp] = []
    try:
        for pid in server.pids():
            pin(pid, SERVER_CPU)
        timeout = seconds * 2 + 60
        media = Sipp("media_server.xml", workdir=work, local_port=media_port, calls=None,
                     timeout=timeout, trace_msg=False, recv_timeout_ms=20000, extra_args=SIPP_ARGS)
        callee = Sipp("uas_busy.xml", workdir=work, calls=None, timeout=timeout, trace_msg=False,
                      recv_timeout_ms=20000, extra_args=SIPP_ARGS)
        for s in (media, callee):
            s.start()
            sipps.append(s)
            pin(s.pid, SIPP_CPU)
        register_contact(port, "1001", callee.local_port)
        caller = Sipp(CALLER_SCENARIO, workdir=work, remote_port=port, calls=calls, rate=rate,
                      max_concurrent=max(1000, int(rate * 60)), service="1001",
                      keys={"caller": "1000"}, timeout=timeout, trace_msg=False, trace_stat=True,
                      recv_timeout_ms=10000,
                      extra_args=[*SIPP_ARGS, "-trace_rtt", "-rtt_freq", "1", "-fd", "1"])
        pids = server.pids()
        sipp_ports = [media_port, callee.local_port, caller.local_port]
        cpu0, drops0 = cpu_seconds(pids), socket_drops(port)
        wait0 = runqueue_wait_seconds(pids)
        sipp_drops0 = sum(socket_drops(p) for p in sipp_ports)
        started = time.monotonic()
        caller.start()
        sipps.append(caller)
        pin(caller.pid, SIPP_CPU)
        sipp_pids = [s.pid for s in sipps]
        sipp_cpu0 = cpu_seconds(sipp_pids)
        next_sample = started
        while caller.running and time.monotonic() - started < timeout + 5:
            if sample is not None and time.monotonic() >= next_sample:
                sample(server, time.monotonic() - started)
                next_sample += sample_every
            with contextlib.suppress(subprocess.TimeoutExpired):
                caller.proc.wait(timeout=0.2)
        caller.stop()
        result.wall_s = time.monotonic() - started
        result.cpu_s = cpu_seconds(pids) - cpu0
        result.wait_s = runqueue_wait_seconds(pids) - wait0
        result.sipp_cpu_pct = 100.0 * (cpu_seconds(sipp_pids) - sipp_cpu0) / result.wall_s
        result.socket_drops = socket_drops(port) - drops0
        result.sipp_drops = sum(socket_drops(p) for p in sipp_ports) - sipp_drops0
        result.rss_mb = rss_mb(pids)
        if sample is not None:
            sample(server, result.wall_s)
        for line in caller.log_lines():
            parts = line.split()
            if parts[0] == "BYE_OK":
                result.completed += 1
            elif parts[0] == "FINAL" and len(parts) > 1:
                result.finals[parts[1]] = result.finals.get(parts[1], 0) + 1
        result.answered = result.finals.get("200", 0)
        result.refused = sum(n for code, n in result.finals.items() if code != "200")
        rtts = _rtts(work)
        result.answered_in_time = sum(1 for v in rtts.get(1, []) if v <= GOOD_WITHIN_MS)
        result.p50_ms = _percentile(rtts.get(1, []), 0.50)
        result.p99_ms = _percentile(rtts.get(1, []), 0.99)
        result.p99_refusal_ms = _percentile(rtts.get(2, []), 0.99)
        result.offer_s = _offer_seconds(caller, calls)
        return result
    finally:
        for s in reversed(sipps):
            s.stop()
        server.stop()


def ratio(a: float, b: float) -> str:
    if not (math.isfinite(a) and math.isfinite(b)) or b == 0:
        return "—"
    return f"{a / b:.2f}"


def fmt(value: float, digits: int = 0) -> str:
    return "—" if not math.isfinite(value) else f"{value:.{digits}f}"
