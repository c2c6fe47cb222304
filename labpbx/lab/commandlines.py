"""The ``labpbx`` arguments of each child, derived from a LabConfig (pure).

Rules of this module:
- Pure: values in, argument lists out (the supervisor puts the interpreter in front, see
  labpbx.lab.children.labpbx_command), so what a lab will run can be checked without running it.
- Every address is 127.0.0.1; the ports are the ones the supervisor picked.
- The proxy runs as ``lab-proxy`` (labpbx.lab.proxy_child): ``labpbx proxy`` plus the stdin
  command channel and a "ready" event. The voicemail box gets the lab's data dir, so its
  messages are indexed in the lab database (labpbx.cli.lab_commands wires the store), and the
  proxy's address, to which it sends its message-waiting NOTIFYs (RFC 3842), and the port of its
  notifier, where the proxy sends softphones' message-summary SUBSCRIBEs (the script's
  MWI_SERVER).
- The phone process holding ``LabConfig.audio_ext`` gets ``--audio`` (the user's own softphone).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from labpbx.lab.config import HOST, VOICEMAIL_NUMBER, LabConfig
from labpbx.phones.policy import Policy


def proxy_args(config: LabConfig, data_dir: Path, proxy_port: int, media_port: int,
               mwi_port: int) -> list[str]:
    args = ["--data", str(data_dir), "lab-proxy", "--listen", f"{HOST}:{proxy_port}",
            "--media", f"{HOST}:{media_port}", "--mwi", f"{HOST}:{mwi_port}"]
    if config.trace_sip:
        args.append("--trace-sip")
    if config.fr_timeout is not None:
        args += ["--fr-timeout", f"{config.fr_timeout:g}"]
    if config.fr_inv_timeout is not None:
        args += ["--fr-inv-timeout", f"{config.fr_inv_timeout:g}"]
    if config.script_path is not None:
        args += ["--script", str(config.script_path)]
    return args


def voicemail_args(config: LabConfig, data_dir: Path, media_port: int,
                   proxy_port: int, mwi_port: int) -> list[str]:
    args = ["--data", str(data_dir), "voicemail", "--json", "--listen", f"{HOST}:{media_port}",
            "--language", config.language, "--voicemail-number", VOICEMAIL_NUMBER,
            "--proxy", f"{HOST}:{proxy_port}", "--mwi-listen", f"{HOST}:{mwi_port}"]
    for flag, value in (("--max-length", config.voicemail_max_length),
                        ("--silence", config.voicemail_silence),
                        ("--min-length", config.voicemail_min_length)):
        if value is not None:
            args += [flag, f"{value:g}"]
    return args


def phone_args(name: str, exts: Sequence[str], policies: Mapping[str, tuple[Policy, float]],
               proxy_port: int, voice: Path | None = None, audio: bool = False) -> list[str]:
    args = ["phone", "--proxy", f"{HOST}:{proxy_port}", "--json", "--name", name]
    for ext in exts:
        policy, ring = policies[ext]
        args += ["--ext", ext, "--policy", f"{ext}={policy.value}:{ring:g}"]
    if voice is not None:
        args += ["--voice", str(voice)]
    if audio:
        args.append("--audio")
    return args
