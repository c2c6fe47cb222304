#!/usr/bin/env python3
"""Busy-forward benchmark: SIPp callers against a running LabPBX proxy.

Every call: caller (uac_call.xml) -> proxy -> callee (uas_busy.xml) answers
486 -> proxy forwards to the voicemail media server (media_server.xml) with
Request-URI user b<callee> -> 100/180/200 -> ACK -> hold -> BYE -> 200.

The proxy must already run on 127.0.0.1:<proxy-port> with its media server
address set to 127.0.0.1:<media-port>; this script starts the three sipp
processes, REGISTERs the callee (and the caller) with the proxy, runs the
calls at the given rate and writes the sipp files plus summary.json into
--out (default bench/results/<timestamp>, ignored by git).

    python bench/sipp_busy_forward.py --proxy-port 5060 --media-port 5090 \\
        --calls 1000 --rate 50

Exit status 0 when every call succeeded end to end, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.integration import sipp_harness as h  # noqa: E402


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--proxy-port", type=int, required=True, help="proxy UDP port on 127.0.0.1")
    p.add_argument("--media-port", type=int, required=True, help="port the proxy forwards to")
    p.add_argument("--callee", default="1001", help="extension that is busy (default 1001)")
    p.add_argument("--caller", default="1000", help="calling extension (default 1000)")
    p.add_argument("--calls", type=int, default=200, help="number of calls (default 200)")
    p.add_argument("--rate", type=float, default=20.0, help="new calls per second (default 20)")
    p.add_argument("--hold-ms", type=int, default=100, help="ACK-to-BYE time (default 100)")
    p.add_argument("--max-concurrent", type=int, default=None, help="sipp -l")
    p.add_argument("--callee-port", type=int, default=None, help="default: a free port")
    p.add_argument("--recv-timeout-ms", type=int, default=10_000)
    p.add_argument("--no-register", action="store_true", help="skip the REGISTERs")
    p.add_argument("--trace-msg", action="store_true", help="also write sipp message traces")
    p.add_argument("--out", type=Path, default=None)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if h.sipp_binary() is None:
        print("sipp is not installed (package sip-tester)", file=sys.stderr)
        return 2
    out: Path = args.out or ROOT / "bench" / "results" / time.strftime("busy_%Y%m%d_%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    # Whole-run safety net for every sipp process.
    budget = math.ceil(args.calls / args.rate + args.recv_timeout_ms / 1000 + 30)
    common: dict[str, Any] = {
        "workdir": out,
        "calls": args.calls,
        "timeout": budget,
        "recv_timeout_ms": args.recv_timeout_ms,
        "trace_msg": args.trace_msg,
        "trace_stat": True,
    }
    media = h.Sipp("media_server", name="media", local_port=args.media_port, **common)
    busy = h.Sipp("uas_busy", name="callee", local_port=args.callee_port, **common)
    caller = h.Sipp(
        "uac_call",
        name="caller",
        remote_port=args.proxy_port,
        service=args.callee,
        keys={"caller": args.caller},
        rate=args.rate,
        max_concurrent=args.max_concurrent,
        duration_ms=args.hold_ms,
        **common,
    )
    started = time.monotonic()
    with h.started(media, busy):
        if not args.no_register:
            h.register_contact(args.proxy_port, args.callee, busy.local_port)
            h.register_contact(args.proxy_port, args.caller, caller.local_port)
        with caller:
            caller_rc = caller.wait(budget + 10)
        # The servers exit by themselves after --calls calls; give stragglers a moment.
        h.wait_until(lambda: not media.running and not busy.running, 5.0)
    elapsed = time.monotonic() - started

    stats = caller.stat_rows()[-1] if caller.stat_rows() else {}
    media_users = media.ruris()
    summary = {
        "calls": args.calls,
        "rate": args.rate,
        "hold_ms": args.hold_ms,
        "elapsed_s": round(elapsed, 3),
        "caller_rc": caller_rc,
        "media_rc": media.returncode,
        "callee_rc": busy.returncode,
        "successful": int(stats.get("SuccessfulCall(C)", "0") or 0),
        "failed": int(stats.get("FailedCall(C)", "0") or 0),
        "achieved_rate": float(stats.get("CallRate(C)", "0") or 0),
        "retransmissions": int(stats.get("Retransmissions(C)", "0") or 0),
        "invite_to_200_avg": stats.get("ResponseTime1(C)", ""),
        "invite_to_200_stdev": stats.get("ResponseTime1StDev(C)", ""),
        "call_length_avg": stats.get("CallLength(C)", ""),
        "callee_invites": len(busy.ruris()),
        "media_invites": len(media_users),
        "media_wrong_ruri": sum(u != f"b{args.callee}" for u in media_users),
        "out": str(out),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    ok = (
        caller_rc == h.EXIT_OK
        and summary["successful"] == args.calls
        and summary["media_invites"] == args.calls
        and summary["media_wrong_ruri"] == 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
