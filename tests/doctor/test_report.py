"""The doctor's report model and checks, from made-up facts (no I/O)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from labpbx.doctor.checks import Facts, NativeInfo, PortInfo, QtInfo, build_report
from labpbx.doctor.report import Check, Report, Status

GOOD = Facts(
    labpbx="0.1.0", python="3.11.7", platform="linux", frozen=True,
    native=NativeInfo(pjsip="2.15.1", portaudio="PortAudio V19.6.0", devices=("hw:0 (in 2, out 2)",),
                      default_input="hw:0", default_output="hw:0"),
    qt=QtInfo(qt="6.11.3", pyside="6.11.3", platform="xcb", display=True),
    ports=(PortInfo(5060, "the proxy"), PortInfo(23456, "a free one of the lab's own ports")),
    data_dir=Path("/home/u/.local/share/labpbx"))


def test_a_good_machine_is_all_ok_with_every_version() -> None:
    report = build_report(GOOD)
    assert [c.key for c in report.checks] == ["versions", "pjsua2", "audio", "display", "ports",
                                              "data-dir"]
    assert report.status is Status.OK and report.exit_code == 0
    versions = report.get("versions").detail
    for part in ("LabPBX 0.1.0 (installed bundle)", "Python 3.11.7", "Qt 6.11.3", "pjsip 2.15.1"):
        assert part in versions
    assert all(not c.fix for c in report.checks)
    assert report.to_text().endswith("6 ok, 0 warning(s), 0 failed.")


def test_pjsua2_that_does_not_load_fails_with_the_fix() -> None:
    report = build_report(replace(GOOD, native=replace(GOOD.native, pjsip="",
                                                       pjsua2_error="ImportError: no _pjsua2")))
    check = report.get("pjsua2")
    assert check.status is Status.FAIL and "no _pjsua2" in check.detail
    assert "reinstall" in check.fix
    assert report.exit_code == 1
    source = build_report(replace(GOOD, frozen=False, platform="win32",
                                  native=replace(GOOD.native, pjsip="")))
    assert "pip install" in source.get("pjsua2").fix and "MSVCP140" in source.get("pjsua2").fix


def test_missing_portaudio_or_devices_is_a_warning_not_a_failure() -> None:
    no_lib = build_report(replace(GOOD, native=replace(GOOD.native, portaudio="",
                                                       portaudio_error="not found")))
    assert no_lib.get("audio").status is Status.WARN
    assert "libportaudio2" in no_lib.get("audio").fix
    assert no_lib.exit_code == 0
    no_devices = build_report(replace(GOOD, native=replace(GOOD.native, devices=())))
    assert no_devices.get("audio").status is Status.WARN
    assert "no audio devices" in no_devices.get("audio").detail


def test_display_cases() -> None:
    headless = build_report(replace(GOOD, qt=replace(GOOD.qt, platform="offscreen", display=False)))
    assert headless.get("display").status is Status.WARN
    assert "labpbx demo" in headless.get("display").fix
    broken = build_report(replace(GOOD, qt=replace(GOOD.qt, error="libxcb-cursor missing",
                                                   fix="sudo apt install libxcb-cursor0")))
    assert broken.get("display").status is Status.FAIL
    assert broken.get("display").fix == "sudo apt install libxcb-cursor0"


def test_a_taken_port_fails_and_names_the_running_lab() -> None:
    taken = replace(GOOD, ports=(PortInfo(5060, "the proxy", "Address already in use"),))
    check = build_report(taken).get("ports")
    assert check.status is Status.FAIL and "5060/udp" in check.detail and "--port 0" in check.fix
    with_lab = build_report(replace(taken, running_lab_pid=4242)).get("ports")
    assert "pid 4242" in with_lab.detail and "close the running lab" in with_lab.fix


def test_unwritable_data_dir_fails() -> None:
    check = build_report(replace(GOOD, data_dir_error="Permission denied")).get("data-dir")
    assert check.status is Status.FAIL and "LABPBX_DATA" in check.fix


def test_report_worst_status_text_and_json() -> None:
    report = Report((Check("a", "A", Status.OK, "fine"), Check("b", "B", Status.WARN, "meh", "do x")))
    assert report.status is Status.WARN and report.exit_code == 0
    text = report.to_text()
    assert "[OK     ] A: fine" in text and "[WARNING] B: meh" in text and "Fix: do x" in text
    data = json.loads(report.to_json())
    assert data["status"] == "warn" and data["checks"][1]["fix"] == "do x"
    assert Report(()).status is Status.OK
