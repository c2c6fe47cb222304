"""The main window: extension cards on the left; calls (with the selected call's ladder) and the
routing log on the right; the lab's progress and problems in a banner and the status bar.

Rules of this module:
- It wires the views to a LabBridge and never touches the lab itself: every lab operation is a
  bridge call that returns at once; results and failures come back as signals.
- Closing the window stops the lab first, on the bridge's worker thread: the close is deferred
  (the window says "Stopping the lab…" and keeps painting) and happens when ``stopped`` arrives.
- Zoom (Ctrl+= / Ctrl+- / Ctrl+0, 100–200 %) scales the window's font; the views inherit it.
- With a QSettings (the app passes the user's; tests and screenshots pass none) the zoom and
  the window's geometry are kept from one run to the next, and the language chosen in the
  Language menu (ui.i18n).
- Every text is set in ``retranslate_ui`` (called at the end of ``__init__`` and on
  LanguageChange); a status line is kept as the function that words it, so it is worded again
  in the new language. Lab words (component names, SIP, numbers) are never translated.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QByteArray, QEvent, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QFontDatabase, QKeySequence
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QMainWindow,
    QProgressBar,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from labpbx.lab.config import VOICEMAIL_NUMBER
from labpbx.lab.state import LAB, ComponentStatus, LabState
from labpbx.paths import default_data_dir
from ui.bridge import LabBridge
from ui.calls_view import CallsView
from ui.extension_card import ExtensionCard
from ui.help_menu import HelpMenu
from ui.i18n import ENGLISH, LANGUAGES, current_language, remember_language
from ui.i18n import set_language as install_language
from ui.log_view import LogView
from ui.provisioning_view import ProvisioningView
from ui.script_editor import ScriptEditor
from ui.text import arg, component_status_label
from ui.voicemail_view import VoicemailView

ZOOM_STEPS = (100, 125, 150, 175, 200)


class MainWindow(QMainWindow):
    closed = Signal()  # the lab has stopped and the window is gone

    def __init__(self, bridge: LabBridge, parent: QWidget | None = None, *,
                 settings: QSettings | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.settings = settings
        self._state: LabState | None = None  # the last one shown (worded again on LanguageChange)
        self._status_words: Callable[[], str] = lambda: self.tr("Starting the lab…")
        self._base_point_size = self.font().pointSizeF()
        self.zoom = 100
        self._closing = False
        self._stopped = False
        self._crash_shown = False  # the banner tells of a component that died

        exts = list(bridge.config.extensions)
        scroll = QScrollArea()
        self._cards_scroll = scroll
        self.cards: dict[str, ExtensionCard] = {}
        cards_box = QWidget()
        cards_layout = QVBoxLayout(cards_box)
        for ext in exts:
            card = ExtensionCard(ext, [e for e in exts if e != ext])
            card.call_requested.connect(bridge.call)
            card.policy_requested.connect(bridge.set_policy)
            card.answer_requested.connect(bridge.answer)
            card.reject_requested.connect(bridge.reject)
            card.hangup_requested.connect(bridge.hangup)
            card.ringing_started.connect(
                lambda c=card: self._cards_scroll.ensureWidgetVisible(c, 0, 0))
            cards_layout.addWidget(card)
            self.cards[ext] = card
        cards_layout.addStretch(1)
        scroll.setWidget(cards_box)
        scroll.setWidgetResizable(True)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Tab goes to the cards' controls
        self._cards_box = cards_box
        self._fit_cards()

        self.calls = CallsView()
        self.log = LogView()
        tabs = QTabWidget()
        tabs.addTab(self.calls, "")  # the tabs' names: retranslate_ui
        tabs.addTab(self.log, "")
        self.provisioning = ProvisioningView(bridge)
        self.voicemail = VoicemailView(bridge)
        tabs.addTab(self.provisioning, "")
        tabs.addTab(self.voicemail, "")
        self.script = ScriptEditor()  # the proxy's routing script: check, apply, revert
        tabs.addTab(self.script, "")
        self.script.apply_requested.connect(bridge.apply_script)
        self.script.revert_requested.connect(bridge.revert_script)
        bridge.script_applied.connect(self.script.show_applied)
        bridge.script_failed.connect(self.script.show_failed)
        bridge.events_added.connect(self.script.add_events)
        self.log.script_line_requested.connect(self.show_script_line)
        self.log.ladder_row_requested.connect(self.show_in_ladder)
        # A callfwd row changed (here or by `labpbx avp` in a terminal): the cards' forwards.
        self.provisioning.rows_changed.connect(bridge.sync_forwarding)
        self.tabs = tabs
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(tabs)

        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setFrameShape(QFrame.Shape.StyledPanel)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.hide()
        self.components = QLabel()
        self.components.setWordWrap(True)

        main = QSplitter(Qt.Orientation.Horizontal)
        main.addWidget(scroll)
        main.addWidget(right)
        main.setStretchFactor(0, 2)
        main.setStretchFactor(1, 3)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.banner)
        layout.addWidget(self.components)
        layout.addWidget(main, 1)
        self.setCentralWidget(central)

        self.progress = QProgressBar()
        self.progress.setRange(0, len(exts))
        self.status = QLabel()
        self.statusBar().addWidget(self.status, 1)
        self.statusBar().addPermanentWidget(self.progress)

        self._build_menus()
        self.set_lab_running(False)
        bridge.state_changed.connect(self.show_state)
        bridge.events_added.connect(self.log.add_events)
        bridge.started.connect(self._on_started)
        bridge.start_failed.connect(self._on_start_failed)
        bridge.command_failed.connect(self._on_command_failed)
        bridge.command_done.connect(self._on_command_done)
        bridge.stopped.connect(self._on_stopped)
        self.calls.call_activated.connect(self._show_call_log)
        self._tick = QTimer(self)  # the cards' running durations
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._refresh_cards)
        self._tick.start()
        self.resize(1280, 820)
        self._restore()
        self.retranslate_ui()

    def _build_menus(self) -> None:
        # The menus' and actions' texts: retranslate_ui.
        self.lab_menu = self.menuBar().addMenu("")
        self.quit_action = QAction(self)
        self.quit_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Quit))
        self.quit_action.triggered.connect(self.close)
        self.lab_menu.addAction(self.quit_action)
        self.view_menu = view = self.menuBar().addMenu("")
        self.zoom_actions: list[QAction] = []  # in, out, actual size
        for keys, step in ((("Ctrl+=", "Ctrl++"), 1), (("Ctrl+-",), -1), (("Ctrl+0",), 0)):
            action = QAction(self)
            action.setShortcuts([QKeySequence(k) for k in keys])
            action.triggered.connect(lambda _checked=False, s=step: self.step_zoom(s))
            view.addAction(action)
            self.addAction(action)  # the shortcut works with the menu closed
            self.zoom_actions.append(action)
        self.find_action = find = QAction(self)
        find.setShortcut(QKeySequence("Ctrl+L"))
        find.triggered.connect(self._focus_log_filter)
        view.addAction(find)
        self.addAction(find)
        self.language_menu = self.menuBar().addMenu("")
        group = QActionGroup(self)
        group.setExclusive(True)
        self.language_actions: dict[str, QAction] = {}
        for code, name in LANGUAGES.items():
            # Each language's name in its own language, never translated.
            action = QAction(name, self)
            action.setCheckable(True)
            action.setData(code)
            action.triggered.connect(lambda _checked=False, c=code: self.set_language(c))
            group.addAction(action)
            self.language_menu.addAction(action)
            self.language_actions[code] = action
        # Help: System check… and About (the menu words itself: ui.help_menu).
        config = self.bridge.config
        self.help_menu = HelpMenu(config.data_dir or default_data_dir(), config.proxy_port, self)
        self.menuBar().addMenu(self.help_menu)

    # ============================================================== language

    def retranslate_ui(self) -> None:
        """Set every text of the window itself in the current language (its views do theirs)."""
        self.setWindowTitle(self.tr("LabPBX"))
        self.setAccessibleName(self.tr("LabPBX"))
        self.lab_menu.setTitle(self.tr("&Lab"))
        self.quit_action.setText(self.tr("&Quit (stops the lab)"))
        self.view_menu.setTitle(self.tr("&View"))
        for action, text in zip(self.zoom_actions, (self.tr("Zoom &in"), self.tr("Zoom &out"),
                                                    self.tr("&Actual size")), strict=True):
            action.setText(text)
        self.find_action.setText(self.tr("&Filter the log"))
        self.language_menu.setTitle(self.tr("L&anguage"))
        self.language_actions.get(current_language(), self.language_actions[ENGLISH]).setChecked(True)
        self.tabs.setTabText(self.tabs.indexOf(self.calls), self.tr("&Calls"))
        self.tabs.setTabText(self.tabs.indexOf(self.log), self.tr("&Routing log"))
        self.tabs.setTabText(self.tabs.indexOf(self.provisioning), self.tr("Pr&ovisioning"))
        self.tabs.setTabText(self.tabs.indexOf(self.voicemail), self.tr("Voice&mail"))
        self.tabs.setTabText(self.tabs.indexOf(self.script), self.tr("&Script"))
        self.tabs.setAccessibleName(self.tr("Views"))
        self.tabs.tabBar().setAccessibleName(
            self.tr("Calls, routing log, provisioning, voicemail or script"))
        self.banner.setAccessibleName(self.tr("Lab problems"))
        self.components.setAccessibleName(self.tr("Lab components"))
        self.progress.setFormat(self.tr("%v of %m extensions registered"))
        self.progress.setAccessibleName(self.tr("Start-up progress"))
        self.progress.setMinimumWidth(self.progress.fontMetrics().horizontalAdvance(
            self.progress.format().replace("%v", "00").replace("%m", "00")) + 24)
        self.status.setText(self._status_words())
        self._show_components()
        # The cards get LanguageChange after the window (parents first): fit them afterwards.
        QTimer.singleShot(0, self._fit_cards)

    def changeEvent(self, event: QEvent) -> None:  # Qt's name
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    def set_language(self, language: str) -> None:
        """Switch the whole application to ``language`` (every widget gets LanguageChange) and
        remember it for the next start."""
        found = install_language(language)
        if self.settings is not None:
            remember_language(self.settings, language)
        if not found and language != ENGLISH:
            self.statusBar().showMessage(arg(self.tr(
                "The translation into %1 is missing: the window stays in English."),
                LANGUAGES[language]), 5000)
        self.language_actions[current_language()].setChecked(True)

    def _say(self, words: Callable[[], str]) -> None:
        """Show a status line, kept as the function that words it (LanguageChange rewords)."""
        self._status_words = words
        self.status.setText(words())

    # ============================================================== state

    def show_state(self, state: LabState) -> None:
        now = time.time()
        for ext, ext_state in state.extensions.items():
            card = self.cards.get(ext)
            if card is not None:
                card.show_state(ext_state, now)
        self.calls.set_calls(state.calls)
        self.log.set_calls(self.calls.model.calls, self.calls.model.numbers)
        registered = sum(1 for x in state.extensions.values() if x.registered)
        self.progress.setValue(registered)
        self._state = state
        self._show_components()

    def _show_components(self) -> None:
        """The components' line and the crash notice, in the current language."""
        state = self._state
        if state is None:
            self.components.setText(self.tr("Starting…"))
            return
        parts = []
        for name, component in sorted(state.components.items()):
            if name == LAB:
                continue
            word = component_status_label(component.status)
            parts.append(arg(self.tr("%1: %2"), name, word))
        self.components.setText("  ·  ".join(parts) if parts else self.tr("Starting…"))
        crashed = [c for c in state.components.values()
                   if c.status in (ComponentStatus.EXITED, ComponentStatus.FAILED)
                   and c.name != LAB and not self.bridge.stopping]
        if crashed and self.bridge.running:
            self._crash_shown = True
            self.show_problem("\n".join(
                arg(self.tr("%1 stopped unexpectedly: %2"), c.name, c.detail or c.status.value)
                for c in crashed))
        elif self._crash_shown:  # restarted (or the lab stopped): the notice is over
            self._crash_shown = False
            self.banner.hide()

    def _refresh_cards(self) -> None:
        now = time.time()
        for card in self.cards.values():
            if card.state.legs:
                card.show_state(card.state, now)

    def show_problem(self, text: str) -> None:
        self.banner.setText("⚠ " + text)
        self.banner.show()

    # ============================================================== bridge results

    def set_lab_running(self, running: bool) -> None:
        """The cards' Call and Set act only on a running lab (until then they are greyed out,
        rather than refused after a click)."""
        for card in self.cards.values():
            card.call_button.setEnabled(running)
            card.apply_policy.setEnabled(running)

    def _on_started(self) -> None:
        self.set_lab_running(True)
        running = self.bridge.running_script()  # a small local file: read, never waited for
        if running is not None:
            self.script.set_running(running)
        lab = self.bridge.lab
        where = lab.proxy_address if lab is not None else ""
        self._say(lambda: arg(self.tr("Lab running — proxy udp:%1 (register softphones here), "
                                      "voicemail %2"), where, VOICEMAIL_NUMBER))

    def _on_start_failed(self, message: str) -> None:
        self.set_lab_running(False)
        self._say(lambda: self.tr("The lab is not running."))
        self.show_problem(message)

    def _on_command_failed(self, what: str, why: str) -> None:
        # ``what`` and ``why`` come worded (the bridge's tr, the lab's message): kept as they are.
        self._say(lambda: arg(self.tr("%1: %2"), what, why))
        self.status.setAccessibleDescription(self.status.text())

    def _on_command_done(self, what: str, _result: object) -> None:
        self._say(lambda: arg(self.tr("%1: done"), what))

    def show_script_line(self, line: int) -> None:
        """The Script tab, at ``line`` (the routing log's "show in script")."""
        self.tabs.setCurrentWidget(self.script)
        self.script.show_line(line)

    def show_in_ladder(self, seq: int) -> None:
        """The Calls tab, with the ladder row made by event ``seq`` selected."""
        if self.calls.show_event(seq):
            self.tabs.setCurrentWidget(self.calls)

    def _show_call_log(self, call_id: str) -> None:
        self.log.show_call(call_id)
        self.tabs.setCurrentWidget(self.log)

    def _focus_log_filter(self) -> None:
        self.tabs.setCurrentWidget(self.log)
        self.log.text.setFocus()

    # ============================================================== zoom

    def step_zoom(self, step: int) -> None:
        if step == 0:
            self.set_zoom(100)
            return
        index = min(range(len(ZOOM_STEPS)), key=lambda i: abs(ZOOM_STEPS[i] - self.zoom))
        self.set_zoom(ZOOM_STEPS[max(0, min(len(ZOOM_STEPS) - 1, index + step))])

    def set_zoom(self, percent: int) -> None:
        self.zoom = max(ZOOM_STEPS[0], min(ZOOM_STEPS[-1], percent))
        font = self.font()
        font.setPointSizeF(self._base_point_size * self.zoom / 100)
        self.setFont(font)
        # The monospaced views set their own font, so they do not inherit the window's.
        fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        fixed.setPointSizeF(fixed.pointSizeF() * self.zoom / 100)
        self.calls.set_fixed_font(fixed)  # the raw message pane; the ladder takes the window's
        self.log.table.setFont(fixed)
        self.script.set_code_font(fixed)
        self._fit_cards()
        self.statusBar().showMessage(arg(self.tr("Zoom %1 %"), self.zoom), 2000)

    def _fit_cards(self) -> None:
        # The cards' column is as wide as a card needs at this zoom: the splitter then takes
        # the room from the calls and the log instead of clipping the cards' buttons.
        self._cards_box.adjustSize()
        bar = self._cards_scroll.verticalScrollBar().sizeHint().width()
        self._cards_scroll.setMinimumWidth(self._cards_box.minimumSizeHint().width() + bar + 4)

    # ============================================================== settings

    def _restore(self) -> None:
        if self.settings is None:
            return
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        try:
            zoom = int(str(self.settings.value("view/zoom", 100)))
        except ValueError:
            zoom = 100
        if zoom != 100:
            self.set_zoom(zoom)

    def _save(self) -> None:
        if self.settings is None:
            return
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("view/zoom", self.zoom)
        self.settings.sync()

    # ============================================================== closing

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._stopped:
            event.accept()
            self.closed.emit()
            return
        event.ignore()  # close once the lab is down; the window keeps painting meanwhile
        if not self._closing:
            self._closing = True
            self.set_lab_running(False)
            self._save()
            self._say(lambda: self.tr("Stopping the lab…"))
            self.bridge.stop()

    def _on_stopped(self) -> None:
        self._stopped = True
        self.set_lab_running(False)
        if self._closing:
            self.close()
        else:
            self._say(lambda: self.tr("The lab has stopped."))
