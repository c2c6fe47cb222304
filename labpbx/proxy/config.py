"""Proxy settings: defaults as in OpenSIPS 2.4, then the script's modparams, then command-line overrides.

Units are seconds, as in OpenSIPS (Kamailio uses milliseconds). Defaults (SEMANTICS.md §2.2):
fr_timeout 30, fr_inv_timeout 120, restart_fr_on_each_reply 1, auto_100trying 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from labpbx.errors import ConfigError
from labpbx.proxy.overload import OverloadConfig

Addr = tuple[str, int]


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    listen: Addr = ("127.0.0.1", 5060)
    aliases: tuple[Addr, ...] = ()
    # script `alias=` names (lower-case host, port or None = any port) that `myself` also matches
    alias_names: tuple[tuple[str, int | None], ...] = ()
    fr_timeout: float = 30.0
    fr_inv_timeout: float = 120.0
    restart_fr_on_each_reply: bool = True
    auto_100trying: bool = True
    use_domain: bool = False  # avpops/usrloc: match on username only unless set
    default_expires: int = 3600
    min_expires: int = 60
    max_expires: int = 0  # 0 = no maximum
    max_contacts: int = 0  # 0 = unlimited
    log_level: int = 3  # OpenSIPS L_INFO: xlog(L_DBG, …) is not printed
    # Safety: the lab never sends to anything but loopback unless the user opts in explicitly.
    allow_non_loopback: bool = False
    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    # new INVITEs that waited longer than this in the receive queue get 503 (labpbx.proxy.overload)
    overload: OverloadConfig = field(default_factory=OverloadConfig)
    extra: Mapping[str, object] = field(default_factory=dict)

    def with_modparams(self, modparams: Mapping[tuple[str, str], object]) -> ProxyConfig:
        """Apply the script's modparam() values that the lab implements."""
        changes: dict[str, object] = {}
        mapping = {
            ("tm", "fr_timeout"): ("fr_timeout", float),
            ("tm", "fr_inv_timeout"): ("fr_inv_timeout", float),
            ("tm", "restart_fr_on_each_reply"): ("restart_fr_on_each_reply", bool),
            ("tm", "auto_100trying"): ("auto_100trying", bool),
            ("avpops", "use_domain"): ("use_domain", bool),
            ("registrar", "default_expires"): ("default_expires", int),
            ("registrar", "min_expires"): ("min_expires", int),
            ("registrar", "max_expires"): ("max_expires", int),
            ("registrar", "max_contacts"): ("max_contacts", int),
        }
        for key, (attr, conv) in mapping.items():
            if key in modparams:
                raw = modparams[key]
                try:
                    changes[attr] = conv(int(str(raw)))
                except ValueError as exc:
                    raise ConfigError(f"modparam{key}: {raw!r} is not an integer") from exc
        if ("tm", "T1_timer") in modparams:
            changes["t1"] = int(str(modparams[("tm", "T1_timer")])) / 1000.0
        if ("tm", "T2_timer") in modparams:
            changes["t2"] = int(str(modparams[("tm", "T2_timer")])) / 1000.0
        return replace(self, **changes)  # type: ignore[arg-type]


def parse_hostport(text: str, default_port: int = 5060) -> Addr:
    """'127.0.0.1:15060' → ('127.0.0.1', 15060); accepts 'udp:' prefixes and a bare host."""
    value = text.strip()
    if value.lower().startswith(("udp:", "tcp:")):
        value = value[4:]
    if value.lower().startswith("sip:"):
        value = value[4:]
    if value.startswith("["):  # [IPv6]:port
        host, _, rest = value[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
    else:  # a bare host, or a bare IPv6 address
        host, port_text = value, ""
    if not host:
        raise ConfigError(f"no host in {text!r}")
    try:
        port = int(port_text) if port_text else default_port
    except ValueError as exc:
        raise ConfigError(f"bad port in {text!r}") from exc
    if not 0 < port < 65536:
        raise ConfigError(f"port out of range in {text!r}")
    if host == "localhost":
        host = "127.0.0.1"
    return host, port
