"""The ``labpbx`` command line.

    labpbx [--data DIR] avp add|list|rm …        provisioning, like opensipsctl avp
    labpbx [--data DIR] proxy --listen … --media … --fr-timeout … --fr-inv-timeout … [--script F]
    labpbx check-script FILE                      load a routing script and report errors
    labpbx [--data DIR] doctor [--json]           check this machine for the lab, with fixes
    labpbx [--data DIR] demo [--fast] | lab … | call FROM TO | phone … | voicemail …
                                                  the lab (labpbx.cli.lab_commands)
    labpbx [--data DIR] [gui [--port N] [--screenshot FILE [--after S]] [--lang en|zh_CN]]
                                                  the window (no command = gui)

The window lives in the top-level ``ui`` package, which labpbx never imports: ``main`` is given
it (``gui=``) or finds it through the ``labpbx.gui`` entry point of the installed project.

Errors are one clear line on stderr and exit code 1 (2 for usage errors, as argparse does).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from labpbx import __version__, argtypes
from labpbx.errors import ConfigError, LabPbxError, ScriptError
from labpbx.paths import db_path, default_data_dir

GuiRunner = Callable[[argparse.Namespace, Path], int]
GUI_ENTRY_POINTS = "labpbx.gui"


def build_parser() -> argparse.ArgumentParser:
    from labpbx.cli import avp, doctor, lab_commands

    parser = argparse.ArgumentParser(
        prog="labpbx", description="LabPBX: a SIP call-forwarding lab on loopback.")
    parser.add_argument("--version", action="version", version=f"labpbx {__version__}")
    parser.add_argument("--data", type=Path, default=None,
                        help="lab data directory (default: the per-user data directory)")
    sub = parser.add_subparsers(dest="command", required=False, metavar="COMMAND")
    avp.register(sub)
    gui = sub.add_parser("gui", help="open the window and start the lab in it (the default)",
                         description="Open the LabPBX window; the default lab starts in it.")
    gui.add_argument("--port", type=argtypes.port, default=5060,
                     help="proxy UDP port on 127.0.0.1 (default 5060; 0 = any free port)")
    gui.add_argument("--fr-inv-timeout", type=argtypes.positive_seconds, default=None,
                     help="seconds a call may ring before it goes to voicemail")
    gui.add_argument("--screenshot", type=Path, default=None, metavar="FILE",
                     help="start the lab, save the window as a PNG once every extension is "
                          "registered, stop and exit (renders offscreen without a display)")
    gui.add_argument("--after", type=argtypes.positive_seconds, default=None, metavar="SECONDS",
                     help="with --screenshot: wait this long after every extension is "
                          "registered (e.g. while `labpbx call` places a call), then save")
    gui.add_argument("--lang", choices=("en", "zh_CN"), default=None,
                     help="the window's language: English or Simplified Chinese (default: the "
                          "one last chosen in its Language menu, else the system's)")
    # Internal: `labpbx doctor` starts Qt in a child this way (labpbx.doctor.probes).
    gui.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    lab_commands.register(sub)
    doctor.register(sub)

    proxy = sub.add_parser("proxy", help="run the SIP proxy in the foreground",
                           description="Run the lab's stateful SIP proxy with a routing script.")
    proxy.add_argument("--listen", type=argtypes.hostport, default=None,
                       help="UDP address to listen on (default: the script's listen=, else "
                            "127.0.0.1:5060)")
    proxy.add_argument("--media", type=argtypes.hostport, default=None,
                       help="media server (voicemail) host:port; sets MEDIA_SERVER in the script")
    proxy.add_argument("--mwi", type=argtypes.hostport, default=None,
                       help="where message-summary SUBSCRIBEs go (the voicemail box's notifier, "
                            "labpbx voicemail --mwi-listen); sets MWI_SERVER in the script")
    proxy.add_argument("--fr-timeout", type=argtypes.positive_seconds, default=None,
                       help="seconds to wait for a first reply (tm fr_timeout)")
    proxy.add_argument("--fr-inv-timeout", type=argtypes.positive_seconds, default=None,
                       help="seconds an INVITE may ring before it counts as not answered "
                            "(tm fr_inv_timeout)")
    proxy.add_argument("--script", type=Path, default=None,
                       help="routing script (default: the lab's default script)")
    proxy.add_argument("--define", action="append", default=[], metavar="NAME=VALUE",
                       help="override a #!define of the script (repeatable)")
    proxy.add_argument("--events", default=None, metavar="FILE",
                       help="also write the structured event stream as JSON lines to FILE "
                            "('-' = stdout; human-readable lines then go to stderr)")
    proxy.add_argument("--trace-sip", action="store_true",
                       help="include every SIP message in the event stream")
    proxy.add_argument("--allow-non-loopback", action="store_true",
                       help="allow sending SIP to addresses outside 127.0.0.0/8 (off by default)")
    proxy.add_argument("--overload-delay", type=argtypes.non_negative_seconds, default=None,
                       metavar="SECONDS",
                       help="overload control: a new INVITE that waited longer than this in the "
                            "receive queue is refused with 503 and Retry-After (default 0.4; "
                            "0 = never refuse)")
    proxy.add_argument("--overload-standing", type=argtypes.non_negative_seconds, default=None,
                       metavar="SECONDS",
                       help="overload control: refuse only once the oldest new INVITE has "
                            "stayed over --overload-delay this long (default 1; 0 = at once): "
                            "a burst drained sooner is served, not refused")
    proxy.add_argument("--retry-after", type=argtypes.positive_int, default=None,
                       metavar="SECONDS", help="Retry-After of those 503s (default 5)")
    proxy.add_argument("--default-gc", action="store_true",
                       help="keep CPython's default garbage-collector settings (for comparison "
                            "benchmarks; the default policy avoids long stalls under load)")

    check = sub.add_parser("check-script", help="load a routing script and report errors")
    check.add_argument("file", type=Path)
    return parser


def _run_proxy(args: argparse.Namespace, data_dir: Path) -> int:
    from dataclasses import replace

    from labpbx.proxy.overload import OverloadConfig
    from labpbx.proxy.service import ProxyOptions, run_proxy

    defines: dict[str, str] = {}
    for item in args.define:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"--define needs NAME=VALUE, got {item!r}")
        defines[name] = value
    overload = OverloadConfig()
    if args.overload_delay is not None:
        overload = replace(overload, max_delay=args.overload_delay)
    if args.overload_standing is not None:
        overload = replace(overload, standing=args.overload_standing)
    if args.retry_after is not None:
        overload = replace(overload, retry_after=args.retry_after)
    options = ProxyOptions(
        listen=args.listen, media=args.media, mwi=args.mwi, fr_timeout=args.fr_timeout,
        fr_inv_timeout=args.fr_inv_timeout, script_path=args.script,
        db_path=db_path(data_dir), defines=defines, trace_sip=args.trace_sip,
        allow_non_loopback=args.allow_non_loopback, tune_gc=not args.default_gc,
        overload=overload)
    return run_proxy(options, events_path=args.events)


def _check_script(args: argparse.Namespace) -> int:
    from labpbx.script.loader import load_script

    try:
        text = args.file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {args.file}: {exc.strerror or exc}") from exc
    script = load_script(text, str(args.file))
    routes = sum(len(v) for v in script.routes.values())
    print(f"{args.file}: OK ({routes} route blocks, modules: {', '.join(script.modules) or '-'})")
    return 0


def _find_gui() -> GuiRunner | None:
    """The window's runner from the installed project's ``labpbx.gui`` entry point."""
    from importlib.metadata import entry_points

    for entry in entry_points(group=GUI_ENTRY_POINTS):
        try:
            runner: GuiRunner = entry.load()
        except ImportError as exc:
            print(f"labpbx: the window cannot be loaded ({exc}).\n"
                  "Fix: pip install 'PySide6-Essentials>=6.8,<7' (or reinstall labpbx); "
                  "`labpbx lab` and `labpbx demo` run without it.", file=sys.stderr)
            return None
        return runner
    print("labpbx: this installation has no window (no labpbx.gui entry point).\n"
          "Fix: install labpbx with its ui package (pip install -e .), or run the lab "
          "headless with `labpbx lab` / `labpbx demo`.", file=sys.stderr)
    return None


def main(argv: Sequence[str] | None = None, *, gui: GuiRunner | None = None) -> int:
    from labpbx.cli import lab_commands

    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # parse_known_args: `phone`, `voicemail` and `lab-proxy` hand their arguments on untouched.
    args, extra = parser.parse_known_args(argv)
    if args.command is None:  # `labpbx` alone (perhaps with --data): the window
        args, extra = parser.parse_known_args([*argv, "gui"])
    if extra and args.command not in lab_commands.FORWARDING:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    data_dir: Path = args.data if args.data is not None else default_data_dir()
    try:
        if args.command == "avp":
            from labpbx.cli import avp
            from labpbx.store.db import LabStore

            data_dir.mkdir(parents=True, exist_ok=True)
            return avp.run(args, LabStore(db_path(data_dir)))
        if args.command == "proxy":
            data_dir.mkdir(parents=True, exist_ok=True)
            return _run_proxy(args, data_dir)
        if args.command in lab_commands.COMMANDS:
            return lab_commands.run(args, extra, data_dir)
        if args.command == "check-script":
            return _check_script(args)
        if args.command == "doctor":
            from labpbx.cli import doctor

            return doctor.run(args, data_dir)
        if args.command == "gui":
            runner = gui if gui is not None else _find_gui()
            return 1 if runner is None else runner(args, data_dir)
    except ScriptError as exc:
        print(f"labpbx: {exc}", file=sys.stderr)
        if exc.context:
            print(exc.context, file=sys.stderr)
        return 1
    except LabPbxError as exc:
        print(f"labpbx: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
