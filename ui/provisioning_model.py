"""The usr_preferences rows as a Qt table model, the columns of ``labpbx avp list``.

Rules of this module:
- One row per AvpEntry, by ascending id, as the CLI lists them. The headers are the table's
  column names (id, uuid, username, …): database identifiers, the same words the CLI, the SQL
  and the tutorial use, so they are not translated. The type column shows the number and
  opensipsctl's meaning ("0 (str:str)").
- ``set_rows`` updates in place (ui.keyed_rows): a row the CLI added appears, a removed one
  goes, an edited one changes, and the selection stays on its row.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from labpbx.lab.provisioning import COLUMNS, TYPES, AvpEntry
from ui.keyed_rows import sync_rows

Index = QModelIndex | QPersistentModelIndex
TYPE_COLUMN = COLUMNS.index("type")
NUMERIC = frozenset({COLUMNS.index("id"), TYPE_COLUMN})


class AvpModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.rows: list[AvpEntry] = []

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal
                and 0 <= section < len(COLUMNS)):
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        entry = self.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            value = entry.column(COLUMNS[column])
            if column == TYPE_COLUMN:
                return f"{value} ({TYPES.get(entry.type, '?')})"
            return str(value)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.UserRole:
            return entry.id
        return None

    def set_rows(self, rows: list[AvpEntry]) -> bool:
        """Show ``rows``; True when anything changed."""
        return sync_rows(self, self.rows, list(rows), lambda r: r.id, len(COLUMNS))

    def row_of(self, row_id: int) -> int:
        """The row that shows id ``row_id``, or -1."""
        return next((i for i, r in enumerate(self.rows) if r.id == row_id), -1)
