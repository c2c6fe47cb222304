"""The dialog that adds or edits one usr_preferences row: owner, attribute, type, value.

Rules of this module:
- It checks what was typed with the lab's own rule (labpbx.lab.provisioning.check_entry, the
  CLI's plus the no-dot pitfall) when OK is pressed; a bad entry keeps the dialog open with
  everything typed still there and one sentence, next to a "⚠", that says what to fix.
- It never writes: ``values()`` is read by the view once the dialog is accepted, and the view
  hands it to the bridge (a worker thread does the write).
- Opened with ``open()`` (window-modal, not a nested event loop), so the window keeps running.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from labpbx.lab.config import HOST, VOICEMAIL_NUMBER
from labpbx.lab.provisioning import CALLFWD, TYPES, AvpEntry, ProvisioningError, check_entry


class AvpDialog(QDialog):
    def __init__(self, entry: AvpEntry | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entry = entry  # None: a new row
        self.owner = QLineEdit(entry.owner if entry else "")
        self.attribute = QLineEdit(entry.attribute if entry else CALLFWD)
        self.type = QComboBox()
        for number, meaning in TYPES.items():
            self.type.addItem(f"{number} ({meaning})", number)
        self.type.setCurrentIndex(self.type.findData(entry.type if entry else 0))
        self.value = QLineEdit(entry.value if entry else "")
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._check_and_accept)
        self.buttons.rejected.connect(self.reject)
        self.form = QFormLayout()
        self._labels = [QLabel() for _ in range(4)]
        for label, field in zip(self._labels, (self.owner, self.attribute, self.type, self.value),
                                strict=True):
            label.setBuddy(field)
            self.form.addRow(label, field)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance("x") * 60)
        self.retranslate_ui()

    def retranslate_ui(self) -> None:
        self.setWindowTitle(self.tr("Edit AVP %1").replace("%1", str(self.entry.id))
                            if self.entry else self.tr("Add an AVP"))
        for label, text in zip(self._labels, (self.tr("&Owner (user@domain):"),
                                              self.tr("&Attribute:"), self.tr("&Type:"),
                                              self.tr("&Value:")), strict=True):
            label.setText(text)
        self.owner.setPlaceholderText(f"1001@{HOST}")
        self.value.setPlaceholderText(f"sip:{VOICEMAIL_NUMBER}@{HOST}")
        self.owner.setAccessibleName(self.tr("Owner of the AVP (user@domain, or a uuid)"))
        self.owner.setToolTip(self.tr("The domain needs a dot (an IP address such as 127.0.0.1): "
                                      "user@localhost would be stored as a uuid that "
                                      "avp_db_load(\"$ru\") never finds."))
        self.attribute.setAccessibleName(self.tr("Attribute name"))
        self.type.setAccessibleName(self.tr("AVP type"))
        self.value.setAccessibleName(self.tr("AVP value"))
        self.buttons.setAccessibleName(self.tr("Save or cancel"))
        for button in self.buttons.buttons():
            role = self.buttons.buttonRole(button)
            button.setAccessibleName(self.tr("Save the AVP")
                                     if role == QDialogButtonBox.ButtonRole.AcceptRole
                                     else self.tr("Cancel"))
        self.error.setAccessibleName(self.tr("What is wrong with the entry"))

    def changeEvent(self, event: QEvent) -> None:  # Qt's name
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    def values(self) -> tuple[str, str, int, str]:
        """(owner, attribute, type, value) as typed (owner and attribute stripped)."""
        return (self.owner.text().strip(), self.attribute.text().strip(),
                int(self.type.currentData()), self.value.text())

    def _check_and_accept(self) -> None:
        try:
            check_entry(*self.values())
        except ProvisioningError as exc:
            # The rule's own sentence (the store's words, as the CLI prints them).
            self.error.setText("⚠ " + str(exc))
            self.error.show()
            return
        self.error.hide()
        self.accept()
