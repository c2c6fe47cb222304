"""The Script tab: the proxy's running routing script, highlighted, checked, applied, reverted.

Rules of this module:
- The editor never talks to the lab. It shows a RunningScript (``set_running``) and asks for
  changes with signals: ``apply_requested(text)`` and ``revert_requested()``; the window passes
  them to the bridge and brings the outcome back (``show_applied`` / ``show_failed``).
- Check runs the proxy's own loader (labpbx.lab.script_text.check_script_text, with the running
  script's defines) on a worker thread — 7 ms for the default script, 65 ms the first time
  (lark builds its parser), 14 / 175 ms on a loaded machine — and the result comes back
  through a queued signal. A result for text that has changed since is dropped.
- Apply never blocks either: the lab checks again, writes and reloads on its own worker. A
  script that does not load leaves the proxy's script in place: the editor marks the error at
  its line and column and says the previous script still runs.
- Revert to default and Open… replace the text as one undoable edit (Ctrl+Z brings the
  student's text back), so they need no confirmation dialog.
- The status line says, in words and a sign, whether the text is what the proxy runs
  ("applied"), differs from it ("modified"), or was refused; colour is never the only cue.
- The latest routing decision (RouteDecisionEvent / XlogEvent from the bridge's batches) is
  highlighted with its route; ``show_line`` is for the routing log's "show in script".
- Shortcuts (editor scope, in the tooltips): Ctrl+Return Check, Ctrl+Shift+Return Apply,
  Ctrl+O Open…, Ctrl+S Save as…. Ctrl+Tab leaves the text (Tab indents).
"""

from __future__ import annotations

import contextlib
import enum
import threading
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, Signal, Slot
from PySide6.QtGui import QFont, QFontDatabase, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from labpbx.events import Event, RouteDecisionEvent, XlogEvent
from labpbx.lab.script_commands import write_atomically
from labpbx.lab.script_text import (
    RunningScript,
    ScriptDiagnostic,
    ScriptRefused,
    check_script_text,
)
from ui.code_edit import CodeEdit
from ui.script_highlighter import ScriptHighlighter

TAB_SPACES = 4
PROBLEM_ROWS = 4


class Phase(enum.Enum):
    """What the status line tells (the words are chosen in ``_status_text``)."""

    WAITING = "waiting"  # no script from the lab yet
    RUNNING = "running"  # the text is what the proxy runs
    MODIFIED = "modified"  # edited since
    CHECKING = "checking"
    CHECKED = "checked"  # checked, no error (and modified)
    ERRORS = "errors"  # checked: errors marked
    APPLYING = "applying"
    REFUSED = "refused"  # Apply refused: the previous script still runs
    FAILED = "failed"  # Apply could not be done (the lab is not running …)


class _Checker(QObject):
    """Runs check_script_text on a worker thread; ``done`` arrives on the GUI thread."""

    done = Signal(int, object)  # (ticket, tuple[ScriptDiagnostic, ...])

    def check(self, ticket: int, text: str, defines: dict[str, str]) -> None:
        def work() -> None:
            found = check_script_text(text, defines=defines)
            with contextlib.suppress(RuntimeError):  # the editor was closed meanwhile
                self.done.emit(ticket, found)

        threading.Thread(target=work, name="ui-script-check", daemon=True).start()


class ScriptEditor(QWidget):
    apply_requested = Signal(str)  # the text to apply
    revert_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.running: RunningScript | None = None
        self.diagnostics: tuple[ScriptDiagnostic, ...] = ()
        self.phase = Phase.WAITING
        self._failure = ""  # why Apply could not be done (FAILED)
        self._pending = ""  # "apply" | "revert" while the lab works on it
        self._ticket = 0  # the check whose answer is awaited
        self._checked_text: str | None = None
        self._decision: tuple[int, str] | None = None  # (line, where) of the latest decision
        self.file: Path | None = None  # the file last opened or saved

        self.edit = CodeEdit()
        self.edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.edit.setTabStopDistance(self.edit.fontMetrics().horizontalAdvance(" ") * TAB_SPACES)
        self.highlighter = ScriptHighlighter(self.edit.document(), self.edit.palette())
        self.check_button = QPushButton()
        self.apply_button = QPushButton()
        self.revert_button = QPushButton()
        self.open_button = QPushButton()
        self.save_button = QPushButton()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.decision = QLabel()
        self.problems = QListWidget()
        self.problems.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.problems.setWordWrap(False)  # one line each, elided; the tooltip has it all
        self.problems.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.problems.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._checker = _Checker(self)
        self._checker.done.connect(self._on_checked, Qt.ConnectionType.QueuedConnection)

        bar = QHBoxLayout()
        for button in (self.check_button, self.apply_button, self.revert_button, self.open_button,
                       self.save_button):
            button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            bar.addWidget(button)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.decision)
        layout.addWidget(self.problems)
        for first, second in ((self.check_button, self.apply_button),
                              (self.apply_button, self.revert_button),
                              (self.revert_button, self.open_button),
                              (self.open_button, self.save_button),
                              (self.save_button, self.edit), (self.edit, self.problems)):
            QWidget.setTabOrder(first, second)

        self.check_button.clicked.connect(self.check)
        self.apply_button.clicked.connect(self.apply)
        self.revert_button.clicked.connect(self.revert)
        self.open_button.clicked.connect(self._open_dialog)
        self.save_button.clicked.connect(self._save_dialog)
        self.problems.itemActivated.connect(self._go_to_problem)
        self.problems.itemClicked.connect(self._go_to_problem)
        self.edit.textChanged.connect(self._on_text_changed)
        self._shortcuts: list[tuple[QShortcut, QPushButton]] = []
        for keys, button in ((("Ctrl+Return", "Ctrl+Enter"), self.check_button),
                             (("Ctrl+Shift+Return", "Ctrl+Shift+Enter"), self.apply_button),
                             (("Ctrl+O",), self.open_button), (("Ctrl+S",), self.save_button)):
            for key in keys:
                shortcut = QShortcut(QKeySequence(key), self)
                shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                shortcut.activated.connect(button.click)
                self._shortcuts.append((shortcut, button))
        self.retranslate_ui()
        self._set_phase(Phase.WAITING)

    # ============================================================== texts

    def retranslate_ui(self) -> None:
        self.check_button.setText(self.tr("Chec&k"))
        self.check_button.setToolTip(self.tr("Check the script for errors (Ctrl+Return)"))
        self.check_button.setAccessibleName(self.tr("Check the script"))
        self.apply_button.setText(self.tr("A&pply"))
        self.apply_button.setToolTip(self.tr(
            "Load this script into the running proxy; calls in progress go on. A script with "
            "an error is refused and the proxy keeps the one it runs (Ctrl+Shift+Return)"))
        self.apply_button.setAccessibleName(self.tr("Apply the script to the proxy"))
        self.revert_button.setText(self.tr("Revert to &default"))
        self.revert_button.setToolTip(self.tr(
            "Run the script the lab started with again and show it here (Ctrl+Z in the text "
            "brings your edit back)"))
        self.revert_button.setAccessibleName(self.tr("Revert to the default script"))
        self.open_button.setText(self.tr("Op&en…"))
        self.open_button.setToolTip(self.tr("Open a script file into the editor; Apply runs it "
                                            "(Ctrl+O)"))
        self.open_button.setAccessibleName(self.tr("Open a script file"))
        self.save_button.setText(self.tr("Save as…"))
        self.save_button.setToolTip(self.tr("Save the text to a file of your own (Ctrl+S)"))
        self.save_button.setAccessibleName(self.tr("Save the script as a file"))
        self.edit.setAccessibleName(self.tr("Routing script"))
        self.edit.setAccessibleDescription(self.tr(
            "OpenSIPS routing script. Tab indents; Ctrl+Tab moves to the next control."))
        self.status.setAccessibleName(self.tr("Script status"))
        self.decision.setAccessibleName(self.tr("Latest routing decision"))
        self.problems.setAccessibleName(self.tr("Script errors"))
        self.problems.setToolTip(self.tr("Click an error, or press Enter on it, to go to its line"))
        self._show_status()
        self._show_decision()
        self._show_problems()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()
        elif event.type() == QEvent.Type.PaletteChange:
            self.highlighter.set_palette(self.edit.palette())
        elif event.type() == QEvent.Type.FontChange:  # the zoom: the errors' rows grow
            self._show_problems()
        super().changeEvent(event)

    def set_code_font(self, font: QFont) -> None:
        """The monospaced font (the window's zoom scales it)."""
        self.edit.setFont(font)
        self.edit.setTabStopDistance(self.edit.fontMetrics().horizontalAdvance(" ") * TAB_SPACES)

    # ============================================================== the running script

    def set_running(self, running: RunningScript, *, replace_text: bool = True) -> None:
        """Show what the proxy runs. ``replace_text`` False keeps the editor's text (Apply: it is
        what was applied, perhaps edited since)."""
        self.running = running
        if replace_text and running.text != self.edit.toPlainText():
            self._replace_text(running.text)
        self.edit.document().setModified(False)
        self.diagnostics = ()
        self.edit.set_diagnostics(())
        self._show_problems()
        self._set_phase(Phase.MODIFIED if self.modified else Phase.RUNNING)

    @property
    def modified(self) -> bool:
        """Whether the text differs from what the proxy runs."""
        return self.running is None or self.edit.toPlainText() != self.running.text

    def show_applied(self, running: RunningScript) -> None:
        """The lab applied (or reverted to) ``running``."""
        pending, self._pending = self._pending, ""
        self.set_running(running, replace_text=pending == "revert")

    def show_failed(self, failure: object) -> None:
        """Apply or revert was not done: mark a refusal's errors; the proxy's script stays."""
        self._pending = ""
        if isinstance(failure, ScriptRefused) and failure.diagnostics:
            self._show_diagnostics(failure.diagnostics)
            self._set_phase(Phase.REFUSED)
            self._go_to(failure.diagnostics[0])
            return
        self._failure = str(failure)
        self._set_phase(Phase.FAILED)

    # ============================================================== commands

    def check(self) -> None:
        """Check the text on a worker thread; the errors are marked when it answers."""
        self._ticket += 1
        self._checked_text = self.edit.toPlainText()
        defines = dict(self.running.defines) if self.running is not None else {}
        self._set_phase(Phase.CHECKING)
        self._checker.check(self._ticket, self._checked_text, defines)

    def apply(self) -> None:
        if self._pending:
            return
        self._pending = "apply"
        self._set_phase(Phase.APPLYING)
        self.apply_requested.emit(self.edit.toPlainText())

    def revert(self) -> None:
        if self._pending:
            return
        self._pending = "revert"
        self._set_phase(Phase.APPLYING)
        self.revert_requested.emit()

    def open_file(self, path: Path) -> None:
        """Load a script file into the editor (not applied until Apply)."""
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self._failure = self.tr("Cannot open %1: %2").replace("%1", str(path)).replace(
                "%2", str(exc))
            self._set_phase(Phase.FAILED)
            return
        self.file = path
        self._replace_text(text)

    def save_to(self, path: Path) -> bool:
        """Write the text to ``path`` (atomically); False, with the reason shown, on failure."""
        try:
            write_atomically(path, self.edit.toPlainText())
        except OSError as exc:
            self._failure = self.tr("Cannot save %1: %2").replace("%1", str(path)).replace(
                "%2", str(exc))
            self._set_phase(Phase.FAILED)
            return False
        self.file = path
        self.status.setText(self.tr("Saved to %1.").replace("%1", str(path)))
        return True

    def show_line(self, line: int) -> None:
        """Scroll to ``line`` and select it (the routing log's "show in script")."""
        self.edit.show_line(line)
        self.edit.setFocus()

    # ============================================================== decisions

    def add_events(self, batch: list[tuple[int, Event]]) -> None:
        """Follow the latest decision or xlog line of the script (the bridge's batches)."""
        for _seq, event in reversed(batch):
            if isinstance(event, RouteDecisionEvent | XlogEvent) and event.line > 0:
                self._decision = (event.line, event.route)
                self.edit.set_decision_line(event.line)
                self._show_decision()
                return

    def _show_decision(self) -> None:
        if self._decision is None:
            self.decision.setText(self.tr("No routing decision yet: place a call to see which "
                                          "line decides."))
            return
        line, where = self._decision
        self.decision.setText(self.tr("▶ Latest decision: line %1, in %2.")
                              .replace("%1", str(line)).replace("%2", where))

    # ============================================================== internals

    def _replace_text(self, text: str) -> None:
        """Replace the whole text as one undoable edit, keeping the cursor's line."""
        line = self.edit.textCursor().blockNumber()
        cursor = self.edit.textCursor()
        cursor.beginEditBlock()
        cursor.select(cursor.SelectionType.Document)
        cursor.insertText(text)
        cursor.endEditBlock()
        self.edit.show_position(min(line + 1, self.edit.blockCount()), 1)

    def _on_text_changed(self) -> None:
        if self.phase in (Phase.WAITING, Phase.APPLYING, Phase.CHECKING):
            return
        self._set_phase(Phase.MODIFIED if self.modified else Phase.RUNNING)

    @Slot(int, object)
    def _on_checked(self, ticket: int, diagnostics: tuple[ScriptDiagnostic, ...]) -> None:
        if ticket != self._ticket:
            return  # an older check: a newer one is on its way
        if self._checked_text != self.edit.toPlainText():
            self._set_phase(Phase.MODIFIED if self.modified else Phase.RUNNING)
            return  # the text changed while it was checked: its marks would be wrong
        self._show_diagnostics(diagnostics)
        if diagnostics:
            self._set_phase(Phase.ERRORS)
        else:
            self._set_phase(Phase.CHECKED)

    def _show_diagnostics(self, diagnostics: tuple[ScriptDiagnostic, ...]) -> None:
        self.diagnostics = diagnostics
        self.edit.set_diagnostics(diagnostics)
        self._show_problems()

    def _show_problems(self) -> None:
        self.problems.clear()
        icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical)
        for diagnostic in self.diagnostics:
            if diagnostic.line:
                text = self.tr("Line %1, column %2: %3").replace("%1", str(diagnostic.line)) \
                    .replace("%2", str(diagnostic.column)).replace("%3", diagnostic.message)
            else:
                text = diagnostic.message
            if diagnostic.text:
                text += "  —  " + diagnostic.text
            item = QListWidgetItem(icon, text)
            item.setData(Qt.ItemDataRole.UserRole, diagnostic)
            item.setToolTip(str(diagnostic))
            self.problems.addItem(item)
        # As tall as its rows (at most PROBLEM_ROWS): the script keeps the room.
        rows = min(max(len(self.diagnostics), 1), PROBLEM_ROWS)
        row_height = max(self.problems.sizeHintForRow(0), self.problems.fontMetrics().height() + 4)
        self.problems.setFixedHeight(rows * row_height + 2 * self.problems.frameWidth() + 4)
        self.problems.setVisible(bool(self.diagnostics))

    def _go_to_problem(self, item: QListWidgetItem) -> None:
        diagnostic = item.data(Qt.ItemDataRole.UserRole)
        if isinstance(diagnostic, ScriptDiagnostic):
            self._go_to(diagnostic)
            self.edit.setFocus()

    def _go_to(self, diagnostic: ScriptDiagnostic) -> None:
        if diagnostic.line:
            self.edit.show_position(diagnostic.line, diagnostic.column)

    def _set_phase(self, phase: Phase) -> None:
        self.phase = phase
        busy = phase in (Phase.APPLYING, Phase.WAITING)
        self.apply_button.setEnabled(not busy)
        self.revert_button.setEnabled(not busy)
        self._show_status()

    def _show_status(self) -> None:
        self.status.setText(self._status_text())

    def _status_text(self) -> str:
        phase = self.phase
        count = len(self.diagnostics)
        first = self.diagnostics[0] if self.diagnostics else None
        if phase is Phase.WAITING:
            return self.tr("Waiting for the lab to start…")
        if phase is Phase.RUNNING:
            assert self.running is not None
            if self.running.applied:
                return self.tr("✓ Applied: the proxy runs this script.")
            return self.tr("✓ The proxy runs this script (%1).").replace("%1", str(self.running.path))
        if phase is Phase.MODIFIED:
            return self.tr("● Modified, not applied: the proxy still runs the previous script.")
        if phase is Phase.CHECKING:
            return self.tr("Checking…")
        if phase is Phase.CHECKED:
            if self.modified:
                return self.tr("✓ No errors. Modified, not applied yet.")
            return self.tr("✓ No errors: the proxy runs this script.")
        if phase is Phase.ERRORS and first is not None:
            return self.tr("⚠ %n error(s); the first at line %1, column %2.", "", count) \
                .replace("%1", str(first.line)).replace("%2", str(first.column))
        if phase is Phase.APPLYING:
            return self.tr("Applying…")
        if phase is Phase.REFUSED and first is not None:
            return self.tr("⚠ Not applied: error at line %1, column %2. The proxy keeps running "
                           "the previous script.").replace("%1", str(first.line)) \
                .replace("%2", str(first.column))
        return self.tr("⚠ %1").replace("%1", self._failure)

    # ============================================================== file dialogs

    def _open_dialog(self) -> None:
        start = str(self.file.parent) if self.file is not None else ""
        name, _ = QFileDialog.getOpenFileName(self, self.tr("Open a routing script"), start,
                                              self.tr("Routing scripts (*.cfg);;All files (*)"))
        if name:
            self.open_file(Path(name))

    def _save_dialog(self) -> None:
        start = str(self.file) if self.file is not None else "routing.cfg"
        name, _ = QFileDialog.getSaveFileName(self, self.tr("Save the routing script as"), start,
                                              self.tr("Routing scripts (*.cfg);;All files (*)"))
        if name:
            self.save_to(Path(name))
