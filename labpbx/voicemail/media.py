"""The voicemail box's media server: answers SIP calls, plays a greeting and a tone, records.

This is the only module of labpbx.voicemail that imports pjsua2, and it follows PJSUA2.md:

Threads
  * One thread owns the server: it calls ``start()``, ``pump(ms)`` in a loop and ``stop()``.
    pjsua2 runs with ``threadCnt=0`` and ``mainThreadOnly=True``, so every SIP callback
    (incoming call, call state, media state, rejected call) runs inside ``pump()`` on that thread,
    and only there are pjsua2 objects created, connected and destroyed.
  * No code of ours runs on pjmedia's clock thread. The conference bridge of pjproject 2.15.1 is
    asynchronous (pjproject #3928): a port's removal is only queued, and the clock thread may
    still call the port after its pjsua2 object is gone (#4200, #4526). A Python
    ``AudioMediaPort`` (the former silence tap) was called there while Python tore it down: the
    box died with SIGSEGV at quit. A Python callback on that thread also made the bridge wait
    for the GIL, so a busy CPU stalled the bridge and damaged recordings. So silence is measured
    on the recording file itself (greetings.GrowingWav, read by the pump), and the only media
    callback left, a player's ``onEof2``, runs once per file on pjmedia's event thread and only
    puts a plain tuple on a queue that ``pump()`` drains. A player is destroyed only after its
    EOF, or after the bridge has confirmed it is disconnected (it is then never read again).
  * No other thread may call into this object (pjsua2 would abort on an unregistered thread).

One call leg, in order
  INVITE (any user: one registration-free account is the default, ``onSelectAccount`` always picks
  it) → mailbox and greeting from the Request-URI user and the Diversion header of
  ``rdata.wholeMsg`` (box.resolve) → 180, 200 → once audio is up: greeting player (no loop) →
  its EOF → beep player → its EOF → recorder to ``<data>/voicemail/<mailbox>/<id>.wav`` → the
  recording ends when the caller hangs up, at ``max_length``, or after ``silence`` seconds without
  sound (measured on the frames pjmedia has written to the file, up to 128 ms behind the call: its
  WAV writer appends 4 KiB blocks) → the DISCONNECTED callback marks the leg, and right after
  ``libHandleEvents`` (never inside the callback, and before any further libHandleEvents can reuse
  the call slot) the Call, players and recorder are dropped. Measured with this wheel: dropping a
  recorder only queues its removal on the conference bridge; pjmedia closes the file and writes
  the RIFF sizes on the bridge's next clock tick (~20 ms later). So the leg waits, pump by pump,
  until the header matches the file (greetings.wav_complete, 2 s at most), and only then is the
  WAV measured, trimmed, stored through the MessageStore and announced (VoicemailEvent, MwiEvent).

Events (component "voicemail"), per leg in order
  CallStateEvent incoming/early/connecting/confirmed/disconnected; ``ext`` is the Request-URI user
  as received (b1001), ``leg`` the box's id (vm1, vm2 …), ``reason`` of "disconnected" says who
  ended it: "caller hung up", "silence", "max-length", "shutdown", "no media", "timeout".
  VoicemailEvent status "greeting" (``path`` = the file played), "recording" (``message_id``,
  ``path`` relative to the data dir), then one of: "stored" (+ ``duration``; then MwiEvent with the
  store's counts), "empty" (nothing kept: ``reason`` says why, e.g. "hung up during the greeting",
  "no sound", "shorter than 0.5 s"), "failed" (recorded but not indexed / unreadable). For
  greeting/recording/stored ``reason`` is the forwarding reason (MailboxTarget.reason).
  VoicemailEvent "refused" (``reason`` "486 Busy Here: all 4 call legs are in use") when full.

Capacity
  This wheel has 4 call legs per process. ``maxCalls`` is set to the configured legs, pjsua answers
  a further INVITE 486 Busy Here by itself, and ``onRejectedIncomingCall`` turns that into a
  VoicemailEvent(status="refused") and a ProblemEvent: the box says it is full instead of failing.

Shutdown: ``stop()`` makes everything durable and ends the SIP side, and does no more:
hangupAllCalls (BYE to every caller), pump until the legs are gone, recordings in progress closed,
stored and indexed, the "stopped" event written. It does not call ``libDestroy``: tearing the
library down destroys the bridge, its clock thread and every remaining port in an order we do not
control, with the asynchronous-removal races above (a CI run and the stress bench saw SIGSEGV
there). The process that owns the box then ends with ``os._exit`` (labpbx.pjexit), so the quit
path runs nothing that ordinary calls do not. ``libDestroy`` is used only when ``start()`` fails,
before any call or port exists.
"""

from __future__ import annotations

import contextlib
import gc
import os
import queue
import secrets
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pjsua2 as pj  # type: ignore[import-untyped, unused-ignore]

from labpbx.errors import ConfigError, LabPbxError
from labpbx.events import (
    CallStateEvent,
    ComponentEvent,
    Event,
    EventSink,
    MwiEvent,
    ProblemEvent,
    VoicemailEvent,
)
from labpbx.voicemail.box import (
    SILENCE_KEEP,
    BoxConfig,
    IncomingInvite,
    MailboxTarget,
    MessageStore,
    SilenceDetector,
    VoicemailMessage,
    end_cause,
    message_id,
    message_path,
    parse_invite,
    resolve,
)
from labpbx.voicemail.greetings import (
    GrowingWav,
    analyze_recording,
    beep_path,
    find_greeting,
    shipped_greeting,
    truncate_wav,
    wav_complete,
    wav_info,
)

COMPONENT = "voicemail"
CLOCK_RATE = 16000
"""Conference bridge rate; recordings are 16-bit mono WAV at this rate."""
FRAME_USEC = 20000
FRAME_BYTES = CLOCK_RATE * FRAME_USEC // 1_000_000 * 2
NO_MEDIA_TIMEOUT = 32.0
"""A leg without audio this long after the INVITE is hung up: 64·T1, RFC 3261's Timer H, for
as long as the 200 is retransmitted (on a lossy path the ACK took 11-28 s in tests/netns)."""
DEADLINE_SLACK = 10.0
"""Extra seconds over greeting + tone + max length before a stuck leg is hung up anyway."""
WAV_CLOSE_TIMEOUT = 2.0
"""How long to wait for pjmedia to close a dropped recorder's WAV before reading it anyway."""
STOP_DRAIN_SECONDS = 3.0
"""At stop, how long calls may take to report DISCONNECTED before they are dropped anyway."""

_STATE_NAMES = {
    pj.PJSIP_INV_STATE_NULL: "null", pj.PJSIP_INV_STATE_CALLING: "calling",
    pj.PJSIP_INV_STATE_INCOMING: "incoming", pj.PJSIP_INV_STATE_EARLY: "early",
    pj.PJSIP_INV_STATE_CONNECTING: "connecting", pj.PJSIP_INV_STATE_CONFIRMED: "confirmed",
    pj.PJSIP_INV_STATE_DISCONNECTED: "disconnected",
}

# Media threads hand the pump plain tuples: ("eof", leg id, kind, t) or ("frame", leg id, pcm).


# --- pjsua2 subclasses: thin, they forward to the server -----------------------------------------


class _Endpoint(pj.Endpoint):  # type: ignore[misc]
    def __init__(self, server: VoicemailServer) -> None:
        super().__init__()
        self._server = server

    def onSelectAccount(self, prm: Any) -> None:
        # Every Request-URI user (b1001, u1001, 2345678, anything) belongs to the one account.
        self._server._guard("select account", self._server._on_select_account, prm)

    def onRejectedIncomingCall(self, prm: Any) -> None:
        self._server._guard("rejected call", self._server._on_rejected, prm)


class _Account(pj.Account):  # type: ignore[misc]
    def __init__(self, server: VoicemailServer) -> None:
        super().__init__()
        self._server = server

    def onIncomingCall(self, prm: Any) -> None:
        self._server._guard("incoming call", self._server._on_incoming, prm)


class _Call(pj.Call):  # type: ignore[misc]
    def __init__(self, account: _Account, call_id: int, server: VoicemailServer, leg: str) -> None:
        super().__init__(account, call_id)
        self._server = server
        self.leg_id = leg

    def onCallState(self, prm: Any) -> None:
        self._server._guard("call state", self._server._on_call_state, self)

    def onCallMediaState(self, prm: Any) -> None:
        self._server._guard("media state", self._server._on_media_state, self)


class _Player(pj.AudioMediaPlayer):  # type: ignore[misc]
    """A player whose end-of-file is handed to the pump (onEof2 runs on a media thread)."""

    def __init__(self, handoff: queue.SimpleQueue[tuple[Any, ...]], leg: str, kind: str) -> None:
        super().__init__()
        self._handoff = handoff
        self._leg = leg
        self._kind = kind

    def onEof2(self) -> None:
        self._handoff.put(("eof", self._leg, self._kind, time.monotonic()))


# --- one call leg ----------------------------------------------------------------------------------


@dataclass(eq=False)
class _Leg:
    leg_id: str
    slot: int  # pjsua call id: the call slot this leg occupies
    call: Any
    invite: IncomingInvite
    target: MailboxTarget
    received_at: float
    deadline: float
    phase: str = "answering"  # answering → greeting → beep → recording; ended once disconnected
    state: str = "incoming"
    disconnected: bool = False
    audio: Any = None
    player: Any = None
    player_kind: str = ""
    recorder: Any = None
    recording: GrowingWav | None = None
    detector: SilenceDetector | None = None
    message_id: str = ""
    rel_path: str = ""
    rec_started: float = 0.0
    end_cause: str = ""


# --- the server ------------------------------------------------------------------------------------


class VoicemailServer:
    """A voicemail box on one UDP address. See the module docstring for the threading rules."""

    def __init__(self, config: BoxConfig, data_dir: Path, store: MessageStore, sink: EventSink, *,
                 log_file: Path | None = None, log_level: int = 4,
                 ready_extra: dict[str, Any] | None = None) -> None:
        self.config = config
        self._ready_extra = dict(ready_extra or {})  # the process's own settings, e.g. "mwi"
        self.data_dir = data_dir
        self._store = store
        self._sink = sink
        self._log_file = log_file
        self._log_level = log_level
        self._handoff: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._legs: dict[str, _Leg] = {}
        self._ended: list[str] = []
        self._closing: list[tuple[_Leg, float]] = []  # (leg, give-up time): WAVs being closed
        self._parked: dict[int, list[Any]] = {}  # slot → ended Calls whose slot was reused
        # Players stopped before their EOF: destroyed once the bridge no longer reads them.
        self._retired: list[tuple[Any, float]] = []  # (player, give-up time)
        self._leaked: list[Any] = []  # never destroyed: the bridge did not disconnect them
        self._stopped = False
        self._next_leg = 1
        self._ep: Any = None
        self._account: Any = None
        self._address = ""
        self._stopping = False

    # --- public API (owning thread only) ---------------------------------------------------------

    @property
    def address(self) -> str:
        """``host:port`` the box listens on (after start)."""
        return self._address

    @property
    def active_legs(self) -> int:
        return len(self._legs) + len(self._closing)

    @property
    def running(self) -> bool:
        return self._ep is not None and not self._stopped

    def start(self) -> str:
        """Create the endpoint, listen, and emit ComponentEvent(ready). ConfigError on failure."""
        if self._ep is not None:
            raise RuntimeError("the voicemail server was already started (one per process)")
        cfg = self.config
        ep = _Endpoint(self)
        with _pjlib_stdout_to_stderr():
            ep.libCreate()
        self._ep = ep
        try:
            ep_cfg = pj.EpConfig()
            ep_cfg.uaConfig.threadCnt = 0
            ep_cfg.uaConfig.mainThreadOnly = True
            ep_cfg.uaConfig.maxCalls = cfg.max_legs
            ep_cfg.uaConfig.userAgent = "LabPBX voicemail"
            # pjsip logs go to a file when asked, never to stdout (the JSON event channel).
            ep_cfg.logConfig.consoleLevel = 0
            if self._log_file is not None:
                ep_cfg.logConfig.filename = str(self._log_file)
                ep_cfg.logConfig.level = self._log_level
            else:
                ep_cfg.logConfig.level = 0
            ep_cfg.medConfig.clockRate = CLOCK_RATE
            ep_cfg.medConfig.audioFramePtime = FRAME_USEC // 1000
            ep.libInit(ep_cfg)
            ep.audDevManager().setNullDev()
            tcfg = pj.TransportConfig()
            tcfg.boundAddress = cfg.host
            tcfg.port = cfg.port
            try:
                tid = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
            except pj.Error as exc:
                raise ConfigError(
                    f"voicemail cannot listen on {cfg.host}:{cfg.port}: {exc.reason}") from None
            bound = ep.transportGetInfo(tid).localName
            port = int(str(bound).rsplit(":", 1)[1])
            self._address = f"{cfg.host}:{port}"
            ep.libStart()
            acc_cfg = pj.AccountConfig()
            acc_cfg.idUri = f"sip:voicemail@{self._address}"
            acc_cfg.mediaConfig.transportConfig.boundAddress = cfg.host
            acc_cfg.mediaConfig.transportConfig.port = cfg.rtp_port
            acc_cfg.mediaConfig.transportConfig.portRange = cfg.rtp_range if cfg.rtp_port else 0
            account = _Account(self)
            account.create(acc_cfg, True)
            self._account = account
        except BaseException:
            self._destroy_endpoint()
            raise
        self._emit(ComponentEvent(
            time.time(), COMPONENT, status="ready", address=self._address,
            extra={"language": cfg.language, "voicemail_number": cfg.voicemail_number,
                   "max_legs": cfg.max_legs, "max_length": cfg.limits.max_length,
                   "silence": cfg.limits.silence, "rtp_port": cfg.rtp_port,
                   "data": str(self.data_dir), **self._ready_extra}))
        return self._address

    def pump(self, ms: int = 10) -> None:
        """Handle SIP/media events for up to ``ms`` milliseconds, then the box's own work."""
        if not self.running:
            raise RuntimeError("the voicemail server is not running")
        self._ep.libHandleEvents(ms)
        self._after_events()

    def status(self) -> dict[str, Any]:
        return {"address": self._address, "legs": len(self._legs),
                "closing": len(self._closing), "max_legs": self.config.max_legs,
                "phases": {leg.leg_id: leg.phase for leg in self._legs.values()}}

    def announce_mwi(self, mailbox: str) -> None:
        """Emit the MwiEvent of ``mailbox`` with the store's counts (as after a stored message)."""
        try:
            new, old = self._store.count(mailbox)
        except (LabPbxError, ValueError, OSError) as exc:
            self._problem("error", f"cannot count the messages of mailbox {mailbox}", str(exc))
            return
        self._emit(MwiEvent(time.time(), COMPONENT, mailbox=mailbox, new_messages=new,
                            old_messages=old))

    def stop(self) -> None:
        """Hang up every call and store the recordings in progress; the library stays loaded.

        Afterwards the owning process must end with ``labpbx.pjexit.exit_process`` (see the module
        docstring: no libDestroy at quit)."""
        if not self.running:
            return
        self._stopping = True
        for leg in self._legs.values():
            if not leg.end_cause:
                leg.end_cause = "shutdown"
        try:
            self._ep.hangupAllCalls()
        except pj.Error as exc:
            self._problem("warning", "hanging up all calls failed", exc.reason)
        deadline = time.monotonic() + STOP_DRAIN_SECONDS
        while self._legs and time.monotonic() < deadline:
            self._ep.libHandleEvents(10)
            self._after_events()
        for leg_id in list(self._legs):  # calls that never said DISCONNECTED: drop them anyway
            self._ended.append(leg_id)
        self._finish_ended()
        while self._closing:  # let the bridge close the last WAVs before the library goes
            self._ep.libHandleEvents(10)
            self._finish_ended()
        if self._account is not None:
            with contextlib.suppress(pj.Error):
                self._account.setRegistration(False)  # no-op unless registered; nothing else
        self._stopped = True
        self._emit(ComponentEvent(time.time(), COMPONENT, status="stopped",
                                  address=self._address))

    # --- internals: the pump side ----------------------------------------------------------------

    def _destroy_endpoint(self) -> None:
        """Only when start() fails: no call, player or recorder exists yet."""
        while True:  # drop queued items (plain data, but keep nothing around)
            try:
                self._handoff.get_nowait()
            except queue.Empty:
                break
        if self._account is not None:
            with contextlib.suppress(pj.Error):
                self._account.shutdown()
            self._account = None
        ep, self._ep = self._ep, None
        if ep is not None:
            gc.collect()  # an account or transport object in a cycle must not outlive it
            with contextlib.suppress(pj.Error):
                ep.libDestroy(pj.PJSUA_DESTROY_NO_RX_MSG)
            ep._server = None
            del ep

    def _after_events(self) -> None:
        self._drain_handoff()
        self._check_limits(time.monotonic())
        self._finish_ended()
        self._reap_retired()

    def _drain_handoff(self) -> None:
        while True:
            try:
                item = self._handoff.get_nowait()
            except queue.Empty:
                return
            leg = self._legs.get(item[1])
            if leg is None or leg.disconnected:
                continue
            if item[0] == "eof" and item[2] == leg.player_kind:
                self._guard("end of greeting", self._on_player_done, leg)

    def _check_limits(self, now: float) -> None:
        limits = self.config.limits
        for leg in list(self._legs.values()):
            if leg.disconnected:
                continue
            if leg.phase == "recording" and leg.detector is not None:
                if leg.recording is not None:
                    for frame in leg.recording.read_frames():
                        leg.detector.feed(frame)
                cause = end_cause(limits, now - leg.rec_started, leg.detector.silent_for)
                if cause is not None:
                    self._hangup(leg, cause)
            elif now >= leg.deadline:
                self._hangup(leg, "no media" if leg.phase == "answering" else "timeout")

    def _hangup(self, leg: _Leg, cause: str) -> None:
        leg.end_cause = cause
        try:
            # hangup() delivers DISCONNECTED before it returns: the leg is queued for _finish.
            leg.call.hangup(pj.CallOpParam())
        except pj.Error as exc:
            self._problem("warning", f"hanging up {leg.leg_id} failed", exc.reason)

    def _finish_ended(self) -> None:
        while self._ended:
            leg = self._legs.pop(self._ended.pop(0), None)
            if leg is not None:
                self._release_media(leg)
                self._closing.append((leg, time.monotonic() + WAV_CLOSE_TIMEOUT))
        still: list[tuple[_Leg, float]] = []
        for leg, give_up in self._closing:
            if (not leg.rel_path or wav_complete(self.data_dir / leg.rel_path)
                    or time.monotonic() >= give_up):
                self._guard("store message", self._finish, leg)
            else:
                still.append((leg, give_up))
        self._closing = still

    def _release_media(self, leg: _Leg) -> None:
        # Order: the recorder, then the player; finally the Call, after its DISCONNECTED
        # callback has returned. Dropping the recorder only queues its removal on the conference
        # bridge: pjmedia closes the WAV (and writes the header sizes) on the bridge's next clock
        # tick, ~20 ms later. _finish_ended waits for that.
        leg.recorder = None
        leg.recording = None
        self._retire_player(leg)
        leg.audio = None
        if leg.call is not None:  # the slot's owner: its parked predecessors can go first
            self._parked.pop(leg.slot, None)
            leg.call = None

    def _finish(self, leg: _Leg) -> None:
        target = leg.target
        if not leg.rel_path:
            why = leg.end_cause
            if why == "caller hung up":
                why = {"answering": "hung up before the greeting",
                       "greeting": "hung up during the greeting",
                       "beep": "hung up during the tone"}.get(leg.phase, why)
            self._leg_event(leg, "empty", reason=why)
            return
        path = self.data_dir / leg.rel_path
        limits = self.config.limits
        try:
            analysis = analyze_recording(path, limits.silence_threshold)
            duration = analysis.duration
            if leg.end_cause == "silence" and analysis.heard_sound:
                duration = truncate_wav(path, min(duration, analysis.sound_end + SILENCE_KEEP))
            elif leg.end_cause == "max-length" and duration > limits.max_length:
                duration = truncate_wav(path, limits.max_length)
        except (OSError, ValueError) as exc:
            self._problem("error", f"recording {path} is unreadable", str(exc))
            self._leg_event(leg, "failed", message_id=leg.message_id, path=leg.rel_path,
                            reason=f"unreadable recording: {exc}")
            return
        if not analysis.heard_sound or duration < limits.min_length:
            with contextlib.suppress(OSError):
                path.unlink()
            why = ("no sound" if not analysis.heard_sound
                   else f"shorter than {limits.min_length:g} s")
            self._leg_event(leg, "empty", message_id=leg.message_id,
                            duration=round(duration, 3), reason=why)
            return
        message = VoicemailMessage(
            id=leg.message_id, mailbox=target.mailbox, caller=leg.invite.caller,
            caller_name=leg.invite.caller_name, received_at=leg.received_at,
            duration=round(duration, 3), greeting=target.greeting, reason=target.reason,
            path=leg.rel_path)
        try:
            self._store.add(message)
            new, old = self._store.count(target.mailbox)
        except (LabPbxError, ValueError, OSError) as exc:
            self._problem("error", f"message {message.id} was recorded but not indexed", str(exc))
            self._leg_event(leg, "failed", message_id=message.id, path=message.path,
                            duration=message.duration, reason=str(exc))
            return
        self._leg_event(leg, "stored", message_id=message.id, path=message.path,
                        duration=message.duration, reason=target.reason)
        self._emit(MwiEvent(time.time(), COMPONENT, mailbox=target.mailbox, new_messages=new,
                            old_messages=old))

    # --- internals: pjsua2 callbacks (pump thread) -----------------------------------------------

    def _on_select_account(self, prm: Any) -> None:
        if self._account is not None:
            prm.accountIndex = self._account.getId()

    def _on_rejected(self, prm: Any) -> None:
        invite = parse_invite(str(prm.rdata.wholeMsg))
        target = self._resolve(invite)
        full = prm.statusCode == 486
        why = (f"{prm.statusCode} {prm.reason}: all {self.config.max_legs} call legs are in use"
               if full else f"{prm.statusCode} {prm.reason}")
        self._emit(VoicemailEvent(time.time(), COMPONENT, mailbox=target.mailbox,
                                  caller=invite.caller, greeting=target.greeting,
                                  status="refused", reason=why, call_id=invite.call_id))
        self._problem("warning", "voicemail box full, call refused" if full else
                      "incoming call refused", f"{invite.call_id}: {why}")

    def _resolve(self, invite: IncomingInvite) -> MailboxTarget:
        return resolve(invite.request_user, invite.diversions,
                       voicemail_number=self.config.voicemail_number)

    def _on_incoming(self, prm: Any) -> None:
        invite = parse_invite(str(prm.rdata.wholeMsg))
        target = self._resolve(invite)
        leg_id = f"vm{self._next_leg}"
        self._next_leg += 1
        self._park_stale_calls(prm.callId)
        call = _Call(self._account, prm.callId, self, leg_id)
        leg = _Leg(leg_id, prm.callId, call, invite, target, received_at=time.time(),
                   deadline=time.monotonic() + NO_MEDIA_TIMEOUT)
        # Keep the Call referenced from here on: a collected Call hangs up with 603.
        self._legs[leg_id] = leg
        self._call_event(leg, "incoming")
        if self._stopping:
            leg.end_cause = "shutdown"
            self._answer(call, 480)
            return
        self._answer(call, 180)
        self._answer(call, 200)

    def _park_stale_calls(self, slot: int) -> None:
        """Keep an ended Call alive while pjsua reuses its slot for a new call.

        A BYE and a new INVITE read in one libHandleEvents (the box was full) can hand the new
        call the slot of a call whose Call object we have not dropped yet. Destroying that object
        would clear the slot's user data and hang up the new call (~Call does both). So it is
        parked, and destroyed only when the slot's new owner is released, once that call too is
        over (then ~Call touches a free slot).
        """
        for leg in self._legs.values():
            if leg.slot == slot and leg.disconnected and leg.call is not None:
                self._parked.setdefault(slot, []).append(leg.call)
                leg.call = None

    @staticmethod
    def _answer(call: Any, code: int) -> None:
        op = pj.CallOpParam()
        op.statusCode = code
        call.answer(op)

    def _on_call_state(self, call: Any) -> None:
        leg = self._legs.get(call.leg_id)
        if leg is None:
            return
        info = call.getInfo()
        state = _STATE_NAMES.get(info.state, str(info.state))
        if state == "disconnected":
            if leg.disconnected:
                return
            leg.disconnected = True
            if not leg.end_cause:
                leg.end_cause = "caller hung up"
            self._ended.append(leg.leg_id)  # dropped after libHandleEvents/hangup returns
            self._call_event(leg, state, info.lastStatusCode, leg.end_cause)
            return
        if state != leg.state:
            self._call_event(leg, state, info.lastStatusCode)
        if state == "confirmed":
            self._maybe_greet(leg)

    def _on_media_state(self, call: Any) -> None:
        leg = self._legs.get(call.leg_id)
        if leg is None or leg.disconnected or leg.audio is not None:
            return
        info = call.getInfo()
        for index, media in enumerate(info.media):
            if (media.type == pj.PJMEDIA_TYPE_AUDIO
                    and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE):
                leg.audio = call.getAudioMedia(index)
                break
        self._maybe_greet(leg)

    def _call_event(self, leg: _Leg, state: str, status: int = 0, reason: str = "") -> None:
        leg.state = state
        self._emit(CallStateEvent(
            time.time(), COMPONENT, ext=leg.invite.request_user, leg=leg.leg_id,
            call_id=leg.invite.call_id, direction="incoming", state=state,
            remote=leg.invite.caller, status=status, reason=reason))

    # --- internals: greeting → tone → recording ---------------------------------------------------

    def _maybe_greet(self, leg: _Leg) -> None:
        # Start as soon as audio is up: pjsua activates it when the 200 with the SDP answer goes
        # out, and on a clean path the ACK follows within a millisecond. Not waiting for the ACK
        # matters when datagrams are lost: an ACK lost for the whole of Timer H (0.3 % of calls
        # at 20 % loss) would otherwise leave the caller talking to a box that never records.
        if leg.phase != "answering" or leg.audio is None:
            return
        target = leg.target
        choice = find_greeting(self.data_dir, target.mailbox, target.greeting,
                               self.config.language)
        if choice.skipped:
            self._problem("warning", f"greeting of mailbox {target.mailbox} not used",
                          choice.skipped)
        candidates = [choice.path]
        if choice.own:  # the mailbox's own file may still fail in pjmedia: fall back to ours
            candidates.append(shipped_greeting(self.config.language, target.greeting))
        played: Path | None = None
        for path in candidates:
            try:
                self._play(leg, path, "greeting")
            except pj.Error as exc:
                self._problem("warning", f"cannot play greeting {path}", exc.reason)
                continue
            played = path
            break
        if played is None:
            self._play_beep(leg)
            return
        path = played
        try:
            length = wav_info(path).duration
        except (OSError, ValueError):
            length = 30.0
        leg.phase = "greeting"
        leg.deadline = (time.monotonic() + length + 1.0 + self.config.limits.max_length
                        + DEADLINE_SLACK)
        self._leg_event(leg, "greeting", path=str(path), reason=target.reason)

    def _play(self, leg: _Leg, path: Path, kind: str) -> None:
        player = _Player(self._handoff, leg.leg_id, kind)
        player.createPlayer(str(path), pj.PJMEDIA_FILE_NO_LOOP)
        player.startTransmit(leg.audio)
        leg.player, leg.player_kind = player, kind

    def _drop_finished_player(self, leg: _Leg) -> None:
        """After the player's EOF: the bridge reads it no more (NO_LOOP), destroy it now."""
        player, leg.player, leg.player_kind = leg.player, None, ""
        if player is not None:
            with contextlib.suppress(pj.Error):
                player.stopTransmit(leg.audio)
        del player  # destroyed here, on the pump thread, never inside its own onEof2

    def _retire_player(self, leg: _Leg) -> None:
        """A player stopped before its EOF: disconnect it, destroy it once that is done.

        Disconnection is asynchronous too; until the bridge has done it, it may still read the
        file, reach its end and call onEof2 on the object. So the object lives on until the
        bridge reports no listener (_reap_retired)."""
        player, leg.player, leg.player_kind = leg.player, None, ""
        if player is None:
            return
        if leg.audio is not None:
            with contextlib.suppress(pj.Error):
                player.stopTransmit(leg.audio)
        self._retired.append((player, time.monotonic() + WAV_CLOSE_TIMEOUT))

    def _reap_retired(self) -> None:
        if not self._retired:
            return
        now = time.monotonic()
        keep: list[tuple[Any, float]] = []
        for player, give_up in self._retired:
            try:
                listening = bool(player.getPortInfo().listeners)
            except pj.Error:
                listening = False  # the port is gone from the bridge
            if listening and now < give_up:
                keep.append((player, give_up))
            elif listening:  # the bridge never got to it: keep it for the process's life
                self._problem("warning", "a greeting player stayed connected; kept until exit")
                self._leaked.append(player)
        self._retired = keep

    def _play_beep(self, leg: _Leg) -> None:
        leg.phase = "beep"
        try:
            self._play(leg, beep_path(), "beep")
        except pj.Error as exc:
            self._problem("warning", "cannot play the tone", exc.reason)
            self._start_recording(leg)

    def _on_player_done(self, leg: _Leg) -> None:
        kind = leg.player_kind
        self._drop_finished_player(leg)
        if kind == "greeting":
            self._play_beep(leg)
        else:
            self._start_recording(leg)

    def _start_recording(self, leg: _Leg) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(leg.received_at))
        leg.message_id = message_id(stamp, secrets.token_hex(3))
        rel = message_path(leg.target.mailbox, leg.message_id)
        path = self.data_dir / rel
        leg.detector = SilenceDetector(CLOCK_RATE, self.config.limits.silence_threshold)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            recorder = pj.AudioMediaRecorder()
            recorder.createRecorder(str(path))
            leg.recorder = recorder
            leg.rel_path = rel
            leg.audio.startTransmit(recorder)
            leg.recording = GrowingWav(path, FRAME_BYTES)
        except (pj.Error, OSError) as exc:
            reason = exc.reason if isinstance(exc, pj.Error) else str(exc)
            self._problem("error", f"cannot record to {path}", reason)
            self._hangup(leg, "recording failed")
            return
        leg.rec_started = time.monotonic()
        leg.phase = "recording"
        self._leg_event(leg, "recording", message_id=leg.message_id, path=rel,
                        reason=leg.target.reason)

    # --- internals: reporting ---------------------------------------------------------------------

    def _guard(self, where: str, func: Any, arg: Any) -> None:
        """Run a callback body; an exception becomes a ProblemEvent instead of a printed trace."""
        try:
            func(arg)
        except Exception as exc:
            detail = exc.reason if isinstance(exc, pj.Error) else traceback.format_exc()
            self._problem("error", f"{where}: {type(exc).__name__}: {exc}", str(detail))

    def _leg_event(self, leg: _Leg, status: str, *, message_id: str = "", path: str = "",
                   duration: float = 0.0, reason: str = "") -> None:
        target = leg.target
        self._emit(VoicemailEvent(time.time(), COMPONENT, mailbox=target.mailbox,
                                  caller=leg.invite.caller, greeting=target.greeting,
                                  status=status, message_id=message_id, path=path,
                                  duration=duration, reason=reason,
                                  call_id=leg.invite.call_id))

    def _problem(self, severity: str, message: str, detail: str = "") -> None:
        self._emit(ProblemEvent(time.time(), COMPONENT, severity=severity, message=message,
                                detail=detail))

    def _emit(self, event: Event) -> None:
        try:
            self._sink(event)
        except Exception:  # a broken consumer must not break the calls in progress
            traceback.print_exc(file=sys.stderr)


@contextlib.contextmanager
def _pjlib_stdout_to_stderr() -> Iterator[None]:
    """Send what pjlib prints during libCreate (before log settings apply) to stderr.

    stdout is the JSON event channel of the voicemail process. pjlib writes through C stdio, so
    the C buffer is flushed before fd 1 is put back. Only on POSIX, where that C library is
    the process's own; elsewhere consumers skip the non-JSON lines.
    """
    if os.name != "posix":
        yield
        return
    import ctypes

    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        libc.fflush(None)
        os.dup2(saved, 1)
        os.close(saved)
