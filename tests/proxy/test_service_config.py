"""How the proxy's settings come together: script globals, modparams, then the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from labpbx.proxy.config import ProxyConfig
from labpbx.proxy.engine import Proxy
from labpbx.proxy.service import ProxyOptions, build_config
from labpbx.script.loader import load_script

SCRIPT = """
listen=udp:127.0.0.1:5099
alias=lab.example
modparam("tm", "fr_inv_timeout", 10)
route { exit; }
"""


def test_script_listen_alias_and_timers(tmp_path: Path) -> None:
    config = build_config(ProxyOptions(), load_script(SCRIPT))
    assert config.listen == ("127.0.0.1", 5099)
    assert config.alias_names == (("lab.example", None),)
    assert config.fr_inv_timeout == 10


def test_command_line_wins(tmp_path: Path) -> None:
    options = ProxyOptions(listen=("127.0.0.1", 15060), fr_inv_timeout=3)
    config = build_config(options, load_script(SCRIPT))
    assert config.listen == ("127.0.0.1", 15060)
    assert config.fr_inv_timeout == 3


def test_default_listen_without_script_listen() -> None:
    assert build_config(ProxyOptions(), load_script("route { exit; }")).listen == ("127.0.0.1", 5060)


@pytest.mark.parametrize(("value", "mine"), [
    ("sip:1001@127.0.0.1:15060", True),
    ("sip:1001@127.0.0.1", True),            # no port: any of our ports
    ("sip:1001@127.0.0.1:5060", False),      # another port on the same host
    ("sip:1001@lab.example", True),          # alias= name
    ("sip:1001@lab.example:15060", True),
    ("sip:1001@other.example", False),
    ("127.0.0.1:15060", True),
    ("127.0.0.2", False),
    ("sip:1001@[::1]:15060", False),
])
def test_myself(value: str, mine: bool) -> None:
    config = ProxyConfig(listen=("127.0.0.1", 15060), alias_names=(("lab.example", None),))
    proxy = Proxy(config, load_script("route { exit; }"))
    assert proxy.is_myself(value) is mine
