"""The system check's report: what was checked, how it went, and the fix (pure).

Rules of this module:
- A ``Check`` is one finding: a stable ``key`` (for tests and JSON), a title, a ``Status``
  (ok / warn / fail), a one-paragraph detail, and a fix that a user can act on (empty when ok).
- ``warn`` is for what limits the lab without stopping it (no sound card: the lab runs, the own
  softphone is silent); ``fail`` for what stops it (pjsua2 does not load, a port is taken).
- The text form is plain and fixed-width friendly, the same in the terminal (``labpbx doctor``)
  and the window (Help → System check…); each line says its status in words, never by colour.
- No I/O here: the checks are made from probe results in labpbx.doctor.checks.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass


class Status(enum.Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


# Worst first: the order a report's overall status is taken from.
SEVERITY = {Status.OK: 0, Status.WARN: 1, Status.FAIL: 2}
LABELS = {Status.OK: "OK", Status.WARN: "WARNING", Status.FAIL: "FAILED"}


@dataclass(frozen=True, slots=True)
class Check:
    key: str
    title: str
    status: Status
    detail: str
    fix: str = ""


@dataclass(frozen=True, slots=True)
class Report:
    checks: tuple[Check, ...]

    @property
    def status(self) -> Status:
        """The worst status of any check (ok for an empty report)."""
        worst = Status.OK
        for check in self.checks:
            if SEVERITY[check.status] > SEVERITY[worst]:
                worst = check.status
        return worst

    @property
    def exit_code(self) -> int:
        """0 when nothing failed (warnings included), 1 otherwise: ``labpbx doctor``'s exit."""
        return 1 if self.status is Status.FAIL else 0

    def get(self, key: str) -> Check:
        for check in self.checks:
            if check.key == key:
                return check
        raise KeyError(key)

    def counts(self) -> dict[Status, int]:
        result = dict.fromkeys(Status, 0)
        for check in self.checks:
            result[check.status] += 1
        return result

    def to_text(self) -> str:
        lines = []
        for check in self.checks:
            lines.append(f"[{LABELS[check.status]:<7}] {check.title}: {check.detail}")
            if check.fix:
                lines.append(f"          Fix: {check.fix}")
        counts = self.counts()
        lines.append("")
        lines.append(f"{counts[Status.OK]} ok, {counts[Status.WARN]} warning(s), "
                     f"{counts[Status.FAIL]} failed.")
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps({"status": self.status.value, "checks": [
            {"key": c.key, "title": c.title, "status": c.status.value, "detail": c.detail,
             "fix": c.fix} for c in self.checks]}, ensure_ascii=False, indent=2)
