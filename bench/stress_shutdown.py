"""Shutdown stress: start, call and quit the voicemail box and a phone process, many times.

Each cycle starts a real ``labpbx voicemail`` (TinyDB message index in a temp data dir, as the lab
runs it) and a real ``labpbx phone`` (extension 1000, registering to a fake registrar), has the
phone call ``b1001`` at the box, waits until the box records, then ends the cycle one of three ways
in turn: the phone hangs up and the message is stored before both quit; both quit while the box is
still recording; the box quits while the phone is still in the call. Every process must exit with
status 0; an abnormal exit (a signal, or any other status) is counted with the last lines of its
stderr (faulthandler is on in every child, so a crash prints the Python stacks there).

    python bench/stress_shutdown.py --cycles 100            # 100 box quits + 100 phone quits
    python bench/stress_shutdown.py --cycles 100 --busy     # the same with a CPU burner running

Loopback only; every process is stopped by PID; a cycle is bounded by timeouts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.phones.harness import FakeRegistrar, PhoneProcess  # noqa: E402
from tests.voicemail.audio_checks import tone, write_wav  # noqa: E402
from tests.voicemail.harness import JsonLineProcess  # noqa: E402

ENDINGS = ("stored", "quit-recording", "box-first")


class Box(JsonLineProcess):
    def __init__(self, data: Path) -> None:
        super().__init__([sys.executable, "-X", "faulthandler", "-m", "labpbx", "--data",
                          str(data), "voicemail", "--json", "--listen", "127.0.0.1:0",
                          "--silence", "0", "--max-length", "20"], "voicemail")
        self.ready = self.wait_for(lambda e: e.get("type") == "component"
                                   and e.get("status") in ("ready", "failed"))
        self.address = str(self.ready.get("address", ""))


def exit_text(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"exit {code}"


def one_cycle(index: int, work: Path, registrar: FakeRegistrar) -> list[tuple[str, int, str]]:
    """Run one cycle; returns (who, exit code, stderr tail) of each process."""
    ending = ENDINGS[index % len(ENDINGS)]
    data = work / f"c{index}"
    data.mkdir()
    (data / "greetings" / "1001").mkdir(parents=True)
    # A short greeting of the mailbox's own (it wins over the shipped speech): quicker cycles.
    write_wav(data / "greetings" / "1001" / "busy.wav", tone(300, 0.3))
    box = Box(data)
    phone = PhoneProcess(registrar.address, ["1000"], env={"PYTHONFAULTHANDLER": "1"})
    results: list[tuple[str, int, str]] = []
    try:
        phone.ready()
        phone.ok(cmd="call", ext="1000", to=f"sip:b1001@{box.address}")
        box.wait_for(lambda e: e.get("type") == "voicemail" and e.get("status") == "recording",
                     20)
        if ending == "stored":
            time.sleep(1.0)  # a message of about a second (shorter ones are discarded as empty)
            phone.ok(cmd="hangup", ext="1000")
            box.wait_for(lambda e: e.get("type") == "voicemail" and e.get("status") == "stored",
                         20)
        if ending == "box-first":
            box.send(cmd="quit")
            box.wait_for(lambda e: e.get("status") == "stopped", 20)
    finally:
        phone_code = phone.close(15) if phone.proc.poll() is None else phone.proc.returncode
        phone.stderr.seek(0)
        phone_err = phone.stderr.read().decode("utf-8", "replace")
        phone.stderr.close()
        with contextlib.suppress(OSError, ValueError):
            box.send(cmd="quit")
        box_code = box.close(15)
        results.append(("phone", phone_code, phone_err[-1500:]))
        results.append(("voicemail", box_code, "\n".join(box.stderr_lines[-25:])))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--busy", action="store_true",
                        help="keep one core busy with a CPU burner during the run")
    parser.add_argument("--json", type=Path, default=None, help="write the results here too")
    args = parser.parse_args()
    burner = None
    if args.busy:
        burner = subprocess.Popen([sys.executable, "-c", "while 1: pass"])
    registrar = FakeRegistrar()
    exits: Counter[str] = Counter()
    abnormal: list[dict[str, object]] = []
    errors: list[str] = []
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="labpbx-stress-") as tmp:
            for index in range(args.cycles):
                try:
                    results = one_cycle(index, Path(tmp), registrar)
                except AssertionError as exc:
                    errors.append(f"cycle {index} ({ENDINGS[index % 3]}): {str(exc)[:800]}")
                    continue
                for who, code, tail in results:
                    exits[f"{who} {exit_text(code)}"] += 1
                    if code != 0:
                        abnormal.append({"cycle": index, "ending": ENDINGS[index % 3],
                                         "who": who, "exit": exit_text(code), "stderr": tail})
                        print(f"cycle {index}: {who} {exit_text(code)}\n{tail}", flush=True)
                if (index + 1) % 10 == 0:
                    print(f"{index + 1} cycles, {time.monotonic() - started:.0f} s: "
                          f"{dict(exits)}", flush=True)
    finally:
        registrar.close()
        if burner is not None:
            os.kill(burner.pid, signal.SIGKILL)
            burner.wait()
    summary = {"cycles": args.cycles, "busy": args.busy, "exits": dict(exits),
               "abnormal": len(abnormal), "cycle_errors": len(errors),
               "seconds": round(time.monotonic() - started, 1)}
    print(json.dumps(summary))
    for error in errors:
        print(error)
    if args.json:
        args.json.write_text(json.dumps({**summary, "details": abnormal, "errors": errors},
                                        indent=1))
    return 0 if not abnormal and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
