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

CONTEXT = "LabText"


def tr(text: str) -> str:
    return QCoreApplication.translate(CONTEXT, text)


def policy_label(policy: Policy) -> str:
    labels = {
        Policy.ANSWER: tr("Answer after…"),
        Policy.BUSY: tr("Busy (486)"),
        Policy.RING: tr("Let it ring"),
        Policy.UNAVAILABLE: tr("Unavailable (480)"),
        Policy.DND: tr("Do not disturb"),
        Policy.OFFLINE: tr("Offline"),
    }
    return labels[policy]


def component_status_label(status: ComponentStatus) -> str:
    labels = {
        ComponentStatus.STARTING: tr("starting"),
        ComponentStatus.READY: tr("ready"),
        ComponentStatus.STOPPING: tr("stopping"),
        ComponentStatus.STOPPED: tr("stopped"),
        ComponentStatus.RESTARTED: tr("restarted"),
        ComponentStatus.EXITED: tr("exited"),
        ComponentStatus.FAILED: tr("failed"),
    }
    return labels[status]


def outcome_label(outcome: CallOutcome) -> str:
    labels = {
        CallOutcome.ANSWERED: tr("answered"),
        CallOutcome.BUSY_VOICEMAIL: tr("busy → voicemail"),
        CallOutcome.NO_ANSWER_VOICEMAIL: tr("no answer → voicemail"),
        CallOutcome.FORWARDED_VOICEMAIL: tr("forwarded → voicemail"),
        CallOutcome.CANCELLED: tr("cancelled"),
        CallOutcome.FAILED: tr("failed"),
    }
    return labels[outcome]


def phase_label(phase: CallPhase) -> str:
    labels = {
        CallPhase.SETUP: tr("setting up"),
        CallPhase.RINGING: tr("ringing"),
        CallPhase.CONNECTED: tr("in call"),
        CallPhase.ENDED: tr("ended"),
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
        return tr("● registered") + (f" — {where}" if where else "")
    if ext.policy is Policy.OFFLINE:
        return tr("○ offline (not registered)")
    return tr("○ not registered") + (f" — {ext.registration}" if ext.registration else "")


def activity_text(ext: ExtensionState, now: float) -> str:
    leg = ext.current_leg
    activity = ext.activity
    if activity is Activity.IDLE or leg is None:
        return tr("Idle")
    if activity is Activity.RINGING:
        return tr("☎ Ringing — call from %1").replace("%1", leg.peer)
    if activity is Activity.CALLING:
        return tr("Calling %1…").replace("%1", leg.peer)
    since = leg.answered_at if leg.answered_at is not None else leg.since
    return (tr("In call with %1").replace("%1", leg.peer)
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
        return (tr("The phones cannot start: the pjsua2 library is missing.")
                + "\n" + tr("Fix: install it into this Python: pip install 'pjsua2-python>=2.15.1,<2.16'")
                + "\n" + first)
    if "in use" in text or "Address already in use" in text:
        port = str(config.proxy_port) if config.proxy_port else ""
        return (tr("A port the lab needs is already in use (another lab or SIP server?).")
                + "\n" + tr("Fix: stop the other program, or start the window on any free port: "
                            "labpbx gui --port 0 (or --port N).")
                + (f"\n{tr('Port')} {port}: " if port else "\n") + first)
    if "already running in" in text:
        return (tr("Another lab is already running in this data directory.")
                + "\n" + tr("Fix: stop it (Ctrl-C in its terminal, or close its window), or "
                            "open the window on another directory: labpbx --data DIR gui.")
                + "\n" + first)
    return tr("The lab could not start.") + "\n" + text


def missing_pjsua2() -> bool:
    """Whether pjsua2 cannot be imported: then the phones cannot start (said before trying)."""
    import importlib.util

    return importlib.util.find_spec("pjsua2") is None
