"""The window's Help menu: System check… (labpbx doctor's report) and About LabPBX.

Rules of this module:
- The menu owns its actions and words them itself (``retranslate_ui``, again on LanguageChange),
  so the main window only adds it to its menu bar.
- The dialogs are modeless, created on first use and kept (one of each); the system check runs
  again each time it is opened, on its worker thread.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QWidget

from ui.about_dialog import AboutDialog
from ui.doctor_dialog import DoctorDialog


class HelpMenu(QMenu):
    def __init__(self, data_dir: Path, proxy_port: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data_dir = data_dir
        self.proxy_port = proxy_port
        self.doctor_dialog: DoctorDialog | None = None
        self.about_dialog: AboutDialog | None = None
        self.check_action = QAction(self)
        self.check_action.triggered.connect(self.show_doctor)
        self.about_action = QAction(self)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self.show_about)
        self.addAction(self.check_action)
        self.addSeparator()
        self.addAction(self.about_action)
        self.retranslate_ui()

    def retranslate_ui(self) -> None:
        self.setTitle(self.tr("&Help"))
        self.check_action.setText(self.tr("&System check…"))
        self.about_action.setText(self.tr("&About LabPBX"))

    def changeEvent(self, event: QEvent) -> None:  # Qt's name
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    def show_doctor(self) -> DoctorDialog:
        if self.doctor_dialog is None:
            self.doctor_dialog = DoctorDialog(self.data_dir, self.proxy_port, self.parentWidget())
        self.doctor_dialog.show()
        self.doctor_dialog.raise_()
        self.doctor_dialog.run_checks()
        return self.doctor_dialog

    def show_about(self) -> AboutDialog:
        if self.about_dialog is None:
            self.about_dialog = AboutDialog(self.parentWidget())
        self.about_dialog.show()
        self.about_dialog.raise_()
        return self.about_dialog
