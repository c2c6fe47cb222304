"""The main window: extension cards on the left; calls (with the selected call's ladder) and the
routing log on the right; the lab's progress and problems in a banner and the status bar.

Rules of this module:
- It wires the views to a LabBridge and never touches the lab itself: every lab operation is a
  bridge call that returns at once; results and failures come back as signals.
- Closing the window stops the lab first, on the bridge's worker thread: the close is deferred
  (the window says "Stopping the lab…" and keeps painting) and happens when ``stopped`` arrives.
- Zoom (Ctrl+= / Ctrl+- / Ctrl+0, 100–200 %) scales the window's font; the views inherit it.
- With a QSettings (the app passes the user's; tests and screenshots pass none) the zoom and
  the window's geometry are kept from one run to the next.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QFontDatabase, QKeySequence
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

from labpbx.lab.state import LAB, ComponentStatus, LabState
from ui.bridge import LabBridge
from ui.calls_view import CallsView
from ui.extension_card import ExtensionCard
from ui.log_view import LogView
from ui.text import component_status_label

ZOOM_STEPS = (100, 125, 150, 175, 200)


class MainWindow(QMainWindow):
    closed = Signal()  # the lab has stopped and the window is gone

    def __init__(self, bridge: LabBridge, parent: QWidget | None = None, *,
                 settings: QSettings | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.settings = settings
        self.setWindowTitle(self.tr("LabPBX"))
        self.setAccessibleName(self.tr("LabPBX"))
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
        tabs.addTab(self.calls, self.tr("&Calls"))
        tabs.addTab(self.log, self.tr("&Routing log"))
        tabs.setAccessibleName(self.tr("Views"))
        tabs.tabBar().setAccessibleName(self.tr("Calls or routing log"))
        self.tabs = tabs
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(tabs)

        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setFrameShape(QFrame.Shape.StyledPanel)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.setAccessibleName(self.tr("Lab problems"))
        self.banner.hide()
        self.components = QLabel()
        self.components.setWordWrap(True)
        self.components.setAccessibleName(self.tr("Lab components"))

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
        self.progress.setFormat(self.tr("%v of %m extensions registered"))
        self.progress.setAccessibleName(self.tr("Start-up progress"))
        self.progress.setMinimumWidth(self.progress.fontMetrics().horizontalAdvance(
            self.progress.format().replace("%v", "00").replace("%m", "00")) + 24)
        self.status = QLabel(self.tr("Starting the lab…"))
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

    def _build_menus(self) -> None:
        lab_menu = self.menuBar().addMenu(self.tr("&Lab"))
        quit_action = QAction(self.tr("&Quit (stops the lab)"), self)
        quit_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Quit))
        quit_action.triggered.connect(self.close)
        lab_menu.addAction(quit_action)
        view = self.menuBar().addMenu(self.tr("&View"))
        for text, keys, step in ((self.tr("Zoom &in"), ("Ctrl+=", "Ctrl++"), 1),
                                 (self.tr("Zoom &out"), ("Ctrl+-",), -1),
                                 (self.tr("&Actual size"), ("Ctrl+0",), 0)):
            action = QAction(text, self)
            action.setShortcuts([QKeySequence(k) for k in keys])
            action.triggered.connect(lambda _checked=False, s=step: self.step_zoom(s))
            view.addAction(action)
            self.addAction(action)  # the shortcut works with the menu closed
        find = QAction(self.tr("&Filter the log"), self)
        find.setShortcut(QKeySequence("Ctrl+L"))
        find.triggered.connect(self._focus_log_filter)
        view.addAction(find)
        self.addAction(find)

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
        parts = []
        for name, component in sorted(state.components.items()):
            if name == LAB:
                continue
            word = component_status_label(component.status)
            parts.append(f"{name}: {word}")
        self.components.setText("  ·  ".join(parts) if parts else self.tr("Starting…"))
        crashed = [c for c in state.components.values()
                   if c.status in (ComponentStatus.EXITED, ComponentStatus.FAILED)
                   and c.name != LAB and not self.bridge.stopping]
        if crashed and self.bridge.running:
            self._crash_shown = True
            self.show_problem("\n".join(
                self.tr("%1 stopped unexpectedly: %2").replace("%1", c.name)
                .replace("%2", c.detail or c.status.value) for c in crashed))
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
        lab = self.bridge.lab
        where = lab.proxy_address if lab is not None else ""
        self.status.setText(self.tr("Lab running — proxy udp:%1 (register softphones here), "
                                    "voicemail 2345678").replace("%1", where))

    def _on_start_failed(self, message: str) -> None:
        self.set_lab_running(False)
        self.status.setText(self.tr("The lab is not running."))
        self.show_problem(message)

    def _on_command_failed(self, what: str, why: str) -> None:
        self.status.setText(f"{what}: {why}")
        self.status.setAccessibleDescription(f"{what}: {why}")

    def _on_command_done(self, what: str, _result: object) -> None:
        self.status.setText(self.tr("%1: done").replace("%1", what))

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
        self.calls.ladder.setFont(fixed)
        self.log.table.setFont(fixed)
        self._fit_cards()
        self.statusBar().showMessage(self.tr("Zoom %1 %").replace("%1", str(self.zoom)), 2000)

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
            self.status.setText(self.tr("Stopping the lab…"))
            self.bridge.stop()

    def _on_stopped(self) -> None:
        self._stopped = True
        self.set_lab_running(False)
        if self._closing:
            self.close()
        else:
            self.status.setText(self.tr("The lab has stopped."))
