"""The pjsua2 side of a phone process: one Endpoint, one UDP transport, one Account per extension.

Rules of this module (why: PJSUA2.md lists the ways this wheel aborts the process):
- This is the ONLY module of labpbx.phones that imports pjsua2.
- One thread owns everything: the thread that calls ``start()``. The endpoint runs with
  ``threadCnt = 0`` and ``mainThreadOnly = True``, so every SIP callback runs inside ``pump()`` on
  that thread. Every public method checks it is called from the owner; other threads hand work over
  through the process's command queue instead (an unregistered thread calling pjsua2 aborts).
- Callbacks fire inside API calls (``makeCall`` fires CALLING, ``hangup`` DISCONNECTED), so a leg is
  put in the Book (legs.py) before the call that may report on it.
- A reference to every Call is kept in its Leg (a collected Call hangs up with 603). After
  DISCONNECTED the leg is dropped at the start of the next ``pump()``, never inside its own
  callback and never kept as history (call slots are reused).
- Exceptions never escape a callback (pjsua2 would print them and answer 500): they become
  ProblemEvents.
- Timers (ring before auto-answer) live in a Deadlines list run by ``pump()``; no timer threads.
- Media callbacks run on pjmedia threads: the local-audio port only moves bytes through
  LocalAudio's deques; players are created and dropped on the owner thread.
- ``shutdown()`` ends the SIP side and stops there: hangupAllCalls, pump, drop calls and players,
  un-REGISTER every registered extension and pump until the registrar has answered (1 s at
  most). It does not call ``libDestroy``: the process then ends with labpbx.pjexit.exit_process,
  which says why (pjproject 2.15.1's asynchronous conference bridge makes the teardown racy; the
  local-audio ``AudioMediaPort``, a Python object the clock thread calls, is never destroyed).
  Only a failed ``start()`` tears the library down, before any call or port exists.
- Network: the SIP transport and RTP bind 127.0.0.1 only; outgoing targets must be loopback.
- Message waiting (RFC 3842): the voicemail box sends unsolicited ``message-summary`` NOTIFYs
  (no SUBSCRIBE, so no AccountMwiConfig). pjsua's unsolicited-MWI module (``UaConfig.
  mwiUnsolicitedEnabled``) answers each one 200 OK itself and then calls ``onMwiInfo`` of the
  account pjsua matched; the agent turns its body into an MwiEvent for that extension.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pjsua2 as pj  # type: ignore[import-untyped,unused-ignore]

from labpbx.errors import ConfigError
from labpbx.events import (
    CallStateEvent,
    ComponentEvent,
    EventSink,
    MwiEvent,
    PolicyEvent,
    ProblemEvent,
    RegistrationEvent,
)
from labpbx.phones.commands import (
    PhoneError,
    bare_uri,
    request_user,
    resolve_target,
    uri_user,
)
from labpbx.phones.config import BIND_HOST, RTP_PORT_RANGE, AgentConfig
from labpbx.phones.legs import UNANSWERED, Book, Extension, Leg
from labpbx.phones.localaudio import CLOCK_RATE, FRAME_MS, LocalAudio, probe
from labpbx.phones.mwi import summary_from_message
from labpbx.phones.pacing import Deadlines, Pacer
from labpbx.phones.policy import Policy, decide
from labpbx.phones.stdio import stdout_to_stderr

SHUTDOWN_DRAIN_SECONDS = 0.2
UNREGISTER_WAIT_SECONDS = 1.0
"""At shutdown, how long to wait for the registrar's answers to the un-REGISTERs."""
REGISTER_EXPIRES = 300
REGISTER_RETRY_SECONDS = 3  # the proxy may start after the phones: retry soon
USER_AGENT = "LabPBX-phone/0.1"

_STATES: dict[int, str] = {
    pj.PJSIP_INV_STATE_CALLING: "calling",
    pj.PJSIP_INV_STATE_INCOMING: "incoming",
    pj.PJSIP_INV_STATE_EARLY: "early",
    pj.PJSIP_INV_STATE_CONNECTING: "connecting",
    pj.PJSIP_INV_STATE_CONFIRMED: "confirmed",
    pj.PJSIP_INV_STATE_DISCONNECTED: "disconnected",
}
PJ_ETOOMANY = 70010  # pjlib's status for "all call slots (or socket handles) in use"


def pjsip_version() -> str:
    """The loaded pjsip library's version (``labpbx doctor``): an Endpoint object is only
    constructed, no library is started, so nothing is bound or threaded."""
    return str(pj.Endpoint().libVersion().full)


class _LogWriter(pj.LogWriter):  # type: ignore[misc]
    """pjlib's own console writer prints to stdout, our data channel: send its lines to stderr."""

    def write(self, entry: Any) -> None:
        try:
            msg = str(entry.msg)
            sys.stderr.write(msg if msg.endswith("\n") else msg + "\n")
        except Exception:  # a log line is never worth an abort
            pass


class _Endpoint(pj.Endpoint):  # type: ignore[misc]
    def __init__(self, agent: PhoneAgent) -> None:
        super().__init__()
        self._agent = agent

    def onRejectedIncomingCall(self, prm: Any) -> None:
        # pjsua answered an INVITE itself (e.g. 486 when every call slot is taken) without
        # onIncomingCall: say so, or the learner only sees the caller's side of it.
        with self._agent._guard("onRejectedIncomingCall"):
            self._agent._on_rejected(int(prm.statusCode), str(prm.reason),
                                     str(prm.localInfo), str(prm.remoteInfo))


class _Account(pj.Account):  # type: ignore[misc]
    def __init__(self, agent: PhoneAgent, ext: str) -> None:
        super().__init__()
        self._agent = agent
        self._ext = ext

    def onRegStarted(self, prm: Any) -> None:
        with self._agent._guard("onRegStarted"):
            self._agent._on_reg_started(self._ext, bool(prm.renew))

    def onRegState(self, prm: Any) -> None:
        with self._agent._guard("onRegState"):
            self._agent._on_reg_state(self._ext, int(prm.code), str(prm.reason),
                                      int(prm.expiration))

    def onIncomingCall(self, prm: Any) -> None:
        with self._agent._guard("onIncomingCall"):
            self._agent._on_incoming(self, self._ext, prm)

    def onMwiInfo(self, prm: Any) -> None:
        with self._agent._guard("onMwiInfo"):
            self._agent._on_mwi(self._ext, str(prm.rdata.wholeMsg))


class _Call(pj.Call):  # type: ignore[misc]
    def __init__(self, account: _Account, agent: PhoneAgent, leg_id: str,
                 call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(account, call_id)
        self._agent = agent
        self.leg_id = leg_id

    def onCallState(self, prm: Any) -> None:
        with self._agent._guard("onCallState"):
            self._agent._on_call_state(self.leg_id, self)

    def onCallMediaState(self, prm: Any) -> None:
        with self._agent._guard("onCallMediaState"):
            self._agent._on_call_media(self.leg_id, self)


class _LocalPort(pj.AudioMediaPort):  # type: ignore[misc]
    """Microphone/speaker as a conference port. Runs on pjmedia's clock thread: bytes only."""

    def __init__(self, audio: LocalAudio) -> None:
        super().__init__()
        self._audio = audio

    def onFrameRequested(self, frame: Any) -> None:
        try:
            data = self._audio.pull_for_call()
            frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
            frame.buf = pj.ByteVector(data)
            frame.size = len(data)
        except Exception:  # never raise into pjmedia's thread
            pass

    def onFrameReceived(self, frame: Any) -> None:
        with contextlib.suppress(Exception):
            self._audio.push_from_call(bytes(frame.buf))


class PhoneAgent:
    """The extensions of one phone process. Create, ``start()``, then ``pump()`` in a loop.

    Every method must be called on the thread that called ``start()``. Events go to ``sink``
    (called on that thread only). One running agent per process: pjsua2 allows one Endpoint and
    a second one aborts the process, so ``start()`` refuses while another agent runs.
    """

    _running: PhoneAgent | None = None  # the process's one live Endpoint owner

    def __init__(self, config: AgentConfig, sink: EventSink,
                 clock: Callable[[], float] = time.monotonic) -> None:
        config.validate()
        self._cfg = config
        self._sink = sink
        self._clock = clock
        self.component = config.component or "phone-" + "-".join(config.exts)
        self._book = Book(list(config.exts), config.policies)
        self._timers = Deadlines()
        self._pacer = Pacer()
        self._owner: int | None = None
        self._ep: Any = None
        self._transport_id = -1
        self._log_writer: Any = None
        self._local: LocalAudio | None = None
        self._local_port: Any = None
        self._stopped = False
        self._voice: Path | None = config.voice_wav
        self._starting = False
        self.sip_port = 0
        self.ready = False

    # ------------------------------------------------------------------------ life cycle
    def start(self) -> None:
        """Create endpoint, transport and accounts; REGISTERs go out at once. ConfigError if not."""
        if self._ep is not None or PhoneAgent._running is not None:
            raise RuntimeError("a PhoneAgent is already running in this process (one pjsua2"
                               " Endpoint per process)")
        self._owner = threading.get_ident()
        self._starting = True  # "ready" waits until every account exists
        self._emit(ComponentEvent(time.time(), self.component, status="starting",
                                  extra={"pid": os.getpid(), "exts": list(self._cfg.exts)}))
        if self._voice is not None and not self._voice.is_file():
            self._problem("warning", f"voice file {self._voice} not found; answered calls stay"
                          " silent")
            self._voice = None
        try:
            self._create_endpoint()
            self._start_local_audio()
            for x in self._book.exts.values():
                self._emit(PolicyEvent(time.time(), self.component, x.ext, x.policy.value,
                                       x.ring_time))
                self._create_account(x)
        except pj.Error as exc:
            self._destroy_library("start failed")
            raise ConfigError(f"phone start failed: {exc.reason} ({exc.title})") from None
        except BaseException:
            self._destroy_library("start failed")
            raise
        self._starting = False
        self._check_ready()

    def _create_endpoint(self) -> None:
        ep = _Endpoint(self)
        self._ep = ep
        PhoneAgent._running = self
        with stdout_to_stderr():
            ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = self._cfg.capacity
        cfg.uaConfig.userAgent = USER_AGENT
        cfg.uaConfig.enableUpnp = False  # nothing may leave loopback
        # The box's NOTIFYs are unsolicited: pjsua answers them 200 and calls onMwiInfo (the
        # default already, set so that the phones' MWI does not hang on a default changing).
        cfg.uaConfig.mwiUnsolicitedEnabled = True
        # pjsua hands log lines to the writer only up to consoleLevel: keep both at the low level.
        self._log_writer = _LogWriter()
        cfg.logConfig.writer = self._log_writer
        cfg.logConfig.level = self._cfg.pj_log_level
        cfg.logConfig.consoleLevel = self._cfg.pj_log_level
        cfg.medConfig.clockRate = CLOCK_RATE
        cfg.medConfig.audioFramePtime = FRAME_MS
        cfg.medConfig.noVad = True  # continuous RTP: the voicemail box records real time
        cfg.medConfig.ecTailLen = 0  # no echo canceller: nothing to cancel without a sound card
        ep.libInit(cfg)
        ep.audDevManager().setNullDev()
        tcfg = pj.TransportConfig()
        tcfg.port = self._cfg.sip_port
        tcfg.boundAddress = BIND_HOST
        try:
            self._transport_id = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        except pj.Error as exc:
            raise ConfigError(f"cannot bind SIP port {BIND_HOST}:{self._cfg.sip_port}:"
                              f" {exc.reason}") from None
        local = str(ep.transportGetInfo(self._transport_id).localName)
        self.sip_port = int(local.rsplit(":", 1)[1])
        ep.libStart()

    def _create_account(self, x: Extension) -> None:
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{x.ext}@{self._cfg.proxy_host}"
        acfg.regConfig.registrarUri = f"sip:{self._cfg.proxy}"
        acfg.regConfig.registerOnAdd = x.policy.registers
        acfg.regConfig.timeoutSec = REGISTER_EXPIRES
        acfg.regConfig.retryIntervalSec = REGISTER_RETRY_SECONDS
        acfg.regConfig.firstRetryIntervalSec = 1
        acfg.sipConfig.transportId = self._transport_id
        nat = acfg.natConfig
        # Loopback only, no NAT: keep Contact/Via/SDP exactly as bound, no STUN, ICE, keep-alives.
        nat.contactRewriteUse = 0
        nat.viaRewriteUse = 0
        nat.sdpNatRewriteUse = 0
        nat.sipOutboundUse = 0
        nat.udpKaIntervalSec = 0
        nat.iceEnabled = False
        nat.turnEnabled = False
        nat.sipStunUse = pj.PJSUA_STUN_USE_DISABLED
        nat.mediaStunUse = pj.PJSUA_STUN_USE_DISABLED
        rtp = acfg.mediaConfig.transportConfig
        rtp.boundAddress = BIND_HOST
        rtp.port = self._cfg.rtp_port
        rtp.portRange = RTP_PORT_RANGE if self._cfg.rtp_port else 0
        account = _Account(self, x.ext)
        x.account = account
        account.create(acfg)

    def _start_local_audio(self) -> None:
        if not self._cfg.local_audio:
            self._emit(ComponentEvent(time.time(), self.component, status="audio",
                                      detail="local audio off (--audio not given)",
                                      extra={"enabled": False, "requested": False}))
            return
        found = probe()
        reason = found.reason
        if found.available:
            audio = LocalAudio()
            try:
                audio.start()
                port = _LocalPort(audio)
                fmt = pj.MediaFormatAudio()
                fmt.init(pj.PJMEDIA_FORMAT_PCM, CLOCK_RATE, 1, FRAME_MS * 1000, 16)
                port.createPort("local-audio", fmt)
                self._local, self._local_port = audio, port
            except Exception as exc:
                audio.stop()
                reason = f"no sound card: cannot open audio stream ({exc})"
        self._emit(ComponentEvent(time.time(), self.component, status="audio", detail=reason,
                                  extra={"enabled": self._local is not None, "requested": True}))

    @property
    def stopped(self) -> bool:
        """True after ``shutdown()``: the process should now end (labpbx.pjexit)."""
        return self._stopped

    def shutdown(self, reason: str = "") -> None:
        """Hang up everything and un-REGISTER; the library stays loaded (see the module rules).

        Idempotent; owner thread only."""
        ep = self._ep
        if ep is None or self._stopped:
            return
        self._check_thread()
        self._emit(ComponentEvent(time.time(), self.component, status="stopping", detail=reason))
        with contextlib.suppress(pj.Error):
            ep.hangupAllCalls()
        deadline = self._clock() + SHUTDOWN_DRAIN_SECONDS
        while self._book.active() and self._clock() < deadline:
            ep.libHandleEvents(10)
        self._timers.clear()
        self._book.clear()  # calls and players go, as at the end of any call
        if self._local is not None:
            self._local.stop()  # PortAudio's thread stops; the port itself is never destroyed
        self._local = None
        registered = [x for x in self._book.exts.values() if x.registered and x.account]
        for x in registered:
            with contextlib.suppress(pj.Error):
                x.account.setRegistration(False)
        deadline = self._clock() + UNREGISTER_WAIT_SECONDS
        while any(x.registered for x in registered) and self._clock() < deadline:
            ep.libHandleEvents(10)
        self._stopped = True
        self.ready = False
        self._emit(ComponentEvent(time.time(), self.component, status="stopped"))

    def _destroy_library(self, reason: str) -> None:
        """A failed start: nothing but the endpoint and accounts exists, so libDestroy is safe."""
        ep = self._ep
        if ep is None:
            return
        self._emit(ComponentEvent(time.time(), self.component, status="stopping", detail=reason))
        self._book.clear()
        if self._local is not None:
            self._local.stop()
        self._local = None
        self._local_port = None
        for x in self._book.exts.values():
            account, x.account = x.account, None
            if account is not None:
                with contextlib.suppress(pj.Error):
                    account.shutdown()
            del account
        sys.last_traceback = sys.last_value = None  # hidden references must not outlive libDestroy
        gc.collect()  # likewise objects held only by a cycle: their destructors need the library
        ep.libDestroy(pj.PJSUA_DESTROY_NO_RX_MSG)
        self._ep = None
        PhoneAgent._running = None
        del ep
        self._log_writer = None
        self.ready = False
        self._emit(ComponentEvent(time.time(), self.component, status="stopped"))

    # ------------------------------------------------------------------------ the pump
    def pump(self, timeout_ms: int) -> None:
        """Run pjsua2's events for up to ``timeout_ms`` (less when a timer is due), then timers."""
        self._check_thread()
        if self._ep is None or self._stopped:
            raise RuntimeError("PhoneAgent is not running")
        self._book.drop_dead()  # the DISCONNECTED callbacks of the previous pump have returned
        self._ep.libHandleEvents(self._timers.wait_ms(self._clock(), timeout_ms))
        for action in self._timers.due(self._clock()):
            with self._guard("timer"):
                action()

    # ------------------------------------------------------------------------ operations
    def set_policy(self, ext: str, policy: Policy, ring_time: float) -> None:
        """Change an extension's policy; OFFLINE unregisters, leaving OFFLINE re-registers.

        Calls already ringing keep the behaviour they started with.
        """
        self._check_thread()
        x = self._book.ext(ext)
        was = x.policy
        x.policy, x.ring_time = policy, ring_time
        self._emit(PolicyEvent(time.time(), self.component, ext, policy.value, ring_time))
        if was.registers != policy.registers and x.account is not None:
            try:
                x.account.setRegistration(policy.registers)
            except pj.Error as exc:
                self._problem("warning", f"{ext}: registration change failed", exc.reason)

    def call(self, ext: str, target: str) -> str:
        """Start an outgoing call; returns the leg id. PhoneError when it cannot be placed."""
        self._check_thread()
        x = self._book.ext(ext)
        if x.policy is Policy.OFFLINE:
            raise PhoneError(f"extension {ext} is offline; set another policy to call")
        active = self._book.active()
        if active >= self._cfg.capacity:
            raise PhoneError(f"call capacity reached: {active} of {self._cfg.capacity} call legs"
                             " in use in this phone process")
        if not self._pacer.allows(self._clock()):
            raise PhoneError(f"too many new calls: at most {self._pacer.limit} per"
                             f" {self._pacer.window:g} s per phone process; retry shortly")
        uri = resolve_target(target, self._cfg.proxy)
        leg = self._new_leg(ext, "outgoing", lambda leg_id: _Call(x.account, self, leg_id))
        leg.remote = uri
        try:
            leg.call.makeCall(uri, pj.CallOpParam(True))
        except pj.Error as exc:
            self._book.forget(leg.id)  # never got a call slot: safe to drop now
            if exc.status == PJ_ETOOMANY:
                # A leg hung up while ringing reports DISCONNECTED at once, but pjsua keeps its
                # slot until the far end answers the CANCEL: our count can be below pjsua's.
                raise PhoneError("call capacity reached: pjsua2 still holds the slots of calls"
                                 " being torn down; retry shortly") from None
            raise PhoneError(f"cannot call {uri}: {exc.reason}") from None
        return leg.id

    def answer(self, leg_id: str) -> None:
        """Answer a ringing incoming leg with 200 OK."""
        self._check_thread()
        self._respond(self._book.unanswered(leg_id, "answer"), 200)

    def reject(self, leg_id: str, code: int = 486) -> None:
        """Reject a ringing incoming leg with ``code`` (400-699)."""
        self._check_thread()
        if not 400 <= code <= 699:
            raise PhoneError(f"reject code must be 400-699, not {code}")
        self._respond(self._book.unanswered(leg_id, "reject"), code)

    def hangup(self, leg_id: str) -> None:
        """End a leg: CANCEL when ours is ringing, 603 when theirs is, BYE when connected."""
        self._check_thread()
        leg = self._book.leg(leg_id)
        if leg.done:
            raise PhoneError(f"leg {leg_id} has already ended")
        try:
            leg.call.hangup(pj.CallOpParam())
        except pj.Error as exc:
            raise PhoneError(f"cannot hang up {leg_id}: {exc.reason}") from None

    def hangup_ext(self, ext: str) -> int:
        """Hang up every live leg of ``ext``; returns how many."""
        self._check_thread()
        self._book.ext(ext)
        legs = [leg.id for leg in self._book.live_legs(ext)]
        for leg_id in legs:
            self.hangup(leg_id)
        return len(legs)

    def hangup_all(self) -> None:
        """Hang up every call of this process."""
        self._check_thread()
        if self._ep is not None:
            self._ep.hangupAllCalls()

    def status(self) -> dict[str, Any]:
        """A snapshot for the supervisor: address, capacity, extensions and live legs."""
        return {"address": f"{BIND_HOST}:{self.sip_port}", "capacity": self._cfg.capacity,
                **self._book.snapshot()}

    # ------------------------------------------------------------------------ callbacks
    def _on_reg_started(self, ext: str, renew: bool) -> None:
        if renew:
            self._book.exts[ext].reg_started = True
            self._check_ready()

    def _on_reg_state(self, ext: str, code: int, reason: str, expires: int) -> None:
        x = self._book.exts[ext]
        x.reg_started = True  # a REGISTER that could not even be sent still counts as the attempt
        x.registered = 200 <= code < 300 and expires > 0
        self._emit(RegistrationEvent(time.time(), self.component, ext, x.registered, code,
                                     reason, expires))
        self._check_ready()

    def _on_incoming(self, account: _Account, ext: str, prm: Any) -> None:
        # Keep the Call referenced before anything can report on it (a collected Call hangs up).
        leg = self._new_leg(ext, "incoming",
                            lambda leg_id: _Call(account, self, leg_id, prm.callId))
        info = leg.call.getInfo()
        leg.call_id, leg.remote = str(info.callIdString), bare_uri(str(info.remoteUri))
        self._set_state(leg, "incoming", 0, "")
        user = request_user(str(prm.rdata.wholeMsg))
        if user is not None and user != ext:
            # pjsua gives a call for an unknown user to the default account: refuse it instead.
            self._respond(leg, 404, "Not Found")
            return
        x = self._book.exts[ext]
        decision = decide(x.policy, x.ring_time, self._book.active() - 1, self._cfg.capacity)
        if decision.final is not None:
            self._respond(leg, decision.final, decision.reason)
            return
        if decision.provisional is not None:
            self._respond(leg, decision.provisional)
        if decision.answer_after is not None:
            leg_id = leg.id  # the timer holds the id, never the Call
            self._timers.add(self._clock() + decision.answer_after,
                             lambda: self._auto_answer(leg_id))

    def _on_mwi(self, ext: str, whole: str) -> None:
        user = request_user(whole)
        if user is not None and user != ext:
            # pjsua hands a NOTIFY for an unknown user to the default account: not this light.
            self._problem("warning", f"message-waiting NOTIFY for {user}, which this phone does"
                          " not have: ignored")
            return
        try:
            summary = summary_from_message(whole)
        except ValueError as exc:
            self._problem("warning", f"{ext}: unreadable message-waiting NOTIFY", str(exc))
            return
        self._emit(MwiEvent(time.time(), self.component, mailbox=ext, new_messages=summary.new,
                            old_messages=summary.old))

    def _on_rejected(self, code: int, reason: str, local: str, remote: str) -> None:
        ext = uri_user(bare_uri(local)) or "?"
        why = (f"this phone process holds {self._book.active()} of {self._cfg.capacity} call"
               " legs" if code == 486 else "refused by the SIP stack")
        self._problem("warning", f"{ext}: incoming call from {bare_uri(remote)} answered"
                      f" {code} {reason}: {why}")

    def _auto_answer(self, leg_id: str) -> None:
        leg = self._book.legs.get(leg_id)
        if leg is not None and leg.call is not None and leg.state in UNANSWERED:
            self._respond(leg, 200)

    def _on_call_state(self, leg_id: str, call: Any) -> None:
        leg = self._book.legs.get(leg_id)
        if leg is None:
            return
        info = call.getInfo()
        state = _STATES.get(int(info.state))
        if state is None:
            return
        leg.call_id = str(info.callIdString) or leg.call_id
        leg.remote = bare_uri(str(info.remoteUri)) or leg.remote
        self._set_state(leg, state, int(info.lastStatusCode), str(info.lastReason))
        if state == "confirmed":
            self._attach_media(leg, info)

    def _on_call_media(self, leg_id: str, call: Any) -> None:
        leg = self._book.legs.get(leg_id)
        if leg is not None and not leg.done:
            self._attach_media(leg, call.getInfo())

    # ------------------------------------------------------------------------ helpers
    def _attach_media(self, leg: Leg, info: Any) -> None:
        """Once confirmed with active audio: local sound if any, else the looped voice WAV."""
        if int(info.state) != pj.PJSIP_INV_STATE_CONFIRMED:
            return
        for media in info.media:
            if media.type != pj.PJMEDIA_TYPE_AUDIO or media.status != pj.PJSUA_CALL_MEDIA_ACTIVE:
                continue
            audio = leg.call.getAudioMedia(media.index)
            if self._local_port is not None:
                audio.startTransmit(self._local_port)
                self._local_port.startTransmit(audio)
                continue
            if self._voice is None or leg.voice_failed:
                continue
            if leg.player is None:
                player = pj.AudioMediaPlayer()
                try:
                    player.createPlayer(str(self._voice))  # loops by default
                except pj.Error as exc:
                    leg.voice_failed = True
                    self._problem("warning", f"{leg.id}: cannot play {self._voice}", exc.reason)
                    continue
                leg.player = player
            leg.player.startTransmit(audio)

    def _new_leg(self, ext: str, direction: str, make: Callable[[str], Any]) -> Leg:
        leg = self._book.add_leg(ext, direction)
        try:
            leg.call = make(leg.id)
        except BaseException:
            self._book.forget(leg.id)
            raise
        self._pacer.record(self._clock())
        return leg

    def _respond(self, leg: Leg, code: int, reason: str = "") -> None:
        prm = pj.CallOpParam()
        prm.statusCode = code
        if reason:
            prm.reason = reason
        try:
            if code >= 300:
                leg.call.hangup(prm)  # a final error response to the INVITE
            else:
                leg.call.answer(prm)
        except pj.Error as exc:
            raise PhoneError(f"cannot answer {leg.id} with {code}: {exc.reason}") from None

    def _set_state(self, leg: Leg, state: str, status: int, reason: str) -> None:
        if self._book.transition(leg, state, status):
            self._emit(CallStateEvent(time.time(), self.component, leg.ext, leg.id, leg.call_id,
                                      leg.direction, state, leg.remote, status, reason))

    def _check_ready(self) -> None:
        if self.ready or self._starting or self._ep is None or not self._book.all_started():
            return
        self.ready = True
        self._emit(ComponentEvent(time.time(), self.component, status="ready",
                                  address=f"{BIND_HOST}:{self.sip_port}",
                                  extra={"exts": list(self._cfg.exts), "pid": os.getpid(),
                                         "sip_port": self.sip_port,
                                         "rtp_port": self._cfg.rtp_port}))

    def _check_thread(self) -> None:
        if self._owner is not None and threading.get_ident() != self._owner:
            raise RuntimeError("PhoneAgent used from a thread that does not own its pjsua2"
                               " endpoint; hand the work to the pump thread")

    def _emit(self, event: Any) -> None:
        self._sink(event)

    def _problem(self, severity: str, message: str, detail: str = "") -> None:
        with contextlib.suppress(Exception):
            self._emit(ProblemEvent(time.time(), self.component, severity, message, detail))

    @contextlib.contextmanager
    def _guard(self, where: str) -> Iterator[None]:
        """Exceptions never leave a pjsua2 callback: they become ProblemEvents."""
        try:
            yield
        except Exception as exc:
            # Only text leaves this block: the traceback's frames may hold a Call, and nothing may
            # keep one alive past its DISCONNECTED (or past libDestroy).
            self._problem("error", f"{where}: {type(exc).__name__}: {exc}",
                          "".join(traceback.format_exception(exc)))
