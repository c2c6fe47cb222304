"""Are the stored messages faithful on a busy machine? `labpbx demo --fast` N times, measured.

Each run plays the tutorial's three calls (real proxy, pjsua2 phones, voicemail box) and stores
three messages of the caller's voice (440/660 Hz tones, labpbx.phones.voice). Every message is
classified in 20 ms windows (tests/lab/audio.py): the share of loud windows that are one of the
voice's tones, and the longest stretch without them. With ``--burners N`` that many
``while 1: pass`` processes keep cores busy for the whole run.

    python bench/audio_under_load.py --runs 10 --burners 1

Loopback only; every process is stopped by PID.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.lab.audio import WINDOW, assert_caller_voice, classify  # noqa: E402


def longest_gap(letters: str) -> float:
    first = min((i for i in (letters.find("a"), letters.find("b")) if i >= 0), default=0)
    last = max(letters.rfind("a"), letters.rfind("b"))
    body = letters[first:last + 1].replace("a", "b")
    return max((len(run) for run in body.split("b")), default=0) * WINDOW


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--burners", type=int, default=1)
    args = parser.parse_args()
    burners = [subprocess.Popen([sys.executable, "-c", "while 1: pass"])
               for _ in range(args.burners)]
    rows: list[dict[str, object]] = []
    failed_runs = 0
    try:
        for run in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="labpbx-audio-") as tmp:
                began = time.monotonic()
                result = subprocess.run(
                    [sys.executable, "-m", "labpbx", "--data", tmp, "demo", "--fast"],
                    cwd=ROOT, capture_output=True, text=True, timeout=120,
                    env=dict(os.environ, PYTHONPATH=str(ROOT)))
                seconds = time.monotonic() - began
                if result.returncode != 0:
                    failed_runs += 1
                    print(f"run {run}: demo exit {result.returncode}\n{result.stdout[-1500:]}")
                for wav in sorted(Path(tmp, "voicemail").glob("*/*.wav")):
                    letters = classify(wav)
                    loud = len(letters) - letters.count(".")
                    share = (letters.count("a") + letters.count("b")) / loud if loud else 0.0
                    try:
                        assert_caller_voice(wav)
                        verdict = "ok"
                    except AssertionError as exc:
                        verdict = f"FAIL: {str(exc)[:120]}"
                    rows.append({"run": run, "mailbox": wav.parent.name, "tone_share": share,
                                 "longest_gap_s": longest_gap(letters), "verdict": verdict})
                    print(f"run {run} ({seconds:.1f} s) {wav.parent.name}: tone "
                          f"{share:.2f}, longest gap {longest_gap(letters):.2f} s, {verdict}",
                          flush=True)
    finally:
        for burner in burners:
            os.kill(burner.pid, signal.SIGKILL)
            burner.wait()
    shares = [float(r["tone_share"]) for r in rows]  # type: ignore[arg-type]
    gaps = [float(r["longest_gap_s"]) for r in rows]  # type: ignore[arg-type]
    summary = {"runs": args.runs, "burners": args.burners, "messages": len(rows),
               "failed_runs": failed_runs,
               "check_failures": sum(r["verdict"] != "ok" for r in rows),
               "tone_share_min": round(min(shares, default=0), 2),
               "tone_share_median": round(statistics.median(shares), 2) if shares else 0,
               "longest_gap_max_s": round(max(gaps, default=0), 2)}
    print(json.dumps(summary))
    return 0 if not failed_runs and not summary["check_failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
