"""The words the window shows for the lab's states, all through Qt's translation machinery
(``QCoreApplication.translate``), so .ts/.qm files can be added without touching the views.
SIP messages, script text and numbers are shown as they are, never translated."""

from __future__ import annotations

import time

from PySide6.QtCore import QCoreApplication

from labpbx.lab import LabConfig
from labpbx.lab.calls import CallOutcome
from labpbx.lab.state import Activity, CallPhase, CallSummary, ComponentStatus, ExtensionState
from labpbx.phones.policy import Policy

# ``translate("LabText", "…")`` spelled out at each use: pyside6-lupdate finds the strings by
# that call shape (a wrapper function would hide them from it).
translate = QCoreApplication.translate


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
        return translate("LabText", "● registered") + (f" — {where}" if where else "")
    if ext.policy is Policy.OFFLINE:
        return translate("LabText", "○ offline (not registered)")
    return translate("LabText", "○ not registered") + (f" — {ext.registration}" if ext.registration else "")


def activity_text(ext: ExtensionState, now: float) -> str:
    leg = ext.current_leg
    activity = ext.activity
    if activity is Activity.IDLE or leg is None:
        return translate("LabText", "Idle")
    if activity is Activity.RINGING:
        return translate("LabText", "☎ Ringing — call from %1").replace("%1", leg.peer)
    if activity is Activity.CALLING:
        return translate("LabText", "Calling %1…").replace("%1", leg.peer)
    since = leg.answered_at if leg.answered_at is not None else leg.since
    return (translate("LabText", "In call with %1").replace("%1", leg.peer)
            + f" — {duration_text(now - since)}")


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
                 f"{translate('LabText', 'Port')} {config.proxy_port}: {first}"
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


def missing_pjsua2() -> bool:
    """Whether pjsua2 cannot be imported: then the phones cannot start (said before trying)."""
    import importlib.util

    return importlib.util.find_spec("pjsua2") is None
