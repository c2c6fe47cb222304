"""What each child of a lab runs (pure): loopback addresses, timers, policies, data dir."""

from __future__ import annotations

from pathlib import Path

from labpbx.lab.commandlines import phone_args, proxy_args, voicemail_args
from labpbx.lab.config import LabConfig
from labpbx.phones.policy import Policy

DATA = Path("/data/lab")


def test_proxy() -> None:
    config = LabConfig(fr_inv_timeout=2.5, script_path=Path("/s/routing.cfg"))
    assert proxy_args(config, DATA, 5060, 15070, 15071) == [
        "--data", "/data/lab", "lab-proxy", "--listen", "127.0.0.1:5060",
        "--media", "127.0.0.1:15070", "--mwi", "127.0.0.1:15071", "--trace-sip", "--fr-inv-timeout", "2.5",
        "--script", "/s/routing.cfg"]
    assert "--trace-sip" not in proxy_args(LabConfig(trace_sip=False), DATA, 1, 2, 3)


def test_voicemail() -> None:
    config = LabConfig(language="zh", voicemail_max_length=1.5, voicemail_silence=0)
    assert voicemail_args(config, DATA, 15070, 5060, 15071) == [
        "--data", "/data/lab", "voicemail", "--json", "--listen", "127.0.0.1:15070",
        "--language", "zh", "--voicemail-number", "2345678", "--proxy", "127.0.0.1:5060",
        "--mwi-listen", "127.0.0.1:15071",
        "--max-length", "1.5", "--silence", "0"]


def test_phone() -> None:
    policies = {"1000": (Policy.OFFLINE, 3.0), "1001": (Policy.BUSY, 0.0)}
    assert phone_args("phone-1000-1001", ("1000", "1001"), policies, 5060) == [
        "phone", "--proxy", "127.0.0.1:5060", "--json", "--name", "phone-1000-1001",
        "--ext", "1000", "--policy", "1000=offline:3", "--ext", "1001", "--policy",
        "1001=busy:0"]


def test_only_the_audio_extensions_phone_gets_local_audio() -> None:
    config = LabConfig(audio_ext="1000")
    assert [config.has_audio(group) for group in config.phone_groups()] == [True, False, False]
    assert not any(LabConfig().has_audio(group) for group in LabConfig().phone_groups())
    policies = {"1000": (Policy.ANSWER, 3.0)}
    assert phone_args("phone-1000", ("1000",), policies, 5060, audio=True)[-1] == "--audio"
    assert "--audio" not in phone_args("phone-1000", ("1000",), policies, 5060)
