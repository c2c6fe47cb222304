"""The phone process: ``labpbx phone --proxy 127.0.0.1:5060 --ext 1000 …`` (entry: ``main(argv)``).

Rules of this module:
- Two threads. The main thread creates the PhoneAgent and is the only one that touches it (and
  so pjsua2): it pumps the agent every ``PUMP_MS`` and runs the commands it finds in the queue.
  The reader thread only reads stdin, parses each line (pure) and puts the result on the queue.
- stdout carries events only: one JSON object per line with ``--json``, one human-readable line
  otherwise. pjlib's start-up banner is diverted to stderr (stdio.py); where that cannot be done
  (no C stdio to flush, e.g. Windows) it lands on stdout, so consumers ignore non-JSON lines.
  pjsua2's own log goes to stderr (``--pj-log-level``, default 1 = errors).
- EOF on stdin (the supervisor died or closed the pipe), a ``quit`` command, SIGTERM, SIGINT and a
  broken stdout all end the same way: the agent's orderly shutdown (calls hung up, extensions
  un-REGISTERed), then exit code 0 through labpbx.pjexit (no pjsua2 teardown; that module says why).
- Every command is answered by one ComponentEvent: status "ack" (extra: id, cmd and results such
  as "leg") or status "error" (detail: why; extra: id, cmd). The commands are in commands.py.

Events, in the order a supervisor sees them (labpbx.events): ComponentEvent "starting" (pid),
"audio" (local sound on/off and why), PolicyEvent per extension, ComponentEvent "ready" (address
127.0.0.1:<sip port>, extra.exts) once every registering account has sent its first REGISTER,
RegistrationEvent per extension on each REGISTER answer; then CallStateEvent per leg change,
PolicyEvent on change, MwiEvent when the voicemail box's NOTIFY (RFC 3842) says an extension's
message count changed, ProblemEvent for trouble; finally "stopping" (detail: why) and "stopped".
A start that fails emits "failed" (detail) and exits 1.
"""

from __future__ import annotations

import argparse
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import IO, Any

from labpbx.errors import ConfigError
from labpbx.events import ComponentEvent, Event, ProblemEvent
from labpbx.phones.agent import PhoneAgent
from labpbx.phones.commands import (
    AnswerCommand,
    CallCommand,
    Command,
    CommandError,
    HangupCommand,
    PhoneError,
    PolicyCommand,
    QuitCommand,
    RejectCommand,
    StatusCommand,
    check_ext,
    parse_command,
)
from labpbx.phones.config import AgentConfig
from labpbx.phones.policy import DEFAULT_RING_TIME, Policy, parse_policy_spec
from labpbx.phones.voice import voice_path
from labpbx.pjexit import exit_process

PUMP_MS = 10  # command latency and timer resolution; PJSUA2.md's recipe pumps every 10 ms

_EOF = object()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labpbx phone",
        description="Virtual telephone extensions (pjsua2) that register with the lab proxy."
                    " Commands: JSON lines on stdin; events: lines on stdout.")
    parser.add_argument("--proxy", required=True, metavar="HOST:PORT",
                        help="the lab proxy (registrar), e.g. 127.0.0.1:5060")
    parser.add_argument("--ext", action="append", required=True, metavar="EXT",
                        help="an extension of this phone (repeat for a second one)")
    parser.add_argument("--sip-port", type=int, default=0, metavar="N",
                        help="local SIP UDP port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--rtp-port", type=int, default=0, metavar="N",
                        help="first RTP port of this process's range (0 = the OS picks)")
    parser.add_argument("--policy", action="append", default=[], metavar="EXT=POLICY[:RING_TIME]",
                        help="answering policy: " + ", ".join(p.value for p in Policy)
                        + f" (default answer:{DEFAULT_RING_TIME:g})")
    parser.add_argument("--audio", action="store_true",
                        help="bridge calls to the local microphone/speaker when there is one")
    parser.add_argument("--json", action="store_true", help="events as JSON lines")
    parser.add_argument("--voice", metavar="WAV",
                        help="WAV played into answered calls (default: the shipped voice;"
                             " 'none' for silence)")
    parser.add_argument("--name", default="", help="component name in events (default phone-EXT)")
    parser.add_argument("--pj-log-level", type=int, default=1, metavar="0-6",
                        help="pjsua2 log level, written to stderr (default 1: errors)")
    return parser


def config_from_args(args: argparse.Namespace) -> AgentConfig:
    """Turn parsed arguments into an AgentConfig; ConfigError says which value is wrong."""
    host, sep, port = str(args.proxy).rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"--proxy {args.proxy!r} is not HOST:PORT")
    exts = [check_ext(e.strip()) for e in args.ext]
    policies = {}
    for text in args.policy:
        spec = parse_policy_spec(text)
        policies[spec.ext] = (spec.policy, spec.ring_time)
    voice: Path | None
    if args.voice is None:
        voice = voice_path()
    elif args.voice.lower() == "none":
        voice = None
    else:
        voice = Path(args.voice)
    config = AgentConfig(proxy_host=host, proxy_port=int(port), exts=exts,
                         sip_port=args.sip_port, rtp_port=args.rtp_port, policies=policies,
                         voice_wav=voice, local_audio=args.audio, component=args.name,
                         pj_log_level=args.pj_log_level)
    config.validate()
    return config


class EventWriter:
    """Writes events to a binary stream, JSON or human-readable. ``broken`` after a write fails."""

    def __init__(self, stream: IO[bytes], as_json: bool) -> None:
        self._stream = stream
        self._json = as_json
        self._lock = threading.Lock()  # one whole line at a time, whoever writes
        self.broken = False

    def __call__(self, event: Event) -> None:
        line = event.to_json() if self._json else format_human(event)
        with self._lock:
            if self.broken:
                return
            try:
                self._stream.write(line.encode("utf-8") + b"\n")
                self._stream.flush()
            except (OSError, ValueError):
                self.broken = True  # the supervisor is gone: shut down instead of crashing


def format_human(event: Event) -> str:
    """``13:20:44.496 phone-1000 call ext=1000 leg=1000-1 state=confirmed …``"""
    data = event.to_dict()
    millis = int(event.time % 1 * 1000)
    stamp = time.strftime("%H:%M:%S", time.localtime(event.time)) + f".{millis:03d}"
    parts = [stamp, event.component, event.type]
    for key, value in data.items():
        if key in ("v", "type", "time", "component") or value in ("", {}, None):
            continue
        parts.append(f"{key}={value}")
    return " ".join(parts)


def _read_commands(stream: IO[str], inbox: queue.Queue[Any]) -> None:
    """Reader thread: parse lines (pure), never touch the agent. EOF is put as ``_EOF``."""
    try:
        for line in stream:
            if line.strip():
                try:
                    inbox.put(parse_command(line))
                except CommandError as exc:
                    inbox.put(exc)
    except (OSError, ValueError):
        pass
    inbox.put(_EOF)


def run_command(agent: PhoneAgent, command: Command) -> dict[str, Any]:
    """Carry out one command on the pump thread; returns the ack's extra results."""
    if isinstance(command, CallCommand):
        return {"leg": agent.call(command.ext, command.to), "ext": command.ext}
    if isinstance(command, PolicyCommand):
        agent.set_policy(command.ext, command.policy, command.ring_time)
        return {"ext": command.ext, "policy": command.policy.value}
    if isinstance(command, AnswerCommand):
        agent.answer(command.leg)
        return {"leg": command.leg}
    if isinstance(command, RejectCommand):
        agent.reject(command.leg, command.code)
        return {"leg": command.leg, "code": command.code}
    if isinstance(command, HangupCommand):
        if command.leg:
            agent.hangup(command.leg)
            return {"leg": command.leg}
        return {"ext": command.ext, "count": agent.hangup_ext(command.ext)}
    if isinstance(command, StatusCommand):
        return agent.status()
    if isinstance(command, QuitCommand):
        return {}
    raise PhoneError(f"unsupported command {command!r}")


def _ack(component: str, command_id: Any, cmd: str, extra: dict[str, Any]) -> ComponentEvent:
    head: dict[str, Any] = {"cmd": cmd}
    if command_id is not None:
        head["id"] = command_id
    return ComponentEvent(time.time(), component, status="ack", detail=cmd,
                          extra={**head, **extra})


def _error(component: str, command_id: Any, cmd: str, message: str) -> ComponentEvent:
    extra: dict[str, Any] = {"cmd": cmd}
    if command_id is not None:
        extra["id"] = command_id
    return ComponentEvent(time.time(), component, status="error", detail=message, extra=extra)


def main(argv: Sequence[str] | None = None) -> int:
    """Run a phone process until quit/EOF/signal. Returns the exit code (0 ok, 1 start failed,
    2 bad arguments)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        config = config_from_args(args)
    except SystemExit as exc:  # argparse: --help or a usage error (already printed)
        return int(exc.code) if isinstance(exc.code, int) else 2
    except ConfigError as exc:
        print(f"labpbx phone: {exc}", file=sys.stderr)
        return 2
    out = EventWriter(sys.stdout.buffer, args.json)
    agent = PhoneAgent(config, out)
    stop_reason: list[str] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop_reason.append(signal.Signals(signum).name)  # acted upon by the pump loop

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        try:
            agent.start()
        except ConfigError as exc:
            out(ComponentEvent(time.time(), agent.component, status="failed", detail=str(exc)))
            print(f"labpbx phone: {exc}", file=sys.stderr)
            return 1
        inbox: queue.Queue[Any] = queue.Queue()
        reader = threading.Thread(target=_read_commands, args=(sys.stdin, inbox),
                                  name="phone-stdin", daemon=True)
        reader.start()
        try:
            _serve(agent, out, inbox, stop_reason)
            code = 0
        except BaseException:
            traceback.print_exc(file=sys.stderr)
            code = 1
        # Also after an exception in the loop: the calls end and the extensions un-REGISTER.
        try:
            agent.shutdown(stop_reason[0] if stop_reason else "error")
        except BaseException:
            traceback.print_exc(file=sys.stderr)
            code = 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    exit_process(code)  # no pjsua2 teardown: labpbx.pjexit says why


def _serve(agent: PhoneAgent, out: EventWriter, inbox: queue.Queue[Any],
           stop_reason: list[str]) -> None:
    """The pump loop: pjsua2 events, then queued commands, until something asks to stop."""
    while not stop_reason:
        agent.pump(PUMP_MS)
        while not stop_reason:
            try:
                item = inbox.get_nowait()
            except queue.Empty:
                break
            if item is _EOF:
                stop_reason.append("stdin closed")
            elif isinstance(item, CommandError):
                out(_error(agent.component, item.command_id, item.cmd, str(item)))
            else:
                _handle(agent, out, item, stop_reason)
        if out.broken:
            stop_reason.append("stdout closed")


def _handle(agent: PhoneAgent, out: EventWriter, command: Command,
            stop_reason: list[str]) -> None:
    try:
        result = run_command(agent, command)
    except PhoneError as exc:
        out(_error(agent.component, command.id, command.name, str(exc)))
        return
    except Exception as exc:  # a bug or an unexpected pjsua2 error: report it, keep the phone up
        out(_error(agent.component, command.id, command.name,
                   f"internal error: {type(exc).__name__}: {exc}"))
        out(ProblemEvent(time.time(), agent.component, "error",
                         f"command {command.name} failed unexpectedly",
                         "".join(traceback.format_exception(exc))))
        return
    out(_ack(agent.component, command.id, command.name, result))
    if isinstance(command, QuitCommand):
        stop_reason.append("quit")
