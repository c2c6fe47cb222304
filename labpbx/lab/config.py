"""What a lab is made of: extensions, how they are grouped into phone processes, ports, timers.

Rules of this module:
- Pure: no sockets, threads or processes. ``LabConfig`` is a frozen value; the supervisor derives
  every child's command line from it (``labpbx.lab.supervisor``), so a test can check the plan
  without starting anything.
- pjsua2-python allows 4 call legs per process (PJSUA2.md): two extensions per phone process by
  default, so each extension keeps room for one call in and one call out at the same time.
- Network: everything binds 127.0.0.1. Port 0 means "the supervisor picks a free loopback port".
"""

from __future__ import annotations

import collections
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from labpbx.errors import ConfigError, LabPbxError
from labpbx.phones.commands import check_ext
from labpbx.phones.config import MAX_EXTENSIONS
from labpbx.phones.policy import DEFAULT_RING_TIME, Policy, check_ring_time

HOST = "127.0.0.1"
DEFAULT_EXTENSIONS = ("1000", "1001", "1002", "1003", "1004")
DEFAULT_EXTS_PER_PHONE = 2
VOICEMAIL_NUMBER = "2345678"  # the tutorial's media-server number (assets/scripts/default.cfg)
LANGUAGES = ("en", "zh")


class LabError(LabPbxError):
    """The lab cannot do what was asked: a component failed to start, a command was refused, …

    ``component`` names the child the error is about ("proxy", "voicemail", "phone-1000-1001",
    "store", "lab") so a caller can point at it.
    """

    def __init__(self, message: str, component: str = "lab") -> None:
        super().__init__(message)
        self.component = component


class LabTimeout(LabError, TimeoutError):
    """Waiting for an event (or for a component to be ready) took longer than allowed."""


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """A child that exits unexpectedly is started again, at most ``max_restarts`` times within
    ``window`` seconds; after that it stays down and the stream says so (a crash loop must not
    spin the machine)."""

    max_restarts: int = 3
    window: float = 60.0


class RestartBudget:
    """Counts restarts per component within the policy's window (``now`` is passed in)."""

    def __init__(self, policy: RestartPolicy) -> None:
        self.policy = policy
        self._times: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque)

    def take(self, name: str, now: float) -> int | None:
        """Use one restart of ``name``: how many it has had in the window, including this one,
        or None when the budget is spent (do not restart)."""
        times = self._times[name]
        while times and now - times[0] > self.policy.window:
            times.popleft()
        if len(times) >= self.policy.max_restarts:
            return None
        times.append(now)
        return len(times)


@dataclass(frozen=True, slots=True)
class LabConfig:
    """A lab: extensions 1000–1004 in phone processes of two, a proxy and a voicemail box.

    ``proxy_port``/``media_port`` 0 = pick free loopback ports. ``fr_timeout``/``fr_inv_timeout``
    None = the script's modparam values. ``data_dir`` None = the per-user data dir
    (labpbx.paths). ``policies`` sets the start policy of an extension (default answer after
    3 s). ``voicemail_*`` None = the box's defaults (60 s max, 5 s silence, 0.5 s min).
    ``audio_ext`` is the extension that is the user's own softphone: the phone process holding it
    bridges its calls to the local microphone and speaker (``labpbx phone --audio``; without a
    sound card it says why in the event stream and carries on silent). None = no local audio.
    ``external_proxy``: start no proxy; the phones register with, and the voicemail box sends
    its NOTIFYs to, the SIP server already listening on 127.0.0.1:``proxy_port`` (a real OpenSIPS
    or Kamailio running the tutorial's script, whose media server is 127.0.0.1:``media_port``).
    """

    extensions: tuple[str, ...] = DEFAULT_EXTENSIONS
    exts_per_phone: int = DEFAULT_EXTS_PER_PHONE
    proxy_port: int = 0
    media_port: int = 0
    fr_timeout: float | None = None
    fr_inv_timeout: float | None = None
    data_dir: Path | None = None
    script_path: Path | None = None
    language: str = "en"
    policies: Mapping[str, tuple[Policy, float]] = field(default_factory=dict)
    voicemail_max_length: float | None = None
    voicemail_silence: float | None = None
    voicemail_min_length: float | None = None
    trace_sip: bool = True
    voice_wav: Path | None = None
    restart: RestartPolicy = RestartPolicy()
    audio_ext: str | None = None
    external_proxy: bool = False

    def validate(self) -> None:
        """ConfigError naming the bad value; called by ``Lab.__init__``."""
        if not self.extensions:
            raise ConfigError("a lab needs at least one extension")
        for ext in self.extensions:
            check_ext(ext)
        if len(set(self.extensions)) != len(self.extensions):
            raise ConfigError(f"duplicate extension in {list(self.extensions)}")
        if VOICEMAIL_NUMBER in self.extensions:
            raise ConfigError(f"{VOICEMAIL_NUMBER} is the voicemail number, not an extension")
        if not 1 <= self.exts_per_phone <= MAX_EXTENSIONS:
            raise ConfigError(f"extensions per phone process must be 1..{MAX_EXTENSIONS}")
        for name, port in (("proxy", self.proxy_port), ("media", self.media_port)):
            if not 0 <= port <= 65535:
                raise ConfigError(f"{name} port {port} is out of range")
        if self.proxy_port and self.proxy_port == self.media_port:
            raise ConfigError("the proxy and the voicemail box need different ports")
        if self.external_proxy and not self.proxy_port:
            raise ConfigError("an external proxy needs its port (proxy_port; labpbx lab --port N)")
        for name, value in (("fr_timeout", self.fr_timeout),
                            ("fr_inv_timeout", self.fr_inv_timeout),
                            ("voicemail max length", self.voicemail_max_length)):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be more than 0 seconds, not {value!r}")
        for name, value in (("voicemail silence", self.voicemail_silence),
                            ("voicemail min length", self.voicemail_min_length)):
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"{name} must not be negative, not {value!r}")
        if self.language not in LANGUAGES:
            raise ConfigError(f"language must be one of {', '.join(LANGUAGES)}")
        unknown = set(self.policies) - set(self.extensions)
        if unknown:
            raise ConfigError(f"policy for an extension the lab does not have: {sorted(unknown)}")
        for _policy, ring in self.policies.values():
            check_ring_time(ring)
        if self.audio_ext is not None and self.audio_ext not in self.extensions:
            raise ConfigError(f"audio extension {self.audio_ext!r} is not an extension of the lab")

    def has_audio(self, exts: Sequence[str]) -> bool:
        """Whether the phone process holding ``exts`` gets the local sound (``audio_ext``)."""
        return self.audio_ext is not None and self.audio_ext in exts

    def policy_of(self, ext: str) -> tuple[Policy, float]:
        """The start policy of ``ext`` (answer after 3 s unless ``policies`` says otherwise)."""
        return self.policies.get(ext, (Policy.ANSWER, DEFAULT_RING_TIME))

    def phone_groups(self) -> list[tuple[str, ...]]:
        """The extensions of each phone process, in order: (1000, 1001), (1002, 1003), (1004,)."""
        return group_extensions(self.extensions, self.exts_per_phone)


def group_extensions(exts: Sequence[str], per_process: int) -> list[tuple[str, ...]]:
    """Split ``exts`` into consecutive groups of ``per_process`` (the last may be shorter)."""
    if per_process < 1:
        raise ConfigError("extensions per phone process must be at least 1")
    return [tuple(exts[i:i + per_process]) for i in range(0, len(exts), per_process)]


def phone_name(exts: Sequence[str]) -> str:
    """The component name of the phone process holding ``exts`` ("phone-1000-1001")."""
    return "phone-" + "-".join(exts)


def parse_extensions(text: str) -> tuple[str, ...]:
    """``"1000-1004"`` or ``"1000,1001,1005"`` (or a mix) → the extensions, in order.

    A range needs two numbers of the same width (so 0990-0999 keeps its leading zero).
    """
    exts: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        first, dash, last = part.partition("-")
        if dash and first.isdigit() and last.isdigit() and len(first) == len(last):
            lo, hi = int(first), int(last)
            if hi < lo or hi - lo > 63:
                raise ConfigError(f"extension range {part!r} must go up, by at most 64")
            exts.extend(str(n).zfill(len(first)) for n in range(lo, hi + 1))
        else:
            exts.append(check_ext(part))
    if not exts:
        raise ConfigError(f"no extensions in {text!r}")
    return tuple(exts)
