"""A scriptable pjsua2 caller for the voicemail tests, run as its own process.

pjsua2 allows one Endpoint per process and the box has its own, so the caller lives here.
Usage: python caller.py [--from 'sip:1000@127.0.0.1']

stdin, one JSON command per line:
  {"cmd": "call", "id": "c1", "uri": "sip:b1001@127.0.0.1:PORT", "headers": {"Diversion": "…"},
   "record": "/path/heard.wav"}            place a call; optionally record what the caller hears
  {"cmd": "play", "id": "c1", "wav": "/path/tone.wav", "loop": true}   send a WAV into the call
  {"cmd": "hangup", "id": "c1", "after": 1.0}   hang up now, or after that many seconds
  {"cmd": "quit"}                          (EOF too)
stdout, one JSON event per line (lines not starting with "{" are pjlib noise):
  {"ev": "ready"}
  {"ev": "state", "id": "c1", "state": "confirmed", "code": 200, "call_id": "…", "t": <monotonic>}
  {"ev": "done", "id": "c1", "code": 200}  after DISCONNECTED, once the call and its recorder were
                                          dropped (the "record" WAV is complete)
  {"ev": "error", "id": "c1", "message": "…"}
Threading as in PJSUA2.md: the main thread owns pjsua2 and pumps it; a reader thread only queues
stdin lines.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import queue
import sys
import threading
import time
from typing import Any

import pjsua2 as pj  # type: ignore[import-untyped, unused-ignore]

STATES = {pj.PJSIP_INV_STATE_CALLING: "calling", pj.PJSIP_INV_STATE_EARLY: "early",
          pj.PJSIP_INV_STATE_CONNECTING: "connecting", pj.PJSIP_INV_STATE_CONFIRMED: "confirmed",
          pj.PJSIP_INV_STATE_DISCONNECTED: "disconnected"}


def emit(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


RECORD_CLOSE_WAIT = 5.0  # seconds the recorder may take to finish its file


def wav_finished(path: str | None) -> bool:
    """Whether the WAV at ``path`` has its RIFF size written (pjmedia writes it on close)."""
    if not path:
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return len(head) == 8 and head[:4] == b"RIFF" and int.from_bytes(head[4:], "little") > 0


class Leg:
    def __init__(self, name: str, record: str | None) -> None:
        self.name = name
        self.record = record
        self.call: Any = None
        self.audio: Any = None
        self.player: Any = None
        self.recorder: Any = None
        self.code = 0
        self.ended = False


class Caller(pj.Call):  # type: ignore[misc]
    def __init__(self, account: Any, leg: Leg, ended: list[Leg]) -> None:
        super().__init__(account)
        self.leg = leg
        self.ended = ended

    def onCallState(self, prm: Any) -> None:
        info = self.getInfo()
        state = STATES.get(info.state, str(info.state))
        self.leg.code = info.lastStatusCode
        emit(ev="state", id=self.leg.name, state=state, code=info.lastStatusCode,
             call_id=info.callIdString, t=time.monotonic())
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED and not self.leg.ended:
            self.leg.ended = True
            self.ended.append(self.leg)

    def onCallMediaState(self, prm: Any) -> None:
        leg = self.leg
        if leg.audio is not None:
            return
        info = self.getInfo()
        for index, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                leg.audio = self.getAudioMedia(index)
                if leg.record:
                    leg.recorder = pj.AudioMediaRecorder()
                    leg.recorder.createRecorder(leg.record)
                    leg.audio.startTransmit(leg.recorder)
                emit(ev="media", id=leg.name)
                return


def read_stdin(commands: queue.SimpleQueue[dict[str, Any]]) -> None:
    for line in sys.stdin:
        if line.strip():
            commands.put(json.loads(line))
    commands.put({"cmd": "quit"})


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--from", dest="from_uri", default="sip:1000@127.0.0.1")
    args = parser.parse_args()
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.logConfig.level = 0
    cfg.logConfig.consoleLevel = 0
    ep.libInit(cfg)
    ep.audDevManager().setNullDev()
    tcfg = pj.TransportConfig()
    tcfg.boundAddress = "127.0.0.1"
    tcfg.port = 0
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
    ep.libStart()
    acc_cfg = pj.AccountConfig()
    acc_cfg.idUri = args.from_uri
    acc_cfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    account = pj.Account()
    account.create(acc_cfg, True)
    legs: dict[str, Leg] = {}
    ended: list[Leg] = []
    commands: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
    threading.Thread(target=read_stdin, args=(commands,), daemon=True).start()
    emit(ev="ready")
    timers: list[tuple[float, str]] = []  # (when, leg): scheduled hang-ups
    closing: list[tuple[Leg, float]] = []  # dropped legs whose recording is being closed
    running = True
    while running:
        ep.libHandleEvents(10)
        for when, name in [t for t in timers if t[0] <= time.monotonic()]:
            timers.remove((when, name))
            commands.put({"cmd": "hangup", "id": name})
        while ended:  # drop a call after its DISCONNECTED callback returned (PJSUA2.md)
            leg = ended.pop()
            leg.player = leg.recorder = leg.audio = leg.call = None
            closing.append((leg, time.monotonic() + RECORD_CLOSE_WAIT))
        for leg, deadline in list(closing):
            # pjproject 2.15's conference bridge removes ports asynchronously: the recorder
            # writes the WAV's sizes when it is really destroyed, a moment after it is dropped.
            if wav_finished(leg.record) or time.monotonic() > deadline:
                closing.remove((leg, deadline))
                emit(ev="done", id=leg.name, code=leg.code)
        while True:
            try:
                command = commands.get_nowait()
            except queue.Empty:
                break
            cmd_name = command.get("cmd")
            leg_name = str(command.get("id", ""))
            try:
                if cmd_name == "quit":
                    running = False
                elif cmd_name == "call":
                    leg = Leg(leg_name, command.get("record"))
                    legs[leg_name] = leg
                    leg.call = Caller(account, leg, ended)
                    op = pj.CallOpParam(True)
                    for hname, hvalue in (command.get("headers") or {}).items():
                        header = pj.SipHeader()
                        header.hName = hname
                        header.hValue = hvalue
                        op.txOption.headers.append(header)
                    emit(ev="calling", id=leg_name, t=time.monotonic())
                    leg.call.makeCall(command["uri"], op)
                elif cmd_name == "play":
                    leg = legs[leg_name]
                    leg.player = pj.AudioMediaPlayer()
                    leg.player.createPlayer(command["wav"],
                                            0 if command.get("loop") else pj.PJMEDIA_FILE_NO_LOOP)
                    leg.player.startTransmit(leg.audio)
                elif cmd_name == "hangup" and command.get("after"):
                    timers.append((time.monotonic() + float(command["after"]), leg_name))
                elif cmd_name == "hangup":
                    leg = legs[leg_name]
                    if leg.call is not None and not leg.ended:
                        leg.call.hangup(pj.CallOpParam())
            except (pj.Error, KeyError, AttributeError) as exc:
                emit(ev="error", id=leg_name, message=str(getattr(exc, "reason", exc)))
    with contextlib.suppress(pj.Error):
        ep.hangupAllCalls()
    for _ in range(20):
        ep.libHandleEvents(10)
    ended.clear()
    for leg in legs.values():
        leg.player = leg.recorder = leg.audio = leg.call = None
    legs.clear()
    account.shutdown()
    ep.libDestroy(pj.PJSUA_DESTROY_NO_RX_MSG)
    del account
    emit(ev="bye")
    return 0


if __name__ == "__main__":
    sys.exit(main())
