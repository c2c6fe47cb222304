"""The lab supervisor: starts the proxy, the voicemail box and the phones as child processes,
merges their event streams, forwards commands, restarts what dies, and stops everything.

Process model (threads, not asyncio — why: the API is called from a Qt GUI thread, from the CLI and
from tests, all synchronous; blocking pipe reads are simplest as one reader thread per pipe and
work the same on Windows; there is no event loop whose ownership a caller would have to share):
- Per child: a stdout reader thread (JSON events) and a stderr drain thread (labpbx.lab.children).
- One dispatcher thread owns the lab's state: it takes the children's events and exits from one
  queue, in arrival order, updates the registration plan (labpbx.lab.registrations), restarts
  dead children, writes commands the plan asks for, records the event in the history and calls
  the subscribers. Subscribers therefore run on the dispatcher thread, one event at a time, and
  must not block; ``wait_for`` refuses to run there (it would wait for itself). Publishing also
  folds the event into the lab state (labpbx.lab.state), so ``snapshot()`` costs nothing; a
  subscriber that joins ``after`` a position gets its replay on its own thread first.
- Answers to the lab's own commands (ack/error with an id it made) settle their futures on the
  reader thread and never enter the stream; a refused command leaves a ProblemEvent instead.
  Command timeouts of ``*_async`` commands are deadlines of the dispatcher, like the plan's.
- A command (call, policy, answer, …) is written to the child's stdin by the calling thread,
  which then waits for the child's ack, matched by id on the *reader* thread — so a subscriber
  may place a call from inside its callback without deadlock. The ``*_async`` commands do not
  wait: they return the Future the ack settles (labpbx.lab.acks).
- One writer thread keeps the call history (``calls`` table) so a slow disk never stalls events.

Rules:
- ``start()`` spawns every child at once (nothing waits for another: phones start "offline"
  until the proxy listens, see registrations.py) and returns when every extension is
  registered; on failure it stops what it started and raises LabError naming the component.
- A child that exits while the lab runs is restarted (``RestartPolicy``: 3 per minute) with a
  ComponentEvent(status="restarted"); phones re-register; a restarted proxy gets every
  extension re-registered. Beyond the budget: ComponentEvent(status="failed") and it stays down.
  Every exit that is not an orderly one (a non-zero status, or a signal the supervisor did not
  send, also during ``stop()``) is published as ComponentEvent(status="exited") whose extra holds
  ``code``, ``signal`` ("SIGSEGV") and ``stderr`` (the last lines: faulthandler's stacks), plus a
  ProblemEvent, so a crash is never silent.
- ``stop()`` (also ``__exit__``) gives every child EOF on stdin, waits, escalates to
  SIGTERM/SIGKILL of that child's own process group, reaps it and joins every thread: no
  process, socket or thread outlives it. If the supervisor itself dies, the children see EOF.
- ``LabConfig.external_proxy``: no proxy is started; the phones and the box use the SIP server
  already on 127.0.0.1:proxy_port, and the commands that belong to the lab's own proxy (script
  reload, timers, restart) are refused.
- Network: every address is 127.0.0.1; port 0 in the config = a free loopback port.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

from labpbx.errors import LabPbxError, StoreError
from labpbx.events import (
    CallStateEvent,
    ComponentEvent,
    Event,
    PolicyEvent,
    ProblemEvent,
    RegistrationEvent,
    SipMessageEvent,
)
from labpbx.lab.acks import Acks
from labpbx.lab.children import (
    ChildGone,
    ChildProcess,
    child_environment,
    describe_exit,
    exit_signal,
    labpbx_command,
)
from labpbx.lab.commandlines import phone_args, proxy_args, voicemail_args
from labpbx.lab.commands import LabCommands, then
from labpbx.lab.config import (
    HOST,
    LabConfig,
    LabError,
    LabTimeout,
    RestartBudget,
    phone_name,
)
from labpbx.lab.dispatcher import Dispatcher
from labpbx.lab.history import FINISH_DELAY, CallHistory
from labpbx.lab.registrations import Registrations, SendPolicy
from labpbx.lab.script_commands import ScriptCommands, ScriptFiles
from labpbx.lab.state import initial_state
from labpbx.lab.stream import Callback, EventStream, NumberedCallback, Predicate, Snapshot
from labpbx.paths import db_path, default_data_dir
from labpbx.phones.policy import Policy
from labpbx.store.db import LabStore

COMPONENT = "lab"
PROXY = "proxy"
VOICEMAIL = "voicemail"
STOP_GRACE = 3.0
EXIT_STDERR_LINES = 40
"""How many of a dead child's last stderr lines its exit report carries (faulthandler's stack)."""


LAB_PORTS = (20000, 32767)
"""Where the lab picks its own ports: below Linux's default ephemeral range (32768-60999)."""


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_udp_port(exclude: set[int] | None = None) -> int:
    """A UDP port on 127.0.0.1 that is free now and that no ``bind(0)`` will hand out.

    The port is picked here and bound later by a child, so another program could take it in
    between. Programs that bind port 0 (pjsua's transports, sipp, test sockets: dozens on a
    busy machine) get ports from the kernel's ephemeral range; a port outside it can only be
    taken by a program that asks for that very number. So: random ports below the ephemeral
    range, checked by binding; a port 0 pick only when none is free there.
    """
    exclude = exclude or set()
    low, high = LAB_PORTS
    ephemeral_low, ephemeral_high = _ephemeral_range()
    if ephemeral_low <= high and ephemeral_high >= low:  # an unusual ephemeral range: avoid it
        high = min(high, ephemeral_low - 1)
    for _ in range(50 if high > low else 0):
        port = random.randint(low, high)
        if port in exclude:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
        return port
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if port not in exclude:
            return port
    raise LabError("no free UDP port on 127.0.0.1", COMPONENT)


class Lab(LabCommands, ScriptCommands):
    """A running lab. Use as a context manager, or ``start()`` … ``stop()``.

    Thread-safe: every public method may be called from any thread. Inside a subscriber
    callback (the dispatcher thread) the commands (call, set_policy, answer, reject, hangup,
    reload_script, the ``*_async`` forms) and the queries work; wait_for, set_timers,
    restart_proxy, apply_script, revert_script and stop raise LabError there, because they wait
    for events that thread has yet to deliver (or for start/stop, which do).
    """

    def __init__(self, config: LabConfig | None = None) -> None:
        config = config or LabConfig()
        config.validate()
        self.config = config
        self.data_dir = Path(config.data_dir) if config.data_dir else default_data_dir()
        self.phones: dict[str, tuple[str, ...]] = {phone_name(g): g for g in config.phone_groups()}
        self._plan = Registrations(self.phones, {e: config.policy_of(e) for e in config.extensions})
        self._plan_lock = threading.RLock()
        self._admin = threading.Lock()  # start/stop/set_timers, one at a time
        self._lock = threading.RLock()  # children map and state, short sections only
        self._state = "new"
        self._children: dict[str, ChildProcess] = {}
        self._all_children: list[ChildProcess] = []
        self._ready: dict[str, bool] = {}  # guarded by the stream's condition
        self._failures: dict[str, str] = {}  # idem: why a component failed to start
        self._budget = RestartBudget(config.restart)
        self._stream = EventStream(COMPONENT, initial=initial_state(config.extensions))
        self._dispatcher = Dispatcher("lab-dispatcher", self._handle, self._dispatch_error,
                                      next_deadline=self._next_deadline, tick=self._tick)
        self._acks = Acks()
        self._legs: dict[str, str] = {}
        self._history = CallHistory(lambda: self.store, self._emit, COMPONENT)
        self._store: LabStore | None = None
        self._env = child_environment()
        self.proxy_port = config.proxy_port
        self.media_port = config.media_port
        self.mwi_port = 0  # the voicemail box's notifier (SUBSCRIBE/NOTIFY), picked at start
        self.startup_seconds: float | None = None
        self._timers: dict[str, float] = {}  # the running proxy's tm timers, as it reports them
        self._scripts = ScriptFiles(config.script_path)  # apply/revert (script_commands)

    # ============================================================== life cycle

    def __enter__(self) -> Lab:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._state == "running"

    @property
    def proxy_address(self) -> str:
        return f"{HOST}:{self.proxy_port}"

    @property
    def voicemail_address(self) -> str:
        return f"{HOST}:{self.media_port}"

    @property
    def store(self) -> LabStore:
        """The lab database (usr_preferences, voicemail index, call history)."""
        if self._store is None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._store = LabStore(db_path(self.data_dir))
        return self._store

    def start(self, timeout: float = 10.0) -> None:
        """Start every component and wait until every extension is registered.

        Raises LabError (``.component`` names the culprit) after stopping what was started.
        """
        with self._admin:
            if self._state != "new":
                raise LabError(f"this lab is {self._state}: a Lab starts once, create a new one")
            self._state = "starting"
            began = time.monotonic()
            try:
                self._start_threads()
                self._prepare()
                self._emit(ComponentEvent(time.time(), COMPONENT, status="starting",
                                          extra={"pid": os.getpid(),
                                                 "data": str(self.data_dir),
                                                 "extensions": list(self.config.extensions)}))
                self._announce_forwarding()
                if self.config.external_proxy:
                    # Someone else's server is listening already: phones may register at once.
                    with self._plan_lock:
                        self._plan.on_proxy_ready(time.monotonic())
                with self._lock:
                    for name in self._component_names():
                        self._spawn(name)
                try:
                    self._wait_until(self._started, timeout, self._start_missing)
                except LabTimeout as exc:
                    if not self.config.external_proxy:
                        raise
                    raise LabTimeout(f"{exc}: no answer from the SIP server at "
                                     f"{self.proxy_address} (is it running, with a registrar?)",
                                     exc.component) from exc
            except BaseException:
                self._state = "stopping"
                self._shutdown()
                raise
            self.startup_seconds = time.monotonic() - began
            self._state = "running"
            mark = self.mark()
            ready = ComponentEvent(
                time.time(), COMPONENT, status="ready", address=self.proxy_address,
                detail=f"all {len(self._plan.exts)} extensions registered in "
                       f"{self.startup_seconds:.3f} s",
                extra={"proxy": self.proxy_address, "voicemail": self.voicemail_address,
                       "pids": self.pids(), "startup_seconds": self.startup_seconds,
                       "phones": {n: list(g) for n, g in self.phones.items()}})
            self._emit(ready)
            # Subscribers have seen "ready" when start() returns: a view can rely on the order.
            self.wait_for(lambda e: e is ready, 5.0, after=mark)

    def _component_names(self) -> list[str]:
        own_proxy = [] if self.config.external_proxy else [PROXY]
        return [*own_proxy, VOICEMAIL, *self.phones]

    def _refuse_external(self, what: str) -> None:
        if self.config.external_proxy:
            raise LabError(f"{what}: the proxy at {self.proxy_address} is not the lab's own; "
                           "change its script or timers there", PROXY)

    def _refuse_in_callback(self, what: str) -> None:
        # These wait for events the dispatcher has yet to handle: on its own thread they would
        # wait for themselves.
        if threading.get_ident() == self._dispatcher.ident:
            raise LabError(f"{what} cannot run inside an event callback")

    def stop(self, timeout: float = STOP_GRACE) -> None:
        """Stop every component (orderly, then by force) and every thread. Idempotent.

        Not from inside an event callback (LabError)."""
        self._refuse_in_callback("stop()")
        with self._admin:
            if self._state in ("new", "stopped"):
                self._state = "stopped"
                return
            self._state = "stopping"
            self._shutdown(timeout)
        self._join_script_workers()  # outside the admin lock, which they wait for

    def _prepare(self) -> None:
        try:
            self.store.check()
        except (StoreError, OSError) as exc:
            raise LabError(f"the lab database in {self.data_dir} cannot be used: {exc}",
                           "store") from exc
        taken: set[int] = set()
        if not self.proxy_port:
            self.proxy_port = free_udp_port({self.media_port})
        taken.add(self.proxy_port)
        if not self.media_port:
            self.media_port = free_udp_port(taken)
        taken.add(self.media_port)
        if not self.mwi_port:
            self.mwi_port = free_udp_port(taken)

    def _start_threads(self) -> None:
        self._dispatcher.start()
        self._history.start()

    def _shutdown(self, grace: float = STOP_GRACE) -> None:
        """Stop children (phones and box first, the proxy last), then the threads."""
        self._emit(ComponentEvent(time.time(), COMPONENT, status="stopping"))
        with self._lock:
            children = dict(self._children)
        first = [c for n, c in children.items() if n != PROXY]
        for child in first:
            child.begin_stop()
        deadline = time.monotonic() + grace
        for child in first:
            child.finish_stop(deadline)
        proxy = children.get(PROXY)
        if proxy is not None:
            proxy.begin_stop()
            proxy.finish_stop(time.monotonic() + grace)
        with self._lock:
            every = list(self._all_children)
        for child in every:  # earlier generations too: each one reaped and its threads joined
            if child.alive:
                child.stop(0.5)
            child.join()
        self._acks.cancel_all()
        self._dispatcher.put(("flush", None, None))  # calls that just ended: into the history
        self._emit(ComponentEvent(time.time(), COMPONENT, status="stopped"))
        self._dispatcher.stop()
        self._history.stop()
        self._state = "stopped"

    # ============================================================== children

    def _spawn(self, name: str) -> ChildProcess:
        """Start (or restart) one component. Call with ``self._lock`` held."""
        previous = self._children.get(name)
        generation = previous.generation + 1 if previous is not None else 1
        argv = self._argv(name)
        try:
            child = ChildProcess(name, argv, on_event=self._on_child_event,
                                 on_exit=self._on_child_exit, env=self._env,
                                 generation=generation)
        except OSError as exc:
            raise LabError(f"cannot start {name}: {exc}", name) from exc
        self._children[name] = child
        self._all_children.append(child)
        self._ready[name] = False
        return child

    def _argv(self, name: str) -> list[str]:
        if name == PROXY:
            return labpbx_command(*proxy_args(self.config, self.data_dir, self.proxy_port,
                                              self.media_port, self.mwi_port))
        if name == VOICEMAIL:
            return labpbx_command(*voicemail_args(self.config, self.data_dir, self.media_port,
                                                  self.proxy_port, self.mwi_port))
        with self._plan_lock:
            policies = self._plan.spawn_policies(name)
        return labpbx_command(*phone_args(name, self.phones[name], policies, self.proxy_port,
                                          self.config.voice_wav,
                                          self.config.has_audio(self.phones[name])))

    def pids(self) -> dict[str, int]:
        """PID of every component's current process."""
        with self._lock:
            return {name: child.pid for name, child in self._children.items()}

    def all_pids(self) -> list[int]:
        """PIDs of every process this lab ever started (restarted ones included)."""
        with self._lock:
            return [child.pid for child in self._all_children]

    def child(self, name: str) -> ChildProcess:
        with self._lock:
            child = self._children.get(name)
        if child is None:
            raise LabError(f"no component named {name!r}", COMPONENT)
        return child

    # ============================================================== events in (reader threads)

    def _on_child_event(self, child: ChildProcess, event: Event) -> None:
        if isinstance(event, ComponentEvent) and event.status in ("ack", "error"):
            self._acks.resolve(event)  # here, not on the dispatcher: see labpbx.lab.acks
            if Acks.is_answer(event):
                # An answer to the lab's own command is plumbing: it settled its future above
                # and stays off the public stream; a refusal is still worth a line in the log.
                if event.status == "error":
                    self._dispatcher.put(("event", child, ProblemEvent(
                        event.time, child.name, "warning",
                        f"{child.name} refused a command: {event.detail}")))
                return
        self._dispatcher.put(("event", child, event))

    def _on_child_exit(self, child: ChildProcess) -> None:
        self._acks.child_gone(child.name)
        self._dispatcher.put(("exit", child))

    def _emit(self, event: Event) -> None:
        """Put a lab-made event into the stream (in order with the children's)."""
        self._dispatcher.put(("emit", None, event))

    # ============================================================== the dispatcher thread

    def _dispatch_error(self, exc: Exception) -> None:
        self._stream.publish(ProblemEvent(time.time(), COMPONENT, "error",
                                          f"lab supervisor error: {exc!r}",
                                          "".join(traceback.format_exception(exc))))

    def _next_deadline(self) -> float | None:
        """The registration plan's next step or the earliest command timeout."""
        with self._plan_lock:
            plan = self._plan.next_deadline()
        acks = self._acks.next_deadline()
        return min((d for d in (plan, acks) if d is not None), default=None)

    def _tick(self, now: float) -> None:
        self._acks.expire(now)  # commands submitted without a waiter time out here
        with self._plan_lock:
            due = self._plan.next_deadline()
            actions = self._plan.on_tick(now) if due is not None and due <= now else []
        self._carry_out(actions)

    def _wake(self) -> None:
        """Make the dispatcher look at its deadlines again (a command was just submitted)."""
        self._dispatcher.put(("wake", None, None))

    def _handle(self, item: tuple[str, ChildProcess | None, Any]) -> None:
        kind = item[0]
        if kind == "emit":
            self._stream.publish(item[2])
        elif kind == "event":
            child, event = item[1], item[2]
            assert child is not None
            if self._observe(child, event):
                self._stream.publish(event)
        elif kind == "flush":
            self._dispatcher.run_all_timers()
        elif kind == "exit":
            child = item[1]
            assert child is not None
            self._child_exited(child)

    def _current(self, child: ChildProcess) -> bool:
        with self._lock:
            return self._children.get(child.name) is child

    def _observe(self, child: ChildProcess, event: Event) -> bool:
        """Update the lab's state from one child event; returns whether to publish it."""
        current = self._current(child)
        now = time.monotonic()
        actions: list[SendPolicy] = []
        show = True
        if isinstance(event, ComponentEvent):
            if current and event.status == "ready":
                with self._stream.condition:
                    self._ready[child.name] = True
                with self._plan_lock:
                    if child.name == PROXY:
                        self._note_timers(event.extra)
                        actions = self._plan.on_proxy_ready(now)
                    elif child.name in self.phones:
                        actions = self._plan.on_phone_ready(child.name, now)
            elif current and event.status == "failed":
                with self._stream.condition:
                    self._failures.setdefault(child.name, event.detail or "failed")
        elif isinstance(event, RegistrationEvent) and current:
            with self._plan_lock:
                actions = self._plan.on_registration(event.ext, event.registered, now)
        elif isinstance(event, PolicyEvent) and current:
            try:
                policy = Policy.parse(event.policy)
            except LabPbxError:
                policy = None
            if policy is not None:
                with self._plan_lock:
                    show = self._plan.on_policy(event.ext, policy, event.ring_time)
        self._history.index(event)
        if isinstance(event, CallStateEvent) and event.component in self.phones:
            self._legs[event.leg] = event.component
            if event.direction == "outgoing" and event.state == "disconnected" and event.call_id:
                ended = event.call_id
                self._dispatcher.schedule(FINISH_DELAY, lambda: self._history.finish(ended))
        elif (isinstance(event, SipMessageEvent) and event.component == PROXY
              and event.direction == "out" and event.summary[:1] in "23456" and event.call_id):
            # a final reply relayed by the proxy may end a call no lab phone placed (a softphone's)
            relayed = event.call_id
            self._dispatcher.schedule(FINISH_DELAY, lambda: self._history.finish_if_over(relayed))
        self._carry_out(actions)
        return show

    def _carry_out(self, actions: list[SendPolicy]) -> None:
        for action in actions:
            with self._lock:
                child = self._children.get(action.phone)
            if child is None:
                continue
            with contextlib.suppress(ChildGone):  # its exit is on the way: the plan will redo
                child.send({"cmd": "policy", "ext": action.ext, "policy": action.policy.value,
                            "ring_time": action.ring_time, "id": self._acks.internal_id()})

    def _child_exited(self, child: ChildProcess) -> None:
        code = child.returncode
        with self._lock:
            current = self._children.get(child.name) is child
            state = self._state
        tail = child.stderr_tail(EXIT_STDERR_LINES)
        how = describe_exit(code)
        exit_extra = {"pid": child.pid, "code": code, "signal": exit_signal(code),
                      "stderr": tail}
        if child.stopping or not current:
            if child.abnormal_exit:  # an orderly stop that ended in a crash is still a crash
                message = f"{child.name} {how} while stopping"
                self._stream.publish(ComponentEvent(time.time(), child.name, status="exited",
                                                    detail=message, extra=exit_extra))
                self._stream.publish(ProblemEvent(time.time(), COMPONENT, "error", message, tail))
            return
        detail = how + (f": {tail.splitlines()[-1]}" if tail else "")
        with self._stream.condition:
            self._ready[child.name] = False
        with self._plan_lock:
            if child.name == PROXY:
                self._plan.on_proxy_down()
            elif child.name in self.phones:
                self._plan.on_phone_down(child.name)
        publish = self._stream.publish
        if state == "starting":  # a start failure, not a crash: start() reports it
            with self._stream.condition:
                self._failures.setdefault(child.name, f"exited during start ({detail})")
                self._stream.condition.notify_all()
            return
        publish(ComponentEvent(time.time(), child.name, status="exited", detail=detail,
                               extra=exit_extra))
        if child.abnormal_exit:
            publish(ProblemEvent(time.time(), COMPONENT, "error", f"{child.name} {how}", tail))
        if state != "running":
            return
        policy = self.config.restart
        count = self._budget.take(child.name, time.monotonic())
        if count is None:
            message = (f"{child.name} exited more than {policy.max_restarts} times within "
                       f"{policy.window:g} s; not restarted ({detail})")
            publish(ComponentEvent(time.time(), child.name, status="failed", detail=message))
            publish(ProblemEvent(time.time(), COMPONENT, "error", message, child.stderr_tail()))
            return
        with self._lock:
            if self._state != "running":
                return
            try:
                new = self._spawn(child.name)
            except LabError as exc:
                publish(ProblemEvent(time.time(), COMPONENT, "error", str(exc)))
                return
        publish(ComponentEvent(
            time.time(), child.name, status="restarted",
            detail=f"restarted after {detail} ({count} of {policy.max_restarts} restarts per "
                   f"{policy.window:g} s)",
            extra={"pid": new.pid, "previous_pid": child.pid, "code": code, "restarts": count}))
        child.join(0.5)

    # ============================================================== the stream

    def subscribe(self, callback: Callback, *, after: int | None = None) -> Callable[[], None]:
        """Call ``callback(event)`` for every event from now on, or after the position
        ``after`` (a ``snapshot().position`` or ``mark()``): those still in the history are
        replayed first, on the calling thread, then live ones follow on the dispatcher thread,
        one event at a time (it must not block), none missed or repeated; a GapEvent first when
        the history no longer reaches back to ``after``. Returns the unsubscriber."""
        return self._stream.subscribe(callback, after=after)

    def subscribe_numbered(self, callback: NumberedCallback, *,
                           after: int | None = None) -> Callable[[], None]:
        """Like ``subscribe``, as ``callback(seq, event)``: the stream number links a log row
        to the ladder (``snapshot().state.calls[i].events`` carry the same numbers)."""
        return self._stream.subscribe_numbered(callback, after=after)

    def snapshot(self) -> Snapshot:
        """The lab's state (labpbx.lab.state.LabState) and the stream position it belongs to,
        taken together in O(1): open a view with it, then ``subscribe(cb, after=position)``."""
        return self._stream.snapshot()

    def entries(self, after: int = 0) -> list[tuple[int, Event]]:
        """The events in the history after ``after``, with their stream numbers."""
        return self._stream.entries(after)

    def mark(self) -> int:
        """A position in the stream: pass it as ``after`` to see only later events."""
        return self._stream.mark()

    def events(self, after: int = 0) -> list[Event]:
        """The events so far (the last 20 000), or those after ``mark()``."""
        return self._stream.events(after)

    def wait_for(self, predicate: Predicate, timeout: float = 10.0, *, after: int = 0) -> Event:
        """The first event (after ``after``) for which ``predicate`` is true, waiting for it.

        Looks at events already received too, so there is no race with the action that causes
        the event. Raises LabTimeout; LabError inside an event callback.
        """
        return self._stream.wait_for(predicate, timeout, after=after,
                                     forbidden=self._dispatcher.ident)

    def _wait_until(self, done: Callable[[], bool], timeout: float,
                    missing: Callable[[], str]) -> None:
        deadline = time.monotonic() + timeout
        cond = self._stream.condition
        with cond:
            while not done():
                if self._failures:
                    name, why = next(iter(self._failures.items()))
                    raise LabError(self._failure_text(name, why), name)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LabTimeout(f"timed out after {timeout:g} s waiting for {missing()}",
                                     missing().split(" ", 1)[0])
                cond.wait(min(remaining, 0.1))

    def _failure_text(self, name: str, why: str) -> str:
        with self._lock:
            child = self._children.get(name)
        tail = child.stderr_tail() if child is not None else ""
        text = f"{name} failed to start: {why}"
        if tail and tail not in why:
            text += f"\n--- {name} stderr ---\n{tail}"
        return text

    def _started(self) -> bool:
        with self._plan_lock:
            return all(self._ready.values()) and self._plan.all_registered()

    def _start_missing(self) -> str:
        waiting = [name for name, ready in self._ready.items() if not ready]
        if waiting:
            return ", ".join(f"{name} (pid {self._children[name].pid}) to be ready"
                             for name in waiting)
        with self._plan_lock:
            exts = self._plan.unregistered()
        return ", ".join(f"{self._plan.phone_of(e)} to register {e}" for e in exts)

    # ============================================================== life cycle commands

    def reload_script(self) -> str:
        """Load the routing script file again. A script that fails to load leaves the running
        one in place: LabError with the position of the error."""
        self._refuse_external("reload the script")
        return _reloaded(self._command(PROXY, {"cmd": "reload"}))

    def reload_script_async(self) -> Future[str]:
        """``reload_script`` without waiting: the future's result is the proxy's message."""
        self._refuse_external("reload the script")
        return then(self._command_async(PROXY, {"cmd": "reload"}), _reloaded)

    def set_timers(self, fr_timeout: float | None = None, fr_inv_timeout: float | None = None,
                   timeout: float = 10.0) -> None:
        """Change the running proxy's tm timers (None = keep). Calls in progress go on; the
        new values apply to every timer armed from now on. A proxy started later (a restart
        after a crash) starts with them too."""
        cfg = self._with_timers(fr_timeout, fr_inv_timeout)
        self._refuse_external("set the timers")
        self._refuse_in_callback("set_timers()")
        with self._admin:
            if self._state != "running":
                raise LabError("the lab is not running", COMPONENT)
            # LabError when the proxy refuses (its ack says why) or does not answer
            ack = self._command(PROXY, {"cmd": "set_timers", "fr_timeout": cfg.fr_timeout,
                                        "fr_inv_timeout": cfg.fr_inv_timeout}, timeout)
            self._timers_set(ack, cfg)

    def set_timers_async(self, fr_timeout: float | None = None,
                         fr_inv_timeout: float | None = None,
                         timeout: float = 10.0) -> Future[dict[str, float]]:
        """``set_timers`` without waiting: the future's result is the timers the proxy now runs
        (``{"fr_timeout": s, "fr_inv_timeout": s}``). A bad value raises at once (ConfigError).
        Calls in progress go on: the proxy only swaps its timer settings, which every timer
        armed from then on reads (labpbx.proxy.service.set_timers); no process restarts."""
        cfg = self._with_timers(fr_timeout, fr_inv_timeout)
        self._refuse_external("set the timers")
        # No self._admin here: start() holds it for seconds and this must return at once. A
        # lab that stops meanwhile settles the future with a LabError (acks.cancel_all).
        if self._state != "running":
            raise LabError("the lab is not running", COMPONENT)
        ack = self._command_async(PROXY, {"cmd": "set_timers", "fr_timeout": cfg.fr_timeout,
                                          "fr_inv_timeout": cfg.fr_inv_timeout}, timeout)
        return then(ack, lambda answer: self._timers_set(answer, cfg))

    def _with_timers(self, fr_timeout: float | None, fr_inv_timeout: float | None) -> LabConfig:
        """The configuration with these timers (None = keep); ConfigError for a bad value."""
        cfg = replace(self.config,
                      fr_timeout=fr_timeout if fr_timeout is not None else self.config.fr_timeout,
                      fr_inv_timeout=(fr_inv_timeout if fr_inv_timeout is not None
                                      else self.config.fr_inv_timeout))
        cfg.validate()
        return cfg

    def _timers_set(self, ack: ComponentEvent, cfg: LabConfig) -> dict[str, float]:
        self._note_timers(ack.extra)
        self.config = cfg
        timers = self.timers()
        # On the stream, so every view (and the log) learns of a change made by anyone.
        self._emit(ComponentEvent(time.time(), PROXY, status="timers",
                                  detail=", ".join(f"{k}={v:g} s" for k, v in timers.items()),
                                  extra=dict(timers)))
        return timers

    def timers(self) -> dict[str, float]:
        """The running proxy's tm timers as it last reported them (empty before it is up)."""
        return dict(self._timers)

    def restart_proxy(self, timeout: float = 10.0) -> None:
        """Stop and start the proxy (e.g. after editing the script's modparams)."""
        self._refuse_external("restart the proxy")
        self._refuse_in_callback("restart_proxy()")
        with self._admin:
            if self._state != "running":
                raise LabError("the lab is not running", COMPONENT)
            self._restart_proxy("restart requested", timeout)

    def _restart_proxy(self, why: str, timeout: float) -> None:
        with self._stream.condition:
            self._failures.clear()  # only this restart's failure may end the wait below
        old = self.child(PROXY)
        old.begin_stop()  # marked stopping first: its exit is not a crash to restart
        old.finish_stop(time.monotonic() + STOP_GRACE)
        with self._stream.condition:
            self._ready[PROXY] = False
        with self._plan_lock:
            self._plan.on_proxy_down()
        with self._lock:
            new = self._spawn(PROXY)
        self._emit(ComponentEvent(time.time(), PROXY, status="restarted", detail=why,
                                  extra={"pid": new.pid, "previous_pid": old.pid,
                                         "code": old.returncode}))
        self._wait_until(self._started, timeout, self._start_missing)

    def _note_timers(self, extra: dict[str, Any]) -> None:
        for name in ("fr_timeout", "fr_inv_timeout"):
            if isinstance(extra.get(name), int | float):
                self._timers[name] = float(extra[name])

    def status(self) -> dict[str, Any]:
        """A snapshot: addresses, pids, readiness, registrations, policies."""
        with self._plan_lock:
            exts = {ext: {"phone": x.phone, "policy": x.wanted.value, "ring_time": x.ring_time,
                          "registered": x.registered} for ext, x in self._plan.exts.items()}
        with self._stream.condition:
            ready = dict(self._ready)
        return {"state": self._state, "proxy": self.proxy_address,
                "voicemail": self.voicemail_address, "pids": self.pids(), "ready": ready,
                "extensions": exts, "data": str(self.data_dir),
                "startup_seconds": self.startup_seconds, **self._timers}


def _reloaded(ack: ComponentEvent) -> str:
    """The proxy's answer to "reload": its message, or LabError when the script did not load."""
    message = str(ack.extra.get("message", ack.detail))
    if not ack.extra.get("reloaded"):
        raise LabError(message, PROXY)
    return message
