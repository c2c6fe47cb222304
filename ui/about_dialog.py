"""Help → About LabPBX: the version, what the program is under, and the third-party notice.

Rules of this module:
- The licence statement says what this very program is: the installed bundle (GPL-3.0-or-later
  as a whole, since it contains pjproject and Qt; LabPBX's own code MIT) or a source run (MIT;
  the libraries installed separately). labpbx.notices decides which and finds the notice: the
  file the build wrote into the bundle, or generated now from this Python's installed packages.
- Reading that notice is a small local file read (or a metadata scan): fine on the GUI thread.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QFontDatabase, QIcon
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from labpbx import __version__
from labpbx.notices import licenses_dir, load_notice
from labpbx.paths import asset_path
from ui.text import arg


def app_icon() -> QIcon:
    return QIcon(str(asset_path("icons", "labpbx.svg")))


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.notice, self.bundled = load_notice()
        self.icon = QLabel()
        self.icon.setPixmap(app_icon().pixmap(64, 64))
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        self.title.setFont(font)
        self.licence = QLabel()
        self.licence.setWordWrap(True)
        self.licence.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.where = QLabel()
        self.where.setWordWrap(True)
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice_view = QPlainTextEdit(self.notice)
        self.notice_view.setReadOnly(True)
        self.notice_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)
        head = QHBoxLayout()
        head.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        texts = QVBoxLayout()
        texts.addWidget(self.title)
        texts.addWidget(self.licence)
        head.addLayout(texts, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.where)
        layout.addWidget(self.notice_view, 1)
        layout.addWidget(self.buttons)
        self.resize(720, 520)
        self.retranslate_ui()

    def retranslate_ui(self) -> None:
        self.setWindowTitle(self.tr("About LabPBX"))
        self.setAccessibleName(self.tr("About LabPBX"))
        self.title.setText(arg(self.tr("LabPBX %1"), __version__))
        if self.bundled:
            self.licence.setText(self.tr(
                "LabPBX's own source code is under the MIT licence. This installed program also "
                "contains pjproject (GPL-2.0-or-later) and Qt (LGPL-3.0), so the program as a "
                "whole is distributed under the GNU General Public License, version 3 or later. "
                "Qt's libraries are separate files in the installation folder and can be "
                "replaced."))
        else:
            self.licence.setText(self.tr(
                "This is LabPBX run from source, under the MIT licence. The libraries it uses "
                "are installed separately, each under its own licence (listed below)."))
        folder = licenses_dir()
        self.where.setText(arg(self.tr("Licence texts: %1"), folder) if folder is not None
                           else self.tr("Third-party components and their licences:"))
        self.notice_view.setAccessibleName(self.tr("Third-party notices"))

    def changeEvent(self, event: QEvent) -> None:  # Qt's name
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()
