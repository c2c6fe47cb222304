"""The Provisioning and Voicemail tabs over a lab data directory, without starting a lab: the
models (qtmodeltester) update in place; the table follows `labpbx avp` live; the add/edit dialog
refuses a bad entry and keeps what was typed; messages appear, are marked heard and deleted
(file and row); greetings are replaced and reverted; playback is off with its reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog
from pytestqt.qtbot import QtBot

from labpbx.cli import main as cli_main
from labpbx.lab import LabConfig
from labpbx.lab.mailboxes import MailboxSummary, Message
from labpbx.lab.playback import probe_output
from labpbx.lab.provisioning import AvpEntry
from tests.lab.test_mailboxes import store_message, write_wav
from ui.bridge import LabBridge
from ui.provisioning_model import AvpModel
from ui.provisioning_view import ProvisioningView
from ui.voicemail_model import MailboxesModel, MessagesModel
from ui.voicemail_view import VoicemailView

WAIT_MS = 5000
LEFT = Qt.MouseButton.LeftButton


def entry(i: int, user: str = "1001", value: str = "sip:2345678@127.0.0.1") -> AvpEntry:
    return AvpEntry(i, "", user, "127.0.0.1", "callfwd", 0, value, "2025-01-01T00:00:00")


def message(i: str, at: float, heard: bool = False) -> Message:
    return Message(i, "1001", "sip:1000@127.0.0.1", "", at, 1.5, "busy", "user-busy", heard,
                   Path(f"/x/{i}.wav"))


def test_the_avp_model_updates_in_place(qtmodeltester: Any) -> None:
    model = AvpModel()
    model.set_rows([entry(1), entry(2, "1002")])
    qtmodeltester.check(model)
    kept = model.index(1, 0)
    from PySide6.QtCore import QPersistentModelIndex

    persistent = QPersistentModelIndex(kept)
    changes: list[str] = []
    model.rowsInserted.connect(lambda *_a: changes.append("insert"))
    model.rowsRemoved.connect(lambda *_a: changes.append("remove"))
    model.dataChanged.connect(lambda *_a: changes.append("change"))
    model.modelReset.connect(lambda: changes.append("reset"))
    model.set_rows([entry(2, "1002", "sip:1004@127.0.0.1"), entry(3, "1003")])
    assert changes == ["remove", "change", "insert"]
    assert persistent.row() == 0  # the edited row kept its identity
    assert model.data(model.index(0, 6)) == "sip:1004@127.0.0.1"
    assert model.data(model.index(0, 5)) == "0 (str:str)"
    assert model.headerData(2, Qt.Orientation.Horizontal) == "username"
    assert not model.set_rows(list(model.rows))
    qtmodeltester.check(model)


def test_the_voicemail_models(qtmodeltester: Any) -> None:
    boxes = MailboxesModel()
    boxes.set_rows([MailboxSummary("1000", 0, 0), MailboxSummary("1001", 1, 2)])
    assert boxes.data(boxes.index(1, 0)) == "1001 — 1 new of 2"
    assert boxes.data(boxes.index(1, 0), Qt.ItemDataRole.FontRole).bold()
    qtmodeltester.check(boxes)
    messages = MessagesModel()
    messages.set_rows([message("b", 2.0), message("a", 1.0, heard=True)])
    assert [messages.data(messages.index(r, 4)) for r in (0, 1)] == ["new", "heard"]
    assert messages.data(messages.index(0, 2)) == "busy"
    assert messages.data(messages.index(0, 3)) == "0:01"
    qtmodeltester.check(messages)
    messages.set_rows([message("c", 3.0), message("b", 2.0, heard=True)])
    assert [m.id for m in messages.rows] == ["c", "b"]
    qtmodeltester.check(messages)


@pytest.fixture
def bridge(tmp_path: Path) -> Iterator[LabBridge]:
    yield LabBridge(LabConfig(data_dir=tmp_path / "lab"))  # never started: data only


def test_the_table_follows_the_cli_and_the_dialog_keeps_a_bad_entry(
        qtbot: QtBot, bridge: LabBridge) -> None:
    view = ProvisioningView(bridge)
    qtbot.addWidget(view)
    view.show()
    data = str(bridge.data_dir)
    assert cli_main(["--data", data, "avp", "add", "1003@127.0.0.1", "callfwd", "0",
                     "sip:2345678@127.0.0.1"]) == 0
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=WAIT_MS)
    assert view.model.data(view.model.index(0, 2)) == "1003"

    qtbot.mouseClick(view.add_button, LEFT)
    dialog = view.dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.keyClicks(dialog.owner, "1001@localhost")
    qtbot.keyClicks(dialog.value, "sip:1004@127.0.0.1")
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    qtbot.mouseClick(ok, LEFT)
    assert dialog.isVisible() and "no dot in its domain" in dialog.error.text()
    assert dialog.value.text() == "sip:1004@127.0.0.1"  # nothing typed is lost
    dialog.owner.clear()
    qtbot.keyClicks(dialog.owner, "1001@127.0.0.1")
    qtbot.mouseClick(ok, LEFT)
    qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=WAIT_MS)
    assert view.model.rows[1].value == "sip:1004@127.0.0.1"

    view.table.selectRow(0)
    qtbot.mouseClick(view.delete_button, LEFT)
    qtbot.waitUntil(lambda: [r.username for r in view.model.rows] == ["1001"], timeout=WAIT_MS)
    assert cli_main(["--data", data, "avp", "rm", "-a", "callfwd"]) == 0
    qtbot.waitUntil(lambda: view.model.rowCount() == 0, timeout=WAIT_MS)
    assert not view.apply_timers.isEnabled()  # no lab: the timers cannot be applied
    assert "will start with fr_timeout 30 s" in view.timers_now.text()


def test_a_corrupt_file_is_said_and_the_rows_stay(qtbot: QtBot, bridge: LabBridge) -> None:
    bridge.provisioning.add("1001@127.0.0.1", "callfwd", 0, "sip:x@127.0.0.1")
    view = ProvisioningView(bridge)
    qtbot.addWidget(view)
    assert view.model.rowCount() == 1
    (bridge.data_dir / "lab.json").write_text("{oops", encoding="utf-8")
    qtbot.waitUntil(lambda: not view.problem.isHidden(), timeout=WAIT_MS)
    assert "cannot be read" in view.problem.text() and "not valid JSON" in view.problem.text()
    assert view.model.rowCount() == 1


def test_messages_appear_are_heard_and_deleted(qtbot: QtBot, bridge: LabBridge,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    view = VoicemailView(bridge)
    qtbot.addWidget(view)
    view.show()
    assert [b.mailbox for b in view.boxes.rows] == list(bridge.config.extensions)
    view.select_mailbox("1001")
    store_message(bridge.data_dir, "1001", "m1", at=1000.0)
    qtbot.waitUntil(lambda: view.messages.rowCount() == 1, timeout=WAIT_MS)
    assert "1 new" in view.boxes.data(view.boxes.index(view.boxes.row_of("1001"), 0))
    view.table.selectRow(0)
    assert view.heard_button.text() == "Mark &heard"
    qtbot.mouseClick(view.heard_button, LEFT)
    qtbot.waitUntil(lambda: view.messages.rows[0].heard, timeout=WAIT_MS)
    assert view.messages.data(view.messages.index(0, 4)) == "heard"
    assert view.selected() is not None and view.heard_button.text() == "Mark &new"

    if probe_output() is not None:  # this machine: no sound card
        assert not view.play_button.isEnabled()
        assert not view.greetings.play_button.isEnabled()
        assert "Playback is off: no audio device" in view.audio.text()

    wav = bridge.data_dir / "voicemail/1001/m1.wav"
    assert wav.exists()
    qtbot.mouseClick(view.delete_button, LEFT)
    qtbot.waitUntil(lambda: view.messages.rowCount() == 0, timeout=WAIT_MS)
    assert not wav.exists()

    # greetings: replace from a WAV (the file dialog answers with a stereo 8 kHz file), revert
    source = write_wav(bridge.data_dir.parent / "mine.wav", rate=8000, channels=2)
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *_a, **_k: (str(source), "")))
    panel = view.greetings
    assert panel.mailbox == "1001" and not panel.revert_button.isEnabled()
    qtbot.mouseClick(panel.replace_button, LEFT)
    qtbot.waitUntil(lambda: panel.info is not None and panel.info.own, timeout=WAIT_MS)
    assert "own recording (0.5 s)" in panel.where.text()
    qtbot.mouseClick(panel.revert_button, LEFT)
    qtbot.waitUntil(lambda: panel.info is not None and not panel.info.own, timeout=WAIT_MS)
    assert "shipped greeting" in panel.where.text()
    bad = bridge.data_dir.parent / "bad.wav"
    bad.write_text("not audio")
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *_a, **_k: (str(bad), "")))
    qtbot.mouseClick(panel.replace_button, LEFT)
    qtbot.waitUntil(lambda: "failed" in view.note.text(), timeout=WAIT_MS)
    assert "not a PCM WAV" in view.note.text() and not panel.info.own  # type: ignore[union-attr]
