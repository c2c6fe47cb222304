"""The Script tab: highlighting, Check marking errors at line:column, and — over a real lab —
"a broken script shows its error at the right line and calls keep working": Apply of a broken
script leaves the proxy's script running and a call still completes; a valid Apply changes the
next call's routing log; the latest decision's line is highlighted and the routing log jumps
to it.

Nothing sleeps for correctness: qtbot.waitUntil polls while Qt's event loop runs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QTextCharFormat, QTextCursor, QTextDocument
from pytestqt.qtbot import QtBot

from labpbx.lab.script_text import RunningScript
from labpbx.paths import asset_path
from ui.script_editor import Phase, ScriptEditor
from ui.script_highlighter import ScriptHighlighter, syntax_formats

WAIT_MS = 20_000
DEFAULT_PATH = asset_path("scripts", "default.cfg")
DEFAULT = DEFAULT_PATH.read_text(encoding="utf-8")
LEFT = Qt.MouseButton.LeftButton


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _ranges(doc: QTextDocument, line: int) -> dict[str, QTextCharFormat]:
    """The text of each formatted range of a line → a copy of its format."""
    block = doc.findBlockByNumber(line - 1)
    ranges = block.layout().formats()  # kept alive while the formats are copied
    return {block.text()[r.start:r.start + r.length]: QTextCharFormat(r.format) for r in ranges}


def _formats_of(doc: QTextDocument, line: int) -> dict[str, tuple[bool, bool]]:
    """The text of each formatted range of a line → (bold, italic)."""
    return {text: (fmt.fontWeight() >= QFont.Weight.Bold, fmt.fontItalic())
            for text, fmt in _ranges(doc, line).items()}


# ---------------------------------------------------------------- highlighting

def test_the_highlighter_formats_keywords_functions_variables_strings_and_comments(
        qtbot: QtBot) -> None:
    editor = ScriptEditor()
    qtbot.addWidget(editor)
    doc = editor.edit.document()
    assert isinstance(editor.highlighter, ScriptHighlighter) and editor.highlighter.document() is doc
    editor.edit.setPlainText('route[relay] {  # forward\n'
                     '    xlog("L_INFO", "to $ru and $avp(callfwd)");\n'
                     '    /* a comment\n'
                     '       over two lines */ exit;\n'
                     '    unknown_fn(1);\n'
                     '}\n')
    formats = syntax_formats(editor.palette())
    first = _formats_of(doc, 1)
    assert first["route"][0]  # keyword: bold
    assert first["# forward"][1]  # comment: italic
    ranges = _ranges(doc, 2)
    assert ranges["xlog"].foreground() == formats["function"].foreground()
    assert ranges["$ru"].foreground() == formats["variable"].foreground()  # inside a string too
    assert ranges['"L_INFO"'].foreground() == formats["string"].foreground()
    assert _formats_of(doc, 3)["/* a comment"][1]
    fourth = _formats_of(doc, 4)
    assert fourth["       over two lines */"][1]  # the comment goes on in the next block
    assert fourth["exit"][0]  # … and ends there
    assert "unknown_fn" not in _formats_of(doc, 5)  # not a known function: plain, a hint


# ---------------------------------------------------------------- Check, without a lab

@pytest.fixture
def editor(qtbot: QtBot) -> ScriptEditor:
    widget = ScriptEditor()
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.show()
    widget.set_running(RunningScript(DEFAULT, DEFAULT_PATH))
    return widget


def _type_at(qtbot: QtBot, editor: ScriptEditor, needle: str, typed: str) -> int:
    """Put the cursor right after ``needle`` (first line having it) and type ``typed``."""
    line = _line_of(editor.edit.toPlainText(), needle)
    block = editor.edit.document().findBlockByNumber(line - 1)
    cursor = QTextCursor(block)
    cursor.setPosition(block.position() + block.text().index(needle) + len(needle))
    editor.edit.setTextCursor(cursor)
    editor.edit.setFocus()
    for number, part in enumerate(typed.split("\n")):  # QTest types no "\n": Return does
        if number:
            qtbot.keyClick(editor.edit, Qt.Key.Key_Return)
        qtbot.keyClicks(editor.edit, part)
    return line


def test_check_marks_the_error_at_its_line_and_a_click_goes_there(qtbot: QtBot,
                                                                 editor: ScriptEditor) -> None:
    assert editor.phase is Phase.RUNNING and not editor.modified
    line = _type_at(qtbot, editor, "t_on_failure", "x")  # t_on_failurex("missed_call")
    assert editor.phase is Phase.MODIFIED and "Modified" in editor.status.text()
    qtbot.mouseClick(editor.check_button, LEFT)
    qtbot.waitUntil(lambda: editor.phase is Phase.ERRORS, timeout=WAIT_MS)
    (found,) = editor.diagnostics
    column = editor.edit.document().findBlockByNumber(line - 1).text().index("t_on_failurex") + 1
    assert (found.line, found.column, found.text) == (line, column, "t_on_failurex")
    assert editor.edit.error_lines() == [line]
    assert f"line {line}, column {column}" in editor.status.text()
    selection = editor.edit.extraSelections()[-1]
    assert selection.format.underlineStyle() == selection.format.UnderlineStyle.WaveUnderline
    assert selection.cursor.selectedText() == "t_on_failurex"
    assert editor.problems.count() == 1 and not editor.problems.isHidden()
    editor.edit.moveCursor(QTextCursor.MoveOperation.Start)
    item = editor.problems.item(0)
    qtbot.mouseClick(editor.problems.viewport(), LEFT,
                     pos=editor.problems.visualItemRect(item).center())
    cursor = editor.edit.textCursor()
    assert (cursor.blockNumber() + 1, cursor.positionInBlock() + 1) == (line, column)
    # Fixed (Ctrl+Z takes the typed letter back) and checked again (Ctrl+Return): clean.
    editor.edit.setFocus()
    qtbot.keyClick(editor.edit, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(editor.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: editor.phase is Phase.CHECKED, timeout=WAIT_MS)
    assert editor.edit.error_lines() == [] and editor.problems.isHidden()
    assert not editor.modified and "runs this script" in editor.status.text()


def test_revert_and_open_replace_the_text_as_one_undoable_edit(qtbot: QtBot, editor: ScriptEditor,
                                                              tmp_path: Path) -> None:
    mine = tmp_path / "mine.cfg"
    mine.write_text("route {\n    exit;\n}\n", encoding="utf-8")
    editor.open_file(mine)
    assert editor.edit.toPlainText() == mine.read_text() and editor.modified
    assert editor.phase is Phase.MODIFIED
    editor.edit.undo()
    assert editor.edit.toPlainText() == DEFAULT
    saved = tmp_path / "saved.cfg"
    assert editor.save_to(saved) and saved.read_text(encoding="utf-8") == DEFAULT
    requested: list[bool] = []
    editor.revert_requested.connect(lambda: requested.append(True))
    _type_at(qtbot, editor, "route[relay] {", "  # mine")
    qtbot.mouseClick(editor.revert_button, LEFT)
    assert requested and editor.phase is Phase.APPLYING and not editor.apply_button.isEnabled()
    editor.show_applied(RunningScript(DEFAULT, DEFAULT_PATH))  # the lab's answer
    assert editor.edit.toPlainText() == DEFAULT and editor.phase is Phase.RUNNING
    editor.edit.undo()
    assert "# mine" in editor.edit.toPlainText()  # the student's edit is one Ctrl+Z away


# ---------------------------------------------------------------- over a real lab

@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[object]:
    """The window fixture of tests/ui/test_window.py: a started lab, stopped at teardown."""
    pytest.importorskip("pjsua2", reason="pjsua2-python is not installed: phones need it")
    if sys.platform == "win32":
        pytest.skip("the lab tests run on POSIX")
    from tests.ui.lab_window import running_window

    with running_window(qtbot, tmp_path / "lab") as win:
        yield win


@pytest.mark.integration
def test_a_broken_script_shows_its_error_at_the_right_line_and_calls_keep_working(
        qtbot: QtBot, window: object, tmp_path: Path) -> None:
    from labpbx.lab.calls import CallOutcome
    from labpbx.lab.state import Activity
    from ui.main_window import MainWindow

    assert isinstance(window, MainWindow)
    editor = window.script
    lab = window.bridge.lab
    assert lab is not None
    window.tabs.setCurrentWidget(editor)
    qtbot.waitUntil(lambda: editor.phase is Phase.RUNNING, timeout=WAIT_MS)
    assert editor.edit.toPlainText() == DEFAULT and str(DEFAULT_PATH) in editor.status.text()

    # A broken script: Apply refuses it, marks the line, and the proxy keeps its script.
    line = _type_at(qtbot, editor, "t_on_failure", "x")
    qtbot.mouseClick(editor.apply_button, LEFT)
    qtbot.waitUntil(lambda: editor.phase is Phase.REFUSED, timeout=WAIT_MS)
    assert editor.edit.error_lines() == [line]
    assert [(d.line, d.text) for d in editor.diagnostics] == [(line, "t_on_failurex")]
    assert f"line {line}" in editor.status.text() and "previous script" in editor.status.text()
    assert lab.script_text().text == DEFAULT and not lab.working_script_path().exists()

    # …and calls keep working: 1000 → 1001 from the card is answered.
    caller, callee = window.cards["1000"], window.cards["1001"]
    caller.target.setCurrentText("1001")
    qtbot.mouseClick(caller.call_button, LEFT)
    qtbot.waitUntil(lambda: caller.state.activity is Activity.IN_CALL, timeout=WAIT_MS)
    qtbot.mouseClick(caller.hangup_button, LEFT)
    model = window.calls.model
    qtbot.waitUntil(lambda: model.rowCount() == 1 and callee.state.activity is Activity.IDLE
                    and model.calls[0].outcome is CallOutcome.ANSWERED, timeout=WAIT_MS)

    # A valid change (the typed letter undone, one xlog line added) is applied…
    editor.edit.setFocus()
    qtbot.keyClick(editor.edit, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    added = _type_at(qtbot, editor, 'route[relay] {', '\n    xlog("L_INFO", "edited in the window\\n");')
    qtbot.keyClick(editor.edit, Qt.Key.Key_Return,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: editor.phase is Phase.RUNNING, timeout=WAIT_MS)
    assert editor.running is not None and editor.running.applied
    assert "Applied" in editor.status.text() and editor.edit.error_lines() == []
    assert lab.script_text().text == editor.edit.toPlainText()

    # …and the next call's routing log shows the new line, at its line in the script.
    qtbot.mouseClick(caller.call_button, LEFT)
    log = window.log.model
    qtbot.waitUntil(lambda: any(log.row(i).text == "edited in the window\n"
                                for i in range(log.rowCount())), timeout=WAIT_MS)
    row = next(i for i in range(log.rowCount()) if log.row(i).text == "edited in the window\n")
    assert log.row(row).where == f"route[relay]:{added + 1}"
    qtbot.waitUntil(lambda: caller.state.activity is Activity.IN_CALL, timeout=WAIT_MS)
    qtbot.mouseClick(caller.hangup_button, LEFT)

    # The latest decision's line is highlighted (background and gutter arrow).
    qtbot.waitUntil(lambda: caller.state.activity is Activity.IDLE, timeout=WAIT_MS)
    assert editor.edit.decision_line > 0
    assert f"line {editor.edit.decision_line}" in editor.decision.text()
    highlighted = editor.edit.extraSelections()[0]
    assert highlighted.cursor.blockNumber() + 1 == editor.edit.decision_line
    assert highlighted.format.background().color() == editor.edit.decision_background()

    # The routing log's row leads to its line in the script (Ctrl+J).
    window.tabs.setCurrentWidget(window.log)
    table = window.log.table
    source = window.log.model.index(row, 0)
    table.setCurrentIndex(window.log.proxy.mapFromSource(source))
    table.setFocus()
    qtbot.keyClick(table, Qt.Key.Key_J, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is editor
    assert editor.edit.textCursor().blockNumber() + 1 == added + 1
    assert editor.edit.textCursor().selectedText().strip().startswith('xlog("L_INFO", "edited')

    editor.resize(1000, 640)
    window.grab().save(str(tmp_path / "script-tab.png"))
