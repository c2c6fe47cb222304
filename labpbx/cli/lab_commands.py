"""The lab's commands of the ``labpbx`` command line.

    labpbx [--data DIR] demo [--fast]           the tutorial's three calls, checked (exit 0 = right)
    labpbx [--data DIR] lab [--port N] [--audio-ext EXT] …
                                                the lab, headless, until Ctrl-C (real softphones)
    labpbx [--data DIR] call FROM TO            place a call in the running lab (click-to-call)
    labpbx [--data DIR] phone …                 one phone process (labpbx.phones.process)
    labpbx [--data DIR] voicemail …             the voicemail box, indexing into the lab database
    labpbx [--data DIR] lab-proxy …             (internal) the proxy as a supervised child

Rules of this module:
- ``phone``, ``voicemail`` and ``lab-proxy`` forward their arguments untouched to their own
  parsers (``FORWARDING``): ``labpbx phone --help`` is the phone's help.
- ``demo`` without ``--data`` runs in a fresh temporary directory (so the mailboxes start empty
  and the verdict does not depend on earlier runs) and removes it afterwards.
- Errors are one line on stderr and exit code 1, like the other commands.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from labpbx import argtypes

FORWARDING = frozenset({"phone", "voicemail", "lab-proxy"})
COMMANDS = frozenset({"demo", "lab", "call", "hangup", "policy", "status", "timers"}) | FORWARDING




def register(sub: Any) -> None:
    """Add the lab's subcommands to the ``labpbx`` parser's subparsers."""
    demo = sub.add_parser("demo", help="play the tutorial's three calls on a headless lab",
                          description="Start the default lab headless, provision callfwd for "
                                      "1004, play the tutorial's three calls and print a ladder "
                                      "of each. Exit code 0 only if every outcome is right.")
    demo.add_argument("--fast", action="store_true",
                      help="fr_inv_timeout 2 s and short messages (the whole demo < 30 s)")

    lab = sub.add_parser("lab", help="run the lab headless until interrupted",
                         description="Run the proxy, the voicemail box and the extensions until "
                                     "Ctrl-C. Point a softphone at the proxy; place calls with "
                                     "`labpbx call FROM TO`.")
    lab.add_argument("--port", type=argtypes.port, default=5060,
                     help="proxy UDP port on 127.0.0.1 (default 5060; 0 = any free port)")
    lab.add_argument("--media-port", type=argtypes.port, default=0,
                     help="voicemail box UDP port (default 0 = any free port)")
    lab.add_argument("--extensions", default="1000-1004", metavar="LIST",
                     help="extensions, e.g. 1000-1004 or 1000,1001,1007 (default 1000-1004)")
    lab.add_argument("--fr-timeout", type=argtypes.positive_seconds, default=None)
    lab.add_argument("--fr-inv-timeout", type=argtypes.positive_seconds, default=None,
                     help="seconds a call may ring before it goes to voicemail")
    lab.add_argument("--script", type=Path, default=None, help="routing script")
    lab.add_argument("--language", choices=("en", "zh"), default="en",
                     help="language of the voicemail greetings")
    lab.add_argument("--audio-ext", default=None, metavar="EXT",
                     help="the extension that is your own softphone: its calls use this "
                          "machine's microphone and speaker (when there is a sound card)")
    lab.add_argument("--external-proxy", action="store_true",
                     help="start no proxy: register the extensions with the SIP server already "
                          "on 127.0.0.1:--port (e.g. OpenSIPS or Kamailio running the tutorial "
                          "script with its media server at 127.0.0.1:--media-port)")
    lab.add_argument("--sip", action="store_true", help="also print every SIP message")
    lab.add_argument("--json", action="store_true", help="print events as JSON lines")

    call = sub.add_parser("call", help="place a call in the running lab",
                          description="Place a call from a lab extension through the proxy of "
                                      "the lab running in the data directory.")
    call.add_argument("caller", metavar="FROM", help="a lab extension, e.g. 1000")
    call.add_argument("callee", metavar="TO", help="an extension or number, e.g. 1001")

    hangup = sub.add_parser("hangup", help="hang up an extension's calls in the running lab")
    hangup.add_argument("ext", metavar="EXT", help="a lab extension, e.g. 1000")

    policy = sub.add_parser("policy", help="change how an extension answers in the running lab",
                            description="answer (after --ring seconds), busy (486), ring "
                                        "(never answers), unavailable (480), dnd, offline")
    policy.add_argument("ext", metavar="EXT", help="a lab extension, e.g. 1001")
    policy.add_argument("policy", metavar="POLICY",
                        choices=("answer", "busy", "ring", "unavailable", "dnd", "offline"))
    policy.add_argument("--ring", type=argtypes.non_negative_seconds, default=3.0,
                        help="ring time before answering, with answer (default 3)")

    sub.add_parser("status", help="show the running lab: addresses, extensions, timers")

    timers = sub.add_parser("timers", help="show or change the running lab's ring timers",
                            description="Show the tm timers of the lab running in the data "
                                        "directory, or change them; calls in progress go on.")
    timers.add_argument("--fr-timeout", type=argtypes.positive_seconds, default=None,
                        help="seconds to wait for any reply to a forwarded request")
    timers.add_argument("--fr-inv-timeout", type=argtypes.positive_seconds, default=None,
                        help="seconds a call may ring before it goes to voicemail")

    # Forwarded: no own options and no -h, so everything reaches the component's own parser.
    # lab-proxy has no help= on purpose: argparse lists only subcommands that have one, and it
    # is the supervisor's internal child.
    sub.add_parser("phone", add_help=False, help="run one phone process (see labpbx phone -h)")
    sub.add_parser("voicemail", add_help=False,
                   help="run the voicemail box (see labpbx voicemail -h)")
    sub.add_parser("lab-proxy", add_help=False)


def run(args: argparse.Namespace, extra: Sequence[str], data_dir: Path) -> int:
    """Run one of this module's commands (``args.command`` in COMMANDS)."""
    if args.command == "phone":
        from labpbx.phones.process import main as phone_main

        return phone_main(list(extra))
    if args.command == "voicemail":
        return _voicemail(list(extra), data_dir)
    if args.command == "lab-proxy":
        from labpbx.lab.proxy_child import main as proxy_main

        data_dir.mkdir(parents=True, exist_ok=True)
        return proxy_main(list(extra), data_dir)
    if args.command == "demo":
        return _demo(args)
    if args.command == "lab":
        return _lab(args, data_dir)
    if args.command == "call":
        return _call(args, data_dir)
    if args.command == "timers":
        return _timers(args, data_dir)
    if args.command == "hangup":
        return _ask(data_dir, {"cmd": "hangup", "ext": args.ext},
                    lambda answer: f"{args.ext}: {answer.get('count', 0)} call(s) hung up")
    if args.command == "policy":
        return _ask(data_dir, {"cmd": "policy", "ext": args.ext, "policy": args.policy,
                               "ring_time": args.ring},
                    lambda answer: f"{args.ext}: {args.policy}"
                    + (f" after {args.ring:g} s" if args.policy == "answer" else ""))
    if args.command == "status":
        return _ask(data_dir, {"cmd": "status"}, _format_status)
    raise ValueError(args.command)


def _voicemail(argv: list[str], data_dir: Path) -> int:
    from labpbx.voicemail.process import main as voicemail_main
    from labpbx.voicemail.store_adapter import LabStoreMessageStore

    if not any(a == "--data" or a.startswith("--data=") for a in argv):
        argv = [*argv, "--data", str(data_dir)]
    # Messages are indexed in the lab database, where the GUI and `labpbx demo` find them.
    return voicemail_main(argv, store_factory=LabStoreMessageStore.for_data_dir)


def _tolerant_stdout() -> None:
    """Ladders and outcomes use a few non-ASCII signs (→ … —): on a console whose encoding
    lacks them (a legacy Windows code page) print a replacement instead of failing."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        with contextlib.suppress(ValueError, OSError):
            reconfigure(errors="replace")


def _demo(args: argparse.Namespace) -> int:
    from labpbx.lab.demo import run_demo

    _tolerant_stdout()
    if args.data is not None:
        return run_demo(Path(args.data), sys.stdout, fast=args.fast)
    with tempfile.TemporaryDirectory(prefix="labpbx-demo-") as tmp:
        return run_demo(Path(tmp), sys.stdout, fast=args.fast)


def _lab(args: argparse.Namespace, data_dir: Path) -> int:
    from labpbx.lab.config import LabConfig, LabError, parse_extensions
    from labpbx.lab.console import format_event
    from labpbx.lab.control import ControlServer, lab_state, remove_state, running_lab_pid, write_state
    from labpbx.lab.supervisor import Lab

    _tolerant_stdout()
    data_dir.mkdir(parents=True, exist_ok=True)
    other = running_lab_pid(data_dir)
    if other is not None:
        raise LabError(f"a lab is already running in {data_dir} (pid {other})")
    config = LabConfig(extensions=parse_extensions(args.extensions), proxy_port=args.port,
                       media_port=args.media_port, fr_timeout=args.fr_timeout,
                       fr_inv_timeout=args.fr_inv_timeout, data_dir=data_dir,
                       script_path=args.script, language=args.language,
                       audio_ext=args.audio_ext, external_proxy=args.external_proxy)
    lab = Lab(config)
    print_lock = threading.Lock()

    def show(event: Any) -> None:
        line = event.to_json() if args.json else format_event(event, sip=args.sip)
        if line is not None:
            with print_lock, contextlib.suppress(OSError, ValueError):
                print(line, flush=True)

    lab.subscribe(show)
    stop = threading.Event()
    reload = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if signum == getattr(signal, "SIGHUP", None):
            reload.set()
        else:
            stop.set()

    # SIGINT too, explicitly: a process started in the background by a non-interactive shell
    # inherits SIGINT ignored, and Python then installs no KeyboardInterrupt for it (a CI run
    # whose lab never stopped on Ctrl-C's signal).
    previous = {sig: signal.signal(sig, on_signal)
                for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None))
                if sig is not None}
    control: ControlServer | None = None
    try:
        try:
            lab.start()
        except LabError as exc:
            if exc.component == "proxy" and "in use" in str(exc) and args.port:
                raise LabError(f"{exc}\nChoose another port with --port N (--port 0 picks a free one).",
                               exc.component) from exc
            raise
        control = ControlServer(lab)
        control.start()
        write_state(data_dir, lab_state(os.getpid(), control, lab.status()))
        with print_lock:
            whose = ("external: not started by the lab" if config.external_proxy
                     else "register softphones here; any user name")
            print(f"LabPBX lab running (data {data_dir}).\n"
                  f"  proxy      udp:{lab.proxy_address}  ({whose})\n"
                  f"  voicemail  udp:{lab.voicemail_address}  (number 2345678)\n"
                  f"  extensions {', '.join(config.extensions)} registered in "
                  f"{lab.startup_seconds or 0:.2f} s\n"
                  f"Place a call: labpbx --data {data_dir} call 1000 1001 "
                  f"(also: policy, hangup, status, timers).  Ctrl-C stops the lab.", flush=True)
        while not stop.wait(0.25):
            if reload.is_set():
                reload.clear()
                try:
                    message = lab.reload_script()
                except LabError as exc:
                    message = str(exc)
                with print_lock:
                    print(message, flush=True)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if control is not None:
            control.close()
        remove_state(data_dir)
        lab.stop()


def _call(args: argparse.Namespace, data_dir: Path) -> int:
    from labpbx.lab.control import request

    answer = request(data_dir, {"cmd": "call", "from": args.caller, "to": args.callee})
    if not answer.get("ok"):
        print(f"labpbx: {answer.get('error', 'the lab refused the call')}", file=sys.stderr)
        return 1
    print(f"{args.caller} is calling {args.callee} (leg {answer.get('leg')})")
    return 0


def _timers(args: argparse.Namespace, data_dir: Path) -> int:
    change = args.fr_timeout is not None or args.fr_inv_timeout is not None
    payload: dict[str, Any] = {"cmd": "timers" if change else "status"}
    if change:
        payload.update(fr_timeout=args.fr_timeout, fr_inv_timeout=args.fr_inv_timeout)

    return _ask(data_dir, payload, lambda answer: _timer_text(answer.get("status", {})))


def _ask(data_dir: Path, payload: dict[str, Any], show: Callable[[dict[str, Any]], str]) -> int:
    """Send one control request to the running lab; print ``show(answer)`` or the refusal."""
    from labpbx.lab.control import request

    answer = request(data_dir, payload)
    if not answer.get("ok"):
        print(f"labpbx: {answer.get('error', 'the lab refused')}", file=sys.stderr)
        return 1
    print(show(answer))
    return 0


def _format_status(answer: dict[str, Any]) -> str:
    status = answer.get("status", {})
    lines = [f"proxy      udp:{status.get('proxy')}",
             f"voicemail  udp:{status.get('voicemail')}",
             f"timers     {_timer_text(status)}"]
    for ext, info in sorted(status.get("extensions", {}).items()):
        policy = info.get("policy", "?")
        if policy == "answer":
            policy += f" after {info.get('ring_time', 0):g} s"
        lines.append(f"{ext}       {policy:<20} "
                     + ("registered" if info.get("registered") else "not registered"))
    return "\n".join(lines)


def _timer_text(status: dict[str, Any]) -> str:
    return (f"fr_timeout={status.get('fr_timeout')} s, "
            f"fr_inv_timeout={status.get('fr_inv_timeout')} s")
