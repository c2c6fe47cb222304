"""``labpbx voicemail``: the voicemail box as its own process (the tutorial's media server).

    labpbx voicemail [--listen 127.0.0.1:PORT] [--rtp-port N] [--rtp-range N] [--data DIR]
                     [--voicemail-number 2345678] [--language en|zh] [--max-length S]
                     [--silence S] [--min-length S] [--json] [--pjsip-log FILE]
                     [--proxy 127.0.0.1:PORT]

Rules of this module
  * The main thread owns pjsua2: it starts the server, pumps it every 10 ms and stops it.
  * stdin carries commands, one JSON object per line, read by a reader thread that never calls
    pjsua2 (PJSUA2.md: an unregistered thread would abort the process); it only queues them.
      {"cmd": "quit"}     orderly shutdown (so does EOF on stdin, SIGTERM and SIGINT)
      {"cmd": "status"}   answer with ComponentEvent(status="status", extra={legs, phases, …})
      {"cmd": "mwi", "mailbox": "1001"}   announce the mailbox's counts again (MwiEvent, and
                          the NOTIFY below when --proxy is given)
    A line that is not a known command gets a ProblemEvent and is otherwise ignored.
  * stdout carries events: with ``--json`` one event JSON object per line (labpbx.events), else
    one human-readable line per event. What pjlib prints during libCreate is sent to stderr on
    POSIX; consumers should still skip lines that are not JSON.
  * Message waiting (RFC 3842): with ``--proxy`` every MwiEvent the box emits (after each stored
    message, and on the "mwi" command) also becomes an unsolicited NOTIFY to that proxy, sent by
    labpbx.voicemail.notifier on the main thread between two pumps (our own SIP transaction
    layer, not pjsua2). Without ``--proxy`` nothing is sent; the ready event's ``extra["mwi"]``
    says which it is.
  * Exit codes: 0 after an orderly stop, 2 for a bad command line, an address that cannot be
    used or a message index that cannot be opened (a ProblemEvent and
    ComponentEvent(status="failed") say why).
  * Once the box has started, the process never returns from ``main``: after the orderly stop
    (every message stored, "stopped" written) it ends with labpbx.pjexit.exit_process, without
    tearing pjsua2 down (the reason is in that module).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from labpbx import argtypes
from labpbx.errors import ConfigError, LabPbxError
from labpbx.events import ComponentEvent, Event, MwiEvent, ProblemEvent
from labpbx.paths import default_data_dir
from labpbx.pjexit import exit_process
from labpbx.voicemail.box import (
    DEFAULT_MAX_LENGTH,
    DEFAULT_MIN_LENGTH,
    DEFAULT_SILENCE,
    DEFAULT_VOICEMAIL_NUMBER,
    LANGUAGES,
    BoxConfig,
    MessageStore,
    RecordingLimits,
    safe_mailbox,
)
from labpbx.voicemail.memory_store import MemoryMessageStore
from labpbx.voicemail.notifier import MwiNotifier

COMPONENT = "voicemail"
PUMP_MS = 10

StoreFactory = Callable[[Path], MessageStore]


def _listen(text: str) -> tuple[str, int]:
    host, colon, port_text = text.rpartition(":")
    if not colon:
        host, port_text = text, "0"
    try:
        ipaddress.IPv4Address(host)
        port = int(port_text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not IPv4-address:port (e.g. 127.0.0.1:5080)") from exc
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is out of range")
    return host, port


def _proxy(text: str) -> tuple[str, int]:
    host, port = _listen(text)
    if not host.startswith("127.") or port == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a loopback HOST:PORT with a port "
                                         "(e.g. 127.0.0.1:5060)")
    return host, port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labpbx voicemail",
        description="The LabPBX voicemail box: a SIP media server that plays the busy (b<ext>), "
                    "unavailable (u<ext>) or default greeting and records a message.")
    parser.add_argument("--listen", type=_listen, default=("127.0.0.1", 0), metavar="HOST:PORT",
                        help="SIP UDP address (default 127.0.0.1:0 = any free port, reported "
                             "in the ready event)")
    parser.add_argument("--rtp-port", type=argtypes.port, default=0, metavar="N",
                        help="first RTP port (default 0 = any free port)")
    parser.add_argument("--rtp-range", type=argtypes.port, default=100, metavar="N",
                        help="how many RTP ports from --rtp-port may be used (default 100)")
    parser.add_argument("--data", type=Path, default=None, metavar="DIR",
                        help="lab data directory (messages go to DIR/voicemail/<mailbox>/)")
    parser.add_argument("--voicemail-number", default=DEFAULT_VOICEMAIL_NUMBER, metavar="USER",
                        help="the number whose calls are filed by their Diversion header "
                             f"(default {DEFAULT_VOICEMAIL_NUMBER})")
    parser.add_argument("--language", choices=LANGUAGES, default="en",
                        help="language of the shipped greetings (default en)")
    parser.add_argument("--max-length", type=argtypes.non_negative_seconds,
                        default=DEFAULT_MAX_LENGTH, metavar="S",
                        help=f"longest message in seconds (default {DEFAULT_MAX_LENGTH:g})")
    parser.add_argument("--silence", type=argtypes.non_negative_seconds,
                        default=DEFAULT_SILENCE, metavar="S",
                        help="end the message after this many seconds of silence, 0 = never "
                             f"(default {DEFAULT_SILENCE:g})")
    parser.add_argument("--min-length", type=argtypes.non_negative_seconds,
                        default=DEFAULT_MIN_LENGTH, metavar="S",
                        help="shorter messages are discarded as empty "
                             f"(default {DEFAULT_MIN_LENGTH:g})")
    parser.add_argument("--json", action="store_true",
                        help="events as JSON lines on stdout (for the lab supervisor)")
    parser.add_argument("--pjsip-log", type=Path, default=None, metavar="FILE",
                        help="write pjsip's own log (level 4) to FILE")
    parser.add_argument("--mwi-listen", type=_proxy, default=None, metavar="HOST:PORT",
                        help="UDP address (127.x) where the box takes message-summary "
                             "SUBSCRIBEs and from which it sends its NOTIFYs (default: any free "
                             "loopback port; needs --proxy)")
    parser.add_argument("--proxy", type=_proxy, default=None, metavar="HOST:PORT",
                        help="send message-waiting NOTIFYs (RFC 3842) for each mailbox to this "
                             "proxy, which relays them to the registered phone (default: none)")
    return parser


def config_from_args(args: argparse.Namespace) -> BoxConfig:
    try:
        limits = RecordingLimits(max_length=args.max_length, silence=args.silence,
                                 min_length=args.min_length)
        host, port = args.listen
        return BoxConfig(host=host, port=port, rtp_port=args.rtp_port, rtp_range=args.rtp_range,
                         voicemail_number=args.voicemail_number, language=args.language,
                         limits=limits)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def human_line(event: Event) -> str:
    """One readable line for a terminal."""
    data = event.to_dict()
    stamp = time.strftime("%H:%M:%S", time.localtime(event.time))
    skip = {"v", "type", "time", "component"}
    fields = " ".join(f"{k}={v}" for k, v in data.items() if k not in skip and v not in ("", {}))
    return f"{stamp} {event.type:<10} {fields}"


class _Output:
    """Writes events to a text stream, one line each; only the pump thread writes."""

    def __init__(self, stream: TextIO, as_json: bool) -> None:
        self._stream = stream
        self._json = as_json

    def __call__(self, event: Event) -> None:
        line = event.to_json() if self._json else human_line(event)
        self._stream.write(line + "\n")
        self._stream.flush()


def _read_commands(stream: TextIO, commands: queue.SimpleQueue[dict[str, Any]]) -> None:
    """Reader thread: JSON lines from stdin into the queue; never touches pjsua2."""
    try:
        for line in stream:
            line = line.strip()
            if not line:
                continue
            try:
                command = json.loads(line)
            except ValueError:
                command = {"cmd": "?", "text": line}
            commands.put(command if isinstance(command, dict) else {"cmd": "?", "text": line})
    except (OSError, ValueError):
        pass
    commands.put({"cmd": "quit", "why": "end of input"})


def _memory_store(_data_dir: Path) -> MessageStore:
    return MemoryMessageStore()


def main(argv: Sequence[str] | None = None, *, store_factory: StoreFactory | None = None,
         stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Run the voicemail box until quit / EOF / SIGTERM / SIGINT. Returns the exit code.

    ``store_factory(data_dir)`` gives the MessageStore; without one, messages are indexed in
    memory only (a ProblemEvent says so) while their WAV files are still written.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    out = _Output(stdout or sys.stdout, args.json)
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        parser.error(str(exc))
    data_dir: Path = args.data if args.data is not None else default_data_dir()
    if store_factory is None:
        store_factory = _memory_store
        out(ProblemEvent(time.time(), COMPONENT, severity="warning",
                         message="no message index configured: messages are indexed in memory "
                                 "only (their WAV files are kept)"))
    try:
        store = store_factory(data_dir)
    except LabPbxError as exc:
        out(ProblemEvent(time.time(), COMPONENT, severity="error",
                         message=f"cannot open the message index: {exc}"))
        out(ComponentEvent(time.time(), COMPONENT, status="failed", detail=str(exc)))
        return 2

    from labpbx.voicemail.media import VoicemailServer  # pjsua2 loads only when the box runs

    notifier: MwiNotifier | None = None
    if args.proxy is not None:
        try:
            notifier = MwiNotifier(args.proxy, out, component=COMPONENT, counts=store.count,
                                   listen=args.mwi_listen or ("127.0.0.1", 0))
        except OSError as exc:
            out(ProblemEvent(time.time(), COMPONENT, severity="error",
                             message=f"cannot open the message-waiting socket: {exc}"))
            out(ComponentEvent(time.time(), COMPONENT, status="failed", detail=str(exc)))
            return 2
        mwi = (f"NOTIFY to {args.proxy[0]}:{args.proxy[1]} from "
               f"{notifier.local[0]}:{notifier.local[1]}, SUBSCRIBE taken there")
    else:
        mwi = "off: no --proxy, message-waiting NOTIFYs are not sent"

    def sink(event: Event) -> None:
        out(event)
        # The box's own count announcements drive the NOTIFYs (same thread: the pump's).
        if notifier is not None and isinstance(event, MwiEvent):
            try:
                notifier.notify(event.mailbox, event.new_messages, event.old_messages)
            except ValueError as exc:
                out(ProblemEvent(time.time(), COMPONENT, severity="warning",
                                 message=f"no NOTIFY for mailbox {event.mailbox!r}",
                                 detail=str(exc)))

    server = VoicemailServer(config, data_dir, store, sink, log_file=args.pjsip_log,
                             ready_extra={"mwi": mwi})
    commands: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
    reader = threading.Thread(target=_read_commands, args=(stdin or sys.stdin, commands),
                              name="voicemail-stdin", daemon=True)
    stop_reason: list[str] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        # Runs on the main thread between two pumps: just ask the loop to stop.
        stop_reason.append(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    code = 1
    try:
        try:
            server.start()
            if notifier is not None:
                host, _, port = server.address.rpartition(":")
                notifier.box = (host, int(port))
        except ConfigError as exc:
            out(ProblemEvent(time.time(), COMPONENT, severity="error", message=str(exc)))
            out(ComponentEvent(time.time(), COMPONENT, status="failed", detail=str(exc)))
            return 2
        reader.start()
        while not stop_reason:
            server.pump(PUMP_MS)
            if notifier is not None:
                notifier.pump()
            _handle_commands(commands, server, out, stop_reason)
        out(ComponentEvent(time.time(), COMPONENT, status="stopping", detail=stop_reason[0],
                           address=server.address))
        code = 0
    except BaseException:
        traceback.print_exc(file=sys.stderr)
        code = 1
    finally:
        try:
            if server.running:
                server.stop()
        except BaseException:
            traceback.print_exc(file=sys.stderr)
            code = 1
        if notifier is not None:
            notifier.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    exit_process(code)


def _handle_commands(commands: queue.SimpleQueue[dict[str, Any]], server: Any,
                     out: Callable[[Event], None], stop_reason: list[str]) -> None:
    while True:
        try:
            command = commands.get_nowait()
        except queue.Empty:
            return
        name = command.get("cmd")
        if name == "quit":
            stop_reason.append(str(command.get("why", "quit command")))
        elif name == "status":
            out(ComponentEvent(time.time(), COMPONENT, status="status", address=server.address,
                               extra=server.status()))
        elif name == "mwi":
            mailbox = safe_mailbox(str(command.get("mailbox", "")))
            if mailbox is None:
                out(ProblemEvent(time.time(), COMPONENT, severity="warning",
                                 message="mwi: missing or unusable 'mailbox'",
                                 detail=json.dumps(command)))
            else:
                server.announce_mwi(mailbox)
        else:
            out(ProblemEvent(time.time(), COMPONENT, severity="warning",
                             message=f"unknown command {name!r}", detail=json.dumps(command)))


if __name__ == "__main__":
    sys.exit(main())
