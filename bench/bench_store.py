"""Micro-benchmark of LabStore.avp_lookup, the proxy's per-INVITE database read.

Run: ``python bench/bench_store.py [rows]``. Prints µs per lookup when the file did not change
(cache hit: one os.stat + dict look-ups) and when another writer changed it before every lookup
(cache miss: re-read, parse, re-index). Target for the hit: < 10 µs.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from labpbx.store import LabStore


def bench(rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lab.json"
        store = LabStore(path)
        store.avp_store(attribute="callfwd", username="1004", domain="127.0.0.1",
                        values=["sip:2345678@127.0.0.1:15060"])
        store.avp_store(attribute="other", username="1005", domain="127.0.0.1",
                        values=[f"sip:{i}@127.0.0.1" for i in range(max(0, rows - 2))] or ["x"])
        reader = LabStore(path)  # a different instance, like the proxy process
        assert reader.avp_lookup(username="1004", attribute="callfwd")
        n = 200_000
        t0 = time.perf_counter()
        for _ in range(n):
            reader.avp_lookup(username="1004", attribute="callfwd")
        hit = (time.perf_counter() - t0) / n * 1e6
        t0 = time.perf_counter()
        for _ in range(n):
            reader.avp_lookup(username="1004", domain="127.0.0.1", attribute="callfwd")
        hit_dom = (time.perf_counter() - t0) / n * 1e6
        m = 200
        miss_total = 0.0
        for i in range(m):
            store.avp_add("1006@127.0.0.1", "x", 0, str(i))
            t0 = time.perf_counter()
            reader.avp_lookup(username="1004", attribute="callfwd")
            miss_total += time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(m):
            store.avp_add("1006@127.0.0.1", "y", 0, str(i))
        write = (time.perf_counter() - t0) / m * 1e3
        print(f"{rows:>6} rows: lookup hit {hit:6.2f} µs, hit with domain {hit_dom:6.2f} µs, "
              f"miss (file changed) {miss_total / m * 1e6:8.1f} µs, avp_add {write:6.2f} ms")


if __name__ == "__main__":
    for count in [int(a) for a in sys.argv[1:]] or [10, 1000]:
        bench(count)
