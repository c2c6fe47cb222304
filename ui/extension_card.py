"""One extension as a card: number, registration, call state, answer policy, forwarding, MWI,
and the actions (call, answer, reject 486/603, hang up).

Rules of this module:
- The card shows an ExtensionState and emits intents (``*_requested``); it never talks to the
  lab, so it can be tested without one and a slow lab cannot freeze it.
- An incoming call is visible at a glance: a bold "☎ Ringing" line, a thick frame in the
  palette's highlight colour (painted, so it follows the scheme), the Answer button enabled, and
  the window scrolls the card into view — never colour alone.
- Every control has an accessible name that includes the extension, so a screen reader (and a
  test) can tell the five cards' "Call" buttons apart.
- Its texts are set in ``retranslate_ui`` (again on LanguageChange); the number, peers and URIs
  are never translated.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from labpbx.lab.config import VOICEMAIL_NUMBER
from labpbx.lab.state import Activity, ExtensionState, Leg, LegState
from labpbx.phones.policy import DEFAULT_RING_TIME, Policy
from ui.text import activity_text, arg, policy_label, registration_text

TITLE_SCALE = 1.6
RINGING_FRAME = 3  # px


class ExtensionCard(QFrame):
    call_requested = Signal(str, str)  # (from extension, to: extension, number or SIP URI)
    policy_requested = Signal(str, str, float)  # (extension, policy word, ring time)
    answer_requested = Signal(str)  # leg
    reject_requested = Signal(str, int)  # (leg, 486 or 603)
    hangup_requested = Signal(str)  # leg
    ringing_started = Signal()  # a call to it has begun ringing: the window shows the card

    def __init__(self, number: str, others: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.number = number
        self.state = ExtensionState(number)
        self.setObjectName(f"card-{number}")
        self.setFrameShape(QFrame.Shape.StyledPanel)

        self.title = QLabel(number)
        self.registration = QLabel()
        self.registration.setWordWrap(True)
        self.activity = QLabel()
        self.forwarding = QLabel()
        self.forwarding.setWordWrap(True)
        self.mwi = QLabel()

        self.policy = QComboBox()
        for policy in Policy:
            self.policy.addItem("", policy.value)  # the label: retranslate_ui
        self.ring_time = QDoubleSpinBox()
        self.ring_time.setRange(0.0, 60.0)
        self.ring_time.setDecimals(1)
        self.ring_time.setSingleStep(0.5)
        self.ring_time.setValue(DEFAULT_RING_TIME)
        self.apply_policy = QPushButton()

        self.target = QComboBox()
        self.target.setEditable(True)
        self.target.addItems([*others, VOICEMAIL_NUMBER])
        self.call_button = QPushButton()
        self.answer_button = QPushButton()
        self.busy_button = QPushButton()
        self.decline_button = QPushButton()
        self.hangup_button = QPushButton()

        for widget in (self.policy, self.ring_time, self.apply_policy, self.target,
                       self.call_button, self.answer_button, self.busy_button,
                       self.decline_button, self.hangup_button):
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addWidget(self.activity, 1)
        policy_row = QHBoxLayout()
        self.policy_caption = QLabel()
        self.policy_caption.setBuddy(self.policy)
        policy_row.addWidget(self.policy_caption)
        policy_row.addWidget(self.policy, 1)
        policy_row.addWidget(self.ring_time)
        policy_row.addWidget(self.apply_policy)
        call_row = QHBoxLayout()
        call_row.addWidget(self.target, 1)
        call_row.addWidget(self.call_button)
        actions = QGridLayout()
        actions.addWidget(self.answer_button, 0, 0)
        actions.addWidget(self.busy_button, 0, 1)
        actions.addWidget(self.decline_button, 0, 2)
        actions.addWidget(self.hangup_button, 0, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.registration)
        layout.addLayout(policy_row)
        badges = QHBoxLayout()
        badges.addWidget(self.forwarding, 1)
        badges.addWidget(self.mwi)
        layout.addLayout(badges)
        layout.addLayout(call_row)
        layout.addLayout(actions)

        self.call_button.clicked.connect(self._call)
        editor = self.target.lineEdit()
        if editor is not None:
            editor.returnPressed.connect(self._call)
        self.apply_policy.clicked.connect(self._set_policy)
        self.policy.activated.connect(self._set_policy)
        self.policy.currentIndexChanged.connect(self._policy_shown)
        self.answer_button.clicked.connect(self._answer)
        self.busy_button.clicked.connect(lambda: self._reject(486))
        self.decline_button.clicked.connect(lambda: self._reject(603))
        self.hangup_button.clicked.connect(self._hangup)
        self._ringing_shown = False
        self._scale_title()
        self.retranslate_ui()

    def retranslate_ui(self) -> None:
        """Set every text in the current language (at start and on LanguageChange)."""
        number = self.number
        self.setAccessibleName(arg(self.tr("Extension %1"), number))
        for index in range(self.policy.count()):
            self.policy.setItemText(index, policy_label(Policy(self.policy.itemData(index))))
        self.policy.setAccessibleName(arg(self.tr("Answer policy of %1"), number))
        self.policy_caption.setText(self.tr("Policy:"))
        self.ring_time.setSuffix(self.tr(" s"))
        self.ring_time.setAccessibleName(arg(self.tr("Ring time before %1 answers"), number))
        self.apply_policy.setText(self.tr("Set"))
        self.apply_policy.setAccessibleName(arg(self.tr("Set the answer policy of %1"), number))
        self.target.setToolTip(self.tr("An extension, the voicemail number or a sip: URI"))
        self.target.setAccessibleName(arg(self.tr("Whom %1 calls"), number))
        self.call_button.setText(self.tr("Call"))
        self.call_button.setAccessibleName(arg(self.tr("Call from %1"), number))
        self.answer_button.setText(self.tr("Answer"))
        self.answer_button.setAccessibleName(arg(self.tr("Answer the call to %1"), number))
        self.busy_button.setText(self.tr("Busy (486)"))
        self.busy_button.setAccessibleName(
            arg(self.tr("Reject the call to %1 as busy (486 Busy Here)"), number))
        self.decline_button.setText(self.tr("Decline (603)"))
        self.decline_button.setAccessibleName(
            arg(self.tr("Decline the call to %1 (603 Decline)"), number))
        self.hangup_button.setText(self.tr("Hang up"))
        self.hangup_button.setAccessibleName(arg(self.tr("Hang up the call of %1"), number))
        self._fit_mwi()
        self.show_state(self.state)  # the state's words (registration, activity, badges)

    def _fit_mwi(self) -> None:
        # The messages badge is as wide as its widest wording in this language and font, so the
        # card's minimum width (which sizes the cards' column) holds it whatever the count: "✉ 1
        # 条新留言" is wider than "✉ 无新留言" and would otherwise be clipped when a message comes.
        metrics = self.mwi.fontMetrics()
        self.mwi.setMinimumWidth(max(metrics.horizontalAdvance(text) for text in (
            self.tr("✉ %n new", "", 99), self.tr("✉ no new messages"))))

    # ============================================================== showing

    def show_state(self, state: ExtensionState, now: float | None = None) -> None:
        """Show ``state`` (called on each batch, and each second for the running duration)."""
        self.state = state
        now = time.time() if now is None else now
        self.registration.setText(registration_text(state))
        self.activity.setText(activity_text(state, now))
        ringing = self._ringing_leg() is not None
        bold = self.activity.font()
        bold.setBold(state.activity is not Activity.IDLE)
        self.activity.setFont(bold)
        if ringing != self._ringing_shown:
            self._ringing_shown = ringing
            self._frame_style()
            if ringing:
                self.ringing_started.emit()
        if state.policy is not None and not self.policy.hasFocus():
            index = self.policy.findData(state.policy.value)
            if index >= 0 and index != self.policy.currentIndex():
                self.policy.blockSignals(True)
                self.policy.setCurrentIndex(index)
                self.policy.blockSignals(False)
            if state.policy is Policy.ANSWER and not self.ring_time.hasFocus():
                self.ring_time.setValue(state.ring_time)
        self._policy_shown()
        self.forwarding.setText(self._forwarding_text(state))
        self.mwi.setText(self.tr("✉ %n new", "", state.new_messages)
                         if state.new_messages else self.tr("✉ no new messages"))
        self.mwi.setAccessibleName(arg(self.tr("Messages waiting for %1: %2"), self.number,
                                       state.new_messages))
        self.answer_button.setEnabled(ringing)
        self.busy_button.setEnabled(ringing)
        self.decline_button.setEnabled(ringing)
        self.hangup_button.setEnabled(bool(state.legs))

    def _forwarding_text(self, state: ExtensionState) -> str:
        badges: list[str] = []
        fwd = state.forwarding
        if fwd.unconditional:
            badges.append(arg(self.tr("↪ always → %1"), fwd.unconditional))
        if fwd.busy and fwd.busy == fwd.no_answer:  # the default script: one badge, one line
            badges.append(arg(self.tr("↪ busy, no answer → %1"), fwd.busy))
        else:
            if fwd.busy:
                badges.append(arg(self.tr("↪ busy → %1"), fwd.busy))
            if fwd.no_answer:
                badges.append(arg(self.tr("↪ no answer → %1"), fwd.no_answer))
        return "   ".join(badges) if badges else self.tr("no forwarding")

    def _ringing_leg(self) -> Leg | None:
        return next((leg for leg in reversed(self.state.legs)
                     if leg.direction == "incoming" and leg.state is not LegState.CONFIRMED),
                    None)

    def _policy_shown(self) -> None:
        self.ring_time.setEnabled(self.policy.currentData() == Policy.ANSWER.value)

    def _frame_style(self) -> None:
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # Qt's name
        super().paintEvent(event)
        if not self._ringing_shown:
            return
        # A ringing card gets a thick frame in the palette's highlight colour, read at each
        # paint, so it follows a light/dark scheme change (a style sheet would pin the
        # children's colours at polish time). The words "☎ Ringing" and the enabled Answer
        # button say the same without colour.
        painter = QPainter(self)
        pen = QPen(self.palette().color(QPalette.ColorRole.Highlight))
        pen.setWidth(RINGING_FRAME)
        painter.setPen(pen)
        half = RINGING_FRAME // 2
        painter.drawRect(self.rect().adjusted(half, half, -half - 1, -half - 1))
        painter.end()

    def changeEvent(self, event: QEvent) -> None:  # Qt's name
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._scale_title()  # zoom: the number stays bigger than the rest
            self._fit_mwi()
        elif event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    def _scale_title(self) -> None:
        font = self.font()
        font.setPointSizeF(font.pointSizeF() * TITLE_SCALE)
        font.setBold(True)
        self.title.setFont(font)

    # ============================================================== intents

    def _call(self) -> None:
        target = self.target.currentText().strip()
        if target:
            self.call_requested.emit(self.number, target)

    def _set_policy(self) -> None:
        self.policy_requested.emit(self.number, str(self.policy.currentData()),
                                   float(self.ring_time.value()))

    def _answer(self) -> None:
        leg = self._ringing_leg()
        if leg is not None:
            self.answer_requested.emit(leg.leg)

    def _reject(self, code: int) -> None:
        leg = self._ringing_leg()
        if leg is not None:
            self.reject_requested.emit(leg.leg, code)

    def _hangup(self) -> None:
        leg = self.state.current_leg
        if leg is not None:
            self.hangup_requested.emit(leg.leg)
