"""CPU cost of the busy-forward flow inside the proxy engine, without sockets.

INVITE → 100 → (callee) 486 → ACK → failure_route → INVITE to the media server → 200 → ACK → BYE → 200,
driven in memory through the default script. Prints µs of proxy CPU per call. The end-to-end figure
over UDP with sipp is bench/run_busy_bench.py; this one shows how much of it is the engine itself.

    python bench/bench_engine_busy_flow.py [calls]
"""

from __future__ import annotations

import sys
import time

from tests.proxy.harness import MEDIA, Net, ack_for_2xx, bye_in_dialog, invite, reply

CALLER = ("127.0.0.1", 20000)
CALLEE = ("127.0.0.1", 21001)


def one_call(net: Net) -> None:
    inv = invite("1000", "1001", CALLER)
    net.send(inv, CALLER)
    fwd = net.requests(CALLEE, "INVITE")[-1]
    net.send(reply(fwd, 486), CALLEE)
    to_media = net.requests(MEDIA, "INVITE")[-1]
    net.send(reply(to_media, 200, tag="vm", contact=MEDIA), MEDIA)
    ok = net.responses(CALLER)[-1]
    ack = ack_for_2xx(inv, ok, CALLER, MEDIA)
    net.send(ack, CALLER)
    bye = bye_in_dialog(ack, CALLER)
    net.send(bye, CALLER)
    fwd_bye = net.requests(MEDIA, "BYE")[-1]
    net.send(reply(fwd_bye, 200, tag="vm"), MEDIA)
    net.inbox.clear()


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    net = Net(fr_timeout=30, fr_inv_timeout=120)
    net.proxy.sink = None  # no event stream, as in the benchmark run
    net.register("1001", CALLEE)
    for _ in range(50):
        one_call(net)
    # Only the engine's time counts: build messages outside the timed region is not possible here,
    # so the figure includes the simulated UAs' message building and parsing (an upper bound).
    start = time.process_time()
    for _ in range(calls):
        one_call(net)
    elapsed = time.process_time() - start
    print(f"{calls} calls, {elapsed / calls * 1e6:.0f} µs CPU per call (engine + simulated UAs)")


if __name__ == "__main__":
    main()
