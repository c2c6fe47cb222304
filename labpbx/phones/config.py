"""A phone process's configuration: which extensions, where the proxy is, which ports (pure).

Rules of this module:
- No pjsua2: the limits of the wheel (PJSUA2.md) are checked here, before any Endpoint exists,
  so a bad configuration is a ConfigError with a clear message instead of an aborted process.
- Loopback only: the phone binds 127.0.0.1 and its proxy must be a 127.x address.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from labpbx.errors import ConfigError
from labpbx.phones.commands import check_ext, is_loopback
from labpbx.phones.policy import MAX_CALL_LEGS, Policy

BIND_HOST = "127.0.0.1"
# The wheel aborts on the 9th account (PJSUA2.md); the lab plans 1-2 extensions per process.
MAX_EXTENSIONS = 8
# Ports scanned from --rtp-port: 4 legs × (RTP + RTCP) = 8, plus room for ports still held by
# other programs or by legs closed < 500 ms ago. Give processes bases at least this far apart.
RTP_PORT_RANGE = 40


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """Everything a PhoneAgent needs; ``validate()`` raises ConfigError on bad values."""

    proxy_host: str
    proxy_port: int
    exts: Sequence[str]
    sip_port: int = 0
    rtp_port: int = 0  # 0: the OS picks each RTP/RTCP pair, so processes never collide
    policies: Mapping[str, tuple[Policy, float]] = field(default_factory=dict)
    capacity: int = MAX_CALL_LEGS
    voice_wav: Path | None = None
    local_audio: bool = False
    component: str = ""
    pj_log_level: int = 1

    @property
    def proxy(self) -> str:
        return f"{self.proxy_host}:{self.proxy_port}"

    def validate(self) -> None:
        if not self.exts:
            raise ConfigError("a phone needs at least one extension")
        if len(self.exts) > MAX_EXTENSIONS:
            raise ConfigError(f"{len(self.exts)} extensions in one phone process; pjsua2 allows at"
                              f" most {MAX_EXTENSIONS} (the lab runs 1-2 per process)")
        if len(set(self.exts)) != len(self.exts):
            raise ConfigError(f"duplicate extension in {list(self.exts)}")
        for ext in self.exts:
            check_ext(ext)
        unknown = set(self.policies) - set(self.exts)
        if unknown:
            raise ConfigError(f"policy for an extension this phone does not have:"
                              f" {sorted(unknown)}")
        if not is_loopback(self.proxy_host):
            raise ConfigError(f"proxy host {self.proxy_host!r} is not a 127.x address")
        for name, port in (("proxy", self.proxy_port), ("SIP", self.sip_port),
                           ("RTP", self.rtp_port)):
            if not 0 <= port <= 65535 or (name == "proxy" and port == 0):
                raise ConfigError(f"{name} port {port} is out of range")
        if self.rtp_port and self.rtp_port + RTP_PORT_RANGE > 65536:
            raise ConfigError(f"RTP port {self.rtp_port} leaves no room for {RTP_PORT_RANGE} ports")
        if not 1 <= self.capacity <= MAX_CALL_LEGS:
            raise ConfigError(f"capacity must be 1..{MAX_CALL_LEGS} call legs")
        if not 0 <= self.pj_log_level <= 6:
            raise ConfigError("pjsua2 log level must be 0..6")


