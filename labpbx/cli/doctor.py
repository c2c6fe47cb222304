"""``labpbx doctor``: check this machine for the lab and print the report with its fixes.

    labpbx [--data DIR] doctor [--port N] [--json]

Exit code 0 when nothing failed (warnings allowed: no sound card, no display), 1 otherwise.
``--probe native`` is internal: the child process in which the doctor loads pjsua2 and PortAudio
(labpbx.doctor.probes); it prints one marked JSON line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from labpbx import argtypes


def register(sub: Any) -> None:
    doctor = sub.add_parser(
        "doctor", help="check this machine for the lab and say how to fix what is missing",
        description="Check that pjsua2 loads, PortAudio and audio devices, the display and Qt, "
                    "the lab's ports on 127.0.0.1, the data directory; print the versions. "
                    "Exit code 0 when nothing failed.")
    doctor.add_argument("--port", type=argtypes.port, default=5060,
                        help="the proxy port to check (default 5060, the window's default)")
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    doctor.add_argument("--probe", choices=("native",), default=None, help=argparse.SUPPRESS)


def run(args: argparse.Namespace, data_dir: Path) -> int:
    from labpbx.doctor import run_doctor
    from labpbx.doctor.probes import native_probe, print_probe

    if args.probe == "native":
        print_probe(native_probe())
        return 0
    report = run_doctor(data_dir, args.port)
    text = report.to_json() if args.json else report.to_text()
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:  # a legacy Windows console code page: replace, do not fail
        reconfigure(errors="replace")
    print(text, flush=True)
    return report.exit_code
