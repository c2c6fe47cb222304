"""``labpbx doctor``: what this machine needs for the lab, checked and reported with fixes.

Modules: report (the report model: checks with status ok/warn/fail, detail and fix; text and
JSON), checks (from probe results to checks, pure), probes (how the facts are found: child
processes for pjsua2/PortAudio and Qt, binding the lab's ports on 127.0.0.1, writing to the data
directory). ``run_doctor`` is the one entry point, for the command line and the window alike.
"""

from __future__ import annotations

from pathlib import Path

from labpbx.doctor.checks import build_report
from labpbx.doctor.probes import Probes, gather
from labpbx.doctor.report import Check, Report, Status

__all__ = ["Check", "Probes", "Report", "Status", "run_doctor"]


def run_doctor(data_dir: Path, proxy_port: int = 5060, probes: Probes | None = None) -> Report:
    """Probe this machine and report (takes seconds: never call it on a GUI thread)."""
    return build_report(gather(data_dir, proxy_port, probes))
