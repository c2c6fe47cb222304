"""From what the probes found to the report's checks, each with its fix (pure).

Rules of this module:
- Input: the probe results (``Facts``: plain values, see labpbx.doctor.probes for how they are
  found). Output: one ``Check`` per concern, in a fixed order: versions, pjsua2, PortAudio and
  audio devices, display/Qt, ports, data directory.
- A fix names a command or a setting the user can act on, per platform where it differs
  (``platform`` is ``sys.platform``'s value).
- No I/O: tested with made-up facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labpbx.doctor.report import Check, Report, Status


@dataclass(frozen=True, slots=True)
class NativeInfo:
    """What the native probe child found (pjsua2 and PortAudio load in the phones' way)."""

    pjsip: str = ""  # pjsip's version as the loaded library reports it; "" = did not load
    pjsua2_error: str = ""
    portaudio: str = ""  # PortAudio's version text; "" = not found
    portaudio_error: str = ""
    devices: tuple[str, ...] = ()
    default_input: str = ""
    default_output: str = ""


@dataclass(frozen=True, slots=True)
class QtInfo:
    """What the Qt probe found: the versions and the platform plugin that started."""

    qt: str = ""
    pyside: str = ""
    platform: str = ""  # the QPA platform that started ("xcb", "wayland", "offscreen", …)
    error: str = ""  # why Qt could not start (with the probe's own fix, when it has one)
    fix: str = ""
    display: bool = True  # a desktop session was there (DISPLAY/WAYLAND_DISPLAY, or not Linux)


@dataclass(frozen=True, slots=True)
class PortInfo:
    port: int
    purpose: str
    error: str = ""  # "" = it could be bound on 127.0.0.1


@dataclass(frozen=True, slots=True)
class Facts:
    labpbx: str
    python: str
    platform: str  # sys.platform
    frozen: bool
    native: NativeInfo
    qt: QtInfo
    ports: tuple[PortInfo, ...]
    data_dir: Path
    data_dir_error: str = ""
    running_lab_pid: int | None = None


def _portaudio_fix(platform: str) -> str:
    if platform.startswith("linux"):
        return "sudo apt install libportaudio2 (Debian/Ubuntu; other systems: the PortAudio package)"
    return "reinstall LabPBX (PortAudio ships inside it on Windows and macOS)"


def check_versions(facts: Facts) -> Check:
    parts = [f"LabPBX {facts.labpbx}" + (" (installed bundle)" if facts.frozen else " (source)"),
             f"Python {facts.python}",
             f"Qt {facts.qt.qt or '?'}", f"PySide6 {facts.qt.pyside or '?'}",
             f"pjsip {facts.native.pjsip or '?'}"]
    if facts.native.portaudio:
        parts.append(facts.native.portaudio)
    return Check("versions", "Versions", Status.OK, ", ".join(parts))


def check_pjsua2(facts: Facts) -> Check:
    native = facts.native
    if native.pjsip:
        return Check("pjsua2", "pjsua2 (the phones' SIP stack)", Status.OK,
                     f"loads; pjsip {native.pjsip}")
    fix = ("reinstall LabPBX (the package carries pjsua2)" if facts.frozen
           else "pip install 'pjsua2-python>=2.15.1,<2.16' into this Python")
    if facts.platform == "win32":
        fix += "; on Windows also install the Microsoft Visual C++ Redistributable (MSVCP140.dll)"
    return Check("pjsua2", "pjsua2 (the phones' SIP stack)", Status.FAIL,
                 f"does not load: {native.pjsua2_error or 'unknown error'}", fix)


def check_audio(facts: Facts) -> Check:
    native = facts.native
    title = "PortAudio and audio devices"
    if not native.portaudio:
        return Check("audio", title, Status.WARN,
                     f"PortAudio not found ({native.portaudio_error or 'unknown error'}); the lab "
                     "runs, but your own extension has no microphone or speaker",
                     _portaudio_fix(facts.platform))
    if not native.devices:
        return Check("audio", title, Status.WARN,
                     f"{native.portaudio}; no audio devices"
                     + (f" ({native.portaudio_error})" if native.portaudio_error else "")
                     + ": the lab runs, your own extension is silent",
                     "connect a headset or enable the sound card; in a virtual machine add an "
                     "audio device")
    defaults = ""
    if native.default_input or native.default_output:
        defaults = (f"; default input {native.default_input or 'none'}, "
                    f"default output {native.default_output or 'none'}")
    return Check("audio", title, Status.OK,
                 f"{native.portaudio}; {len(native.devices)} device(s): "
                 f"{'; '.join(native.devices)}{defaults}")


def check_display(facts: Facts) -> Check:
    qt = facts.qt
    title = "Display and Qt platform"
    if qt.error:
        return Check("display", title, Status.FAIL if qt.display else Status.WARN,
                     f"Qt cannot start: {qt.error}",
                     qt.fix or "run LabPBX in a desktop session; `labpbx demo` and `labpbx lab` "
                               "run without a window")
    if not qt.display:
        return Check("display", title, Status.WARN,
                     f"no display (Qt {qt.qt} starts only with the '{qt.platform}' platform): the "
                     "window cannot open here",
                     "run it in a desktop session; without one use `labpbx lab` or "
                     "`labpbx demo`, or QT_QPA_PLATFORM=offscreen for `labpbx gui --screenshot`")
    return Check("display", title, Status.OK, f"Qt {qt.qt} starts with the '{qt.platform}' platform")


def check_ports(facts: Facts) -> Check:
    taken = [p for p in facts.ports if p.error]
    title = "The lab's ports on 127.0.0.1"
    listed = ", ".join(f"{p.port}/udp ({p.purpose})" for p in facts.ports)
    if not taken:
        return Check("ports", title, Status.OK, f"free: {listed}")
    detail = "; ".join(f"{p.port}/udp ({p.purpose}) cannot be bound: {p.error}" for p in taken)
    if facts.running_lab_pid is not None:
        detail += f"; a lab is running in this data directory (pid {facts.running_lab_pid})"
        fix = "close the running lab first, or start this one with --port 0 (any free port)"
    else:
        fix = ("another program uses the port (a SIP server or softphone): stop it, or start the "
               "lab with --port 0 (any free port) or --port N")
    return Check("ports", title, Status.FAIL, detail, fix)


def check_data_dir(facts: Facts) -> Check:
    title = "Data directory"
    if facts.data_dir_error:
        return Check("data-dir", title, Status.FAIL,
                     f"{facts.data_dir} is not writable: {facts.data_dir_error}",
                     "choose a writable directory with --data DIR or the LABPBX_DATA variable")
    return Check("data-dir", title, Status.OK, f"{facts.data_dir} is writable")


def build_report(facts: Facts) -> Report:
    return Report((check_versions(facts), check_pjsua2(facts), check_audio(facts),
                   check_display(facts), check_ports(facts), check_data_dir(facts)))
