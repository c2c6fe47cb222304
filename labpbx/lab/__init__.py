"""The lab supervisor and its helpers (no Qt): ``Lab`` runs the proxy, the voicemail box and the
phones as child processes and merges their events; see supervisor.py for the process model.

    from labpbx.lab import Lab, LabConfig
    with Lab(LabConfig(data_dir=path, fr_inv_timeout=3)) as lab:
        leg = lab.call("1000", "1001")

What a view (the console, the window) uses:
- ``lab.snapshot()`` → (LabState, position) in O(1): extensions, calls, mailboxes, components
  with typed statuses (labpbx.lab.state), folded from the stream as each event is published;
- ``lab.subscribe(callback, after=position)`` (or ``subscribe_numbered`` for (seq, event)): the
  events after that position, replayed then live, none missed or repeated, a GapEvent first when
  the bounded history no longer reaches back; the answers to the lab's own commands never appear;
- ``lab.call_async(...)``, ``set_policy_async``, ``answer_async``, ``reject_async``,
  ``hangup_async``, ``reload_script_async``: return a Future at once, settled by the child's ack;
- ``lab.script_text()``, ``apply_script_async(text)``, ``revert_script_async()``: the running
  routing script, and changing it without dropping calls (labpbx.lab.script_commands); checking
  text and the language's words for an editor: labpbx.lab.script_text;
- the lab's data, with or without a running lab: ``Provisioning(data_dir)`` (usr_preferences,
  labpbx.lab.provisioning) and ``Mailboxes(data_dir)`` (messages, heard, greetings,
  labpbx.lab.mailboxes), whose writes have ``*_async`` forms; ``lab.sync_forwarding()`` and
  ``lab.refresh_mwi(mailbox)`` tell a running lab of such changes; ``set_timers_async`` and
  ``timers()``; ``Playback`` (labpbx.lab.playback) plays a WAV on this computer's speaker.

Modules — pure: config (LabConfig, LabError, restart budget), registrations (who registers
when), commandlines (each child's arguments), ladder (text ladder of a call), calls (how a call
ended), state (the lab state and its reducer), console (terminal lines), script_text
(checking script text, the running script, the language's words). With
threads/processes: children (one child process), acks (commands and their acks, as futures),
stream (numbered history, folded state, subscribers, wait_for), dispatcher (the one thread that
owns the lab's state), history (the calls table), commands (what users can tell a lab to do),
script_commands (apply / revert the proxy's script),
supervisor (Lab), proxy_child (the proxy as a supervised child), control (state file and control
port for ``labpbx call``), demo (the tutorial's three calls), provisioning and mailboxes (the
lab's data files), playback (sounddevice, the only user in labpbx.lab).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labpbx.lab.config import LabConfig, LabError, LabTimeout, RestartPolicy

if TYPE_CHECKING:
    from labpbx.lab.supervisor import Lab

__all__ = ["Lab", "LabConfig", "LabError", "LabTimeout", "RestartPolicy"]


def __getattr__(name: str) -> Any:
    # Lazy: the proxy child (labpbx.lab.proxy_child) lives in this package and is on the lab's
    # start-up critical path; it must not pay for importing the supervisor it never uses.
    if name == "Lab":
        from labpbx.lab.supervisor import Lab

        return Lab
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
