"""Cold start to a usable window: the installed program beside the same from source.

    python bench/bench_cold_start.py --runs 5 \\
        --cmd installed=labpbx --cmd source=".venv/bin/python -m labpbx.cli"

Each run starts ``<cmd> --data <fresh dir> gui --port 0 --screenshot <png>`` offscreen from a
fresh working directory and measures the time from starting the process to the PNG appearing:
``gui --screenshot`` writes it once the window is shown and every extension is registered
(plus a fixed 200 ms settle, the same for every command), i.e. the window is usable. The
commands are interleaved run by run, so a busy machine weighs on both alike. Reported: each
command's median and min in seconds, and the difference of the medians against the first one.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one_run(command: list[str], timeout: float = 120.0) -> float:
    with tempfile.TemporaryDirectory(prefix="labpbx-cold-") as tmp:
        shot = Path(tmp) / "window.png"
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": tmp}
        started = time.monotonic()
        proc = subprocess.Popen([*command, "--data", str(Path(tmp) / "data"), "gui", "--port", "0",
                                 "--screenshot", str(shot)], cwd=tmp, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        seen = None
        while time.monotonic() - started < timeout:
            if seen is None and shot.exists() and shot.stat().st_size > 0:
                seen = time.monotonic() - started
            if proc.poll() is not None:
                break
            time.sleep(0.01)
        proc.wait(timeout=timeout)
        if seen is None or proc.returncode != 0:
            raise RuntimeError(f"{command}: no screenshot (exit {proc.returncode})")
        return seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cmd", action="append", required=True, metavar="NAME=COMMAND")
    args = parser.parse_args(argv)
    commands = {}
    for item in args.cmd:
        name, _, command = item.partition("=")
        commands[name] = shlex.split(command)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for run in range(args.runs):
        for name, command in commands.items():
            times[name].append(one_run(command))
            print(f"run {run + 1} {name}: {times[name][-1]:.2f} s", flush=True)
    first = next(iter(commands))
    anchor = statistics.median(times[first])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name}: median {median:.2f} s, min {min(values):.2f} s "
              f"({median - anchor:+.2f} s vs {first})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
