"""The words the window shows for the lab's states, all through Qt's translation machinery
(``QCoreApplication.translate`` in the context "LabText", found by pyside6-lupdate), so the views
show them in the current language (ui.i18n). The functions translate when called: a view calls
them again from its ``retranslate_ui`` when the language changes.
SIP messages, script text and numbers are shown as they are, never translated. Placeholders are
%1, %2 … filled by ``arg`` (one pass, like QString.arg), so a translator may reorder them; each
string is a whole sentence, never glued from fragments."""

from __future__ import annotations

import re
import time

from PySide6.QtCore import QCoreApplication

from labpbx.lab import LabConfig
from labpbx.lab.calls import CallOutcome
from labpbx.lab.state import Activity, CallPhase, CallSummary, ComponentStatus, ExtensionState
from labpbx.phones.policy import Policy

# ``translate("LabText", "…")`` spelled out at each use: pyside6-lupdate finds the strings by
# that call shape (a wrapper function would hide them from it).
translate = QCoreApplication.translate
_PLACEHOLDER = re.compile(r"%([1-9])")


def arg(template: str, *values: object) -> str:
    """``template`` with %1, %2 … replaced by ``values`` in one pass (as QString.arg does), so a
    value that itself contains "%2" (a percent-encoded URI) is never replaced again."""
    def value(match: re.Match[str]) -> str:
        index = int(match.group(1)) - 1
        return str(values[index]) if index < len(values) else match.group(0)

    return _PLACEHOLDER.sub(value, template)


def policy_label(policy: Policy) -> str:
    labels = {
        Policy.ANSWER: translate("LabText", "Answer after…"),
        Policy.BUSY: translate("LabText", "Busy (486)"),
        Policy.RING: translate("LabText", "Let it ring"),
        Policy.UNAVAILABLE: translate("LabText", "Unavailable (480)"),
        Policy.DND: translate("LabText", "Do not disturb"),
        Policy.OFFLINE: translate("LabText", "Offline"),
    }
    return labels[policy]


def component_status_label(status: ComponentStatus) -> str:
    labels = {
        ComponentStatus.STARTING: translate("LabText", "starting"),
        ComponentStatus.READY: translate("LabText", "ready"),
        ComponentStatus.STOPPING: translate("LabText", "stopping"),
        ComponentStatus.STOPPED: translate("LabText", "stopped"),
        ComponentStatus.RESTARTED: translate("LabText", "restarted"),
        ComponentStatus.EXITED: translate("LabText", "exited"),
        ComponentStatus.FAILED: translate("LabText", "failed"),
    }
    return labels[status]


def outcome_label(outcome: CallOutcome) -> str:
    labels = {
        CallOutcome.ANSWERED: translate("LabText", "answered"),
        CallOutcome.BUSY_VOICEMAIL: translate("LabText", "busy → voicemail"),
        CallOutcome.NO_ANSWER_VOICEMAIL: translate("LabText", "no answer → voicemail"),
        CallOutcome.FORWARDED_VOICEMAIL: translate("LabText", "forwarded → voicemail"),
        CallOutcome.CANCELLED: translate("LabText", "cancelled"),
        CallOutcome.FAILED: translate("LabText", "failed"),
    }
    return labels[outcome]


def phase_label(phase: CallPhase) -> str:
    labels = {
        CallPhase.SETUP: translate("LabText", "setting up"),
        CallPhase.RINGING: translate("LabText", "ringing"),
        CallPhase.CONNECTED: translate("LabText", "in call"),
        CallPhase.ENDED: translate("LabText", "ended"),
    }
    return labels[phase]


def duration_text(seconds: float) -> str:
    whole = int(max(0.0, seconds))
    hours, rest = divmod(whole, 3600)
    return (f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours
            else f"{rest // 60}:{rest % 60:02d}")


def clock_text(stamp: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(stamp))


def registration_text(ext: ExtensionState) -> str:
    """A symbol and words: the state is never told by colour alone."""
    if ext.registered:
        where = ext.contact or ext.registration
        if where:
            return arg(translate("LabText", "● registered — %1"), where)
        return translate("LabText", "● registered")
    if ext.policy is Policy.OFFLINE:
        return translate("LabText", "○ offline (not registered)")
    if ext.registration:
        return arg(translate("LabText", "○ not registered — %1"), ext.registration)
    return translate("LabText", "○ not registered")


def activity_text(ext: ExtensionState, now: float) -> str:
    leg = ext.current_leg
    activity = ext.activity
    if activity is Activity.IDLE or leg is None:
        return translate("LabText", "Idle")
    if activity is Activity.RINGING:
        return arg(translate("LabText", "☎ Ringing — call from %1"), leg.peer)
    if activity is Activity.CALLING:
        return arg(translate("LabText", "Calling %1…"), leg.peer)
    since = leg.answered_at if leg.answered_at is not None else leg.since
    return arg(translate("LabText", "In call with %1 — %2"), leg.peer, duration_text(now - since))


def call_outcome_text(call: CallSummary) -> str:
    if call.outcome is not None:
        return outcome_label(call.outcome)
    return phase_label(call.phase)


def explain_failure(failure: BaseException, config: LabConfig) -> str:
    """Why the lab did not start, and what to do about it — for people, not a traceback."""
    text = str(failure).strip() or type(failure).__name__
    first = text.splitlines()[0]
    if "pjsua2" in text:
        lines = [translate("LabText", "The phones cannot start: the pjsua2 library is missing."),
                 translate("LabText", "Fix: install it into this Python: "
                                      "pip install 'pjsua2-python>=2.15.1,<2.16'"),
                 first]
    elif "in use" in text:
        lines = [translate("LabText", "A port the lab needs is already in use "
                                      "(another lab or SIP server?)."),
                 translate("LabText", "Fix: stop the other program, or start the window on any "
                                      "free port: labpbx gui --port 0 (or --port N)."),
                 arg(translate("LabText", "Port %1: %2"), config.proxy_port, first)
                 if config.proxy_port else first]
    elif "already running in" in text:
        lines = [translate("LabText", "Another lab is already running in this data directory."),
                 translate("LabText", "Fix: stop it (Ctrl-C in its terminal, or close its "
                                      "window), or open the window on another directory: "
                                      "labpbx --data DIR gui."),
                 first]
    else:
        lines = [translate("LabText", "The lab could not start."), text]
    return "\n".join(lines)


def pjsua2_missing_text() -> str:
    return "\n".join((translate("LabText", "The phones cannot start: the pjsua2 library is missing."),
                      translate("LabText", "Fix: install it into this Python: "
                                           "pip install 'pjsua2-python>=2.15.1,<2.16'")))


def missing_pjsua2() -> bool:
    """Whether pjsua2 cannot be imported: then the phones cannot start (said before trying)."""
    import importlib.util

    return importlib.util.find_spec("pjsua2") is None
