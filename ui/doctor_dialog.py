"""Help → System check…: ``labpbx doctor``'s report in a dialog.

Rules of this module:
- The checks take seconds (two short child processes, ports bound and closed): they run on a
  worker thread and come back through a queued signal; the GUI thread never waits for them.
- The window's own Qt is reported (it is running, so it evidently starts) instead of a Qt probe
  child; everything else is probed exactly as ``labpbx doctor`` does (labpbx.doctor).
- The report is the same text as the terminal's, in a fixed-width, read-only, selectable view;
  each line says its status in words (OK / WARNING / FAILED), never by colour alone.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from labpbx.doctor import Probes, Report, Status, run_doctor
from ui.qt_probe import running_qt_info
from ui.text import arg


class _Relay(QObject):
    """Carries the worker thread's result to the GUI thread (a queued signal)."""

    finished = Signal(object)


class DoctorDialog(QDialog):
    report_ready = Signal(object)  # the Report, on the GUI thread

    def __init__(self, data_dir: Path, proxy_port: int = 5060,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data_dir = data_dir
        self.proxy_port = proxy_port
        self.report: Report | None = None
        self._running = False
        self._relay = _Relay(self)
        self._relay.finished.connect(self._show_report)

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)
        self.again = QPushButton()
        self.again.clicked.connect(self.run_checks)
        self.copy = QPushButton()
        self.copy.clicked.connect(self._copy)
        self.buttons.addButton(self.again, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(self.copy, QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.buttons)
        self.resize(760, 460)
        self.retranslate_ui()

    def retranslate_ui(self) -> None:
        self.setWindowTitle(self.tr("System check"))
        self.setAccessibleName(self.tr("System check"))
        self.text.setAccessibleName(self.tr("System check report"))
        self.again.setText(self.tr("&Check again"))
        self.again.setAccessibleName(self.tr("Run the system check again"))
        self.copy.setText(self.tr("C&opy report"))
        self.copy.setAccessibleName(self.tr("Copy the report to the clipboard"))
        self.summary.setText(self._summary_words())

    def changeEvent(self, event: QEvent) -> None:  # Qt's name
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    def _summary_words(self) -> str:
        if self._running or self.report is None:
            return self.tr("Checking this computer for the lab…")
        counts = self.report.counts()
        if self.report.status is Status.FAIL:
            return arg(self.tr("%1 check(s) failed: the lab cannot run until they are fixed "
                               "(each has its fix below)."), counts[Status.FAIL])
        if self.report.status is Status.WARN:
            return arg(self.tr("The lab can run; %1 warning(s) below, each with its fix."),
                       counts[Status.WARN])
        return self.tr("Everything the lab needs is here.")

    def run_checks(self) -> None:
        """Start the checks on a worker thread (returns at once)."""
        if self._running:
            return
        self._running = True
        self.again.setEnabled(False)
        self.summary.setText(self._summary_words())
        qt = running_qt_info()  # read on the GUI thread
        probes = replace(Probes(), qt=lambda: qt)
        relay, data_dir, port = self._relay, self.data_dir, self.proxy_port

        def work() -> None:
            try:
                result: object = run_doctor(data_dir, port, probes)
            except Exception as exc:  # a bug in a probe: say it in the dialog, not a traceback
                result = exc
            relay.finished.emit(result)

        threading.Thread(target=work, name="labpbx-doctor", daemon=True).start()

    def _show_report(self, result: object) -> None:
        self._running = False
        self.again.setEnabled(True)
        if isinstance(result, Report):
            self.report = result
            self.text.setPlainText(result.to_text())
            self.summary.setText(self._summary_words())
            self.report_ready.emit(result)
        else:
            self.summary.setText(arg(self.tr("The check itself failed: %1"), result))

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text.toPlainText())
