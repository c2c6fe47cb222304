"""One lab component as a child process: its command line, its pipes, its stop sequence.

Rules of this module:
- Each child runs in its own process group (POSIX session / Windows process group), so a Ctrl-C
  in the terminal reaches the supervisor only, and the supervisor stops the children in order.
- stdin is a pipe held only by the supervisor (subprocess closes every other descriptor in the
  child, and Python's pipes are not inheritable). When the supervisor dies, however it dies
  (SIGKILL included), the kernel closes that pipe and every child sees EOF on stdin and shuts
  down in order: the phones and the voicemail box by design (their process modules), the proxy
  through the lab's wrapper (labpbx.lab.proxy_child). We chose this over prctl(PR_SET_PDEATHSIG)
  because it is portable, lets the child shut down cleanly (un-REGISTER, WAV files closed), and
  because PDEATHSIG fires when the *thread* that forked exits (children are restarted from the
  supervisor's dispatcher thread) and needs a preexec_fn, which is unsafe in a threaded parent.
- stdout carries JSON events (labpbx.events). A reader thread parses each line and hands the
  event to ``on_event``; a line that is not JSON (pjlib's start-up banner on a platform where it
  cannot be diverted) is kept in ``noise`` and otherwise ignored; a JSON line that is not a known
  event becomes a ProblemEvent. stderr is drained by a second thread into a short tail that
  error messages quote (a child's traceback explains a failed start).
- Every child runs with Python's faulthandler on (PYTHONFAULTHANDLER): a crash in native code
  prints the Python stack of every thread to stderr, which the tail keeps for the exit report
  (``describe_exit`` names the signal).
- When stdout ends, the reader reaps the process and calls ``on_exit`` once. Callbacks run on the
  reader thread: they must not block (the supervisor only queues them).
- ``stop()`` escalates: EOF on stdin (every component's orderly stop) → wait → SIGTERM to the
  group → wait → SIGKILL to the group. Only this child's own group is signalled, by its PID.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from labpbx.events import Event, ProblemEvent, event_from_dict
from labpbx.frozen import child_creationflags, is_frozen, self_command

STDERR_TAIL = 40
NOISE_TAIL = 20

EventCallback = Callable[["ChildProcess", Event], None]
ExitCallback = Callable[["ChildProcess"], None]


def labpbx_command(*args: str) -> list[str]:
    """The command line that runs ``labpbx <args>`` with this interpreter or frozen bundle
    (labpbx.frozen decides which)."""
    return self_command(*args)


def child_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The children's environment: unbuffered Python, and the source tree on the path so that a
    lab run from a checkout (not installed) starts the same code."""
    env = dict(os.environ if base is None else base)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONFAULTHANDLER"] = "1"  # a native crash leaves the Python stacks in the stderr tail
    if not is_frozen():
        root = str(Path(__file__).resolve().parents[2])
        parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if root not in parts:
            env["PYTHONPATH"] = os.pathsep.join([root, *parts])
    return env


def describe_exit(code: int | None) -> str:
    """How a child ended, for people: "exit code 2", "killed by signal SIGSEGV (11)"."""
    if code is None:
        return "still running"
    if code >= 0:
        return f"exit code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = "an unknown signal"
    return f"killed by signal {name} ({-code})"


def exit_signal(code: int | None) -> str:
    """The signal's name when the child died of one ("SIGSEGV"), else ""."""
    if code is None or code >= 0:
        return ""
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


class ChildGone(Exception):
    """The child's stdin is closed: it has exited or is exiting."""


# Linux's F_SETPIPE_SZ (fcntl.F_SETPIPE_SZ from Python 3.10, absent on other systems).
F_SETPIPE_SZ = 1031
EVENT_PIPE_BYTES = 1 << 20  # /proc/sys/fs/pipe-max-size's default: allowed without privileges


def widen_pipe(stream: IO[bytes] | None) -> None:
    """Give a child's event pipe 1 MiB instead of 64 KiB. A child writes its events to this pipe
    from its own event loop (the proxy: once per loop iteration); when our reader thread is
    slow for a moment — the GIL held by a busy window — a full pipe would block the child's
    loop and with it its SIP. 1 MiB holds ~3,000 events, about 0.7 s of 200 calls/s traced."""
    if stream is None or not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, ValueError):
        import fcntl

        fcntl.fcntl(stream.fileno(), getattr(fcntl, "F_SETPIPE_SZ", F_SETPIPE_SZ), EVENT_PIPE_BYTES)


class ChildProcess:
    """A started component. ``generation`` counts restarts of the same component name."""

    def __init__(self, name: str, argv: Sequence[str], *, on_event: EventCallback,
                 on_exit: ExitCallback, env: Mapping[str, str] | None = None,
                 generation: int = 1) -> None:
        self.name = name
        self.argv = list(argv)
        self.generation = generation
        self.started_at = time.monotonic()
        self.stopping = False  # set by the supervisor before an intended stop: no restart
        self.signalled: int | None = None  # the signal we sent ourselves (escalation), if any
        self.noise: collections.deque[str] = collections.deque(maxlen=NOISE_TAIL)
        self._stderr: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL)
        self._on_event = on_event
        self._on_exit = on_exit
        self._write_lock = threading.Lock()
        kwargs: dict[str, Any] = {}
        if sys.platform == "win32":
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | child_creationflags()
        else:
            kwargs["start_new_session"] = True
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=dict(env) if env is not None else child_environment(), **kwargs)
        self.pid = self.proc.pid
        widen_pipe(self.proc.stdout)
        self._readers = [
            threading.Thread(target=self._read_stdout, name=f"{name}-stdout", daemon=True),
            threading.Thread(target=self._read_stderr, name=f"{name}-stderr", daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def __repr__(self) -> str:
        return f"<ChildProcess {self.name} pid={self.pid} gen={self.generation}>"

    # --- I/O ------------------------------------------------------------------------------------

    def send(self, payload: Mapping[str, Any]) -> None:
        """Write one JSON command line to the child's stdin; ChildGone when it cannot."""
        data = (json.dumps(dict(payload), separators=(",", ":")) + "\n").encode("utf-8")
        with self._write_lock:
            stdin = self.proc.stdin
            if stdin is None or stdin.closed:
                raise ChildGone(self.name)
            try:
                stdin.write(data)
                stdin.flush()
            except (OSError, ValueError):
                raise ChildGone(self.name) from None

    def stderr_tail(self, lines: int = 12) -> str:
        return "\n".join(list(self._stderr)[-lines:])

    @property
    def abnormal_exit(self) -> bool:
        """Ended with a non-zero status or a signal that the supervisor did not send."""
        code = self.proc.poll()
        if code is None or code == 0:
            return False
        return not (self.signalled is not None and code == -self.signalled)

    def _read_stdout(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        try:
            for raw in stream:
                self._line(raw.decode("utf-8", "replace").strip())
        except (OSError, ValueError):
            pass
        finally:
            self._reap()

    def _line(self, line: str) -> None:
        if not line:
            return
        if not line.startswith("{"):
            self.noise.append(line)
            return
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError("not an object")
            event = event_from_dict(data)
        except (ValueError, TypeError) as exc:
            event = ProblemEvent(time.time(), self.name, "warning",
                                 f"unreadable event line from {self.name}: {exc}", line[:500])
        self._on_event(self, event)

    def _read_stderr(self) -> None:
        stream = self.proc.stderr
        assert stream is not None
        with contextlib.suppress(OSError, ValueError):
            for raw in stream:
                text = raw.decode("utf-8", "replace").rstrip()
                if text:
                    self._stderr.append(text)

    def _reap(self) -> None:
        # stdout ended: the child is exiting. Wait for it (it cannot linger long without its
        # event channel; escalate if it does) so no zombie stays, then report once.
        try:
            self.proc.wait(5.0)
        except subprocess.TimeoutExpired:
            self.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5.0)
        self._readers[1].join(2.0)  # the stderr tail is complete for the exit report
        self._on_exit(self)

    # --- life -----------------------------------------------------------------------------------

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def close_stdin(self) -> None:
        with self._write_lock:
            stdin = self.proc.stdin
            if stdin is not None and not stdin.closed:
                with contextlib.suppress(OSError, ValueError):
                    stdin.close()

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(getattr(signal, "SIGKILL", signal.SIGTERM))

    def _signal(self, signum: int) -> None:
        if self.proc.poll() is not None:
            return
        self.signalled = signum
        if sys.platform == "win32":
            with contextlib.suppress(OSError):
                if signum == signal.SIGTERM:
                    self.proc.terminate()
                else:
                    self.proc.kill()
            return
        # The child leads its own session, so its group id is its PID: signal that group only.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    def begin_stop(self) -> None:
        """Ask for an orderly stop (EOF on stdin) without waiting."""
        self.stopping = True
        self.close_stdin()

    def finish_stop(self, deadline: float) -> int | None:
        """Wait until ``deadline`` (monotonic) for the exit, then escalate; returns the code."""
        remaining = max(0.05, deadline - time.monotonic())
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.proc.wait(remaining)
        self.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.proc.wait(2.0)
        self.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.proc.wait(2.0)
        return None

    def stop(self, grace: float = 3.0) -> int | None:
        self.begin_stop()
        return self.finish_stop(time.monotonic() + grace)

    def join(self, timeout: float = 3.0) -> None:
        """Wait for the reader threads (after the process ended) and close the pipes."""
        for reader in self._readers:
            if reader is not threading.current_thread():
                reader.join(timeout)
        for stream in (self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(OSError, ValueError):
                if stream is not None:
                    stream.close()
        self.close_stdin()
