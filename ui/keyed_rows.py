"""Bring a Qt model's list of rows up to date with a new list, row by row, so that a view's
selection and scroll position survive a reload (a model reset would lose both).

Rules of this module:
- Rows have a key (an id) and both lists are in the same order (e.g. by id, or newest first):
  rows whose key is gone are removed (bottom-up), new keys are inserted where the new list has
  them, and rows whose value changed get one ``dataChanged``. If the kept rows are not in the
  same relative order the model is reset instead (the view then restores its selection itself).
- It mutates ``rows`` (the model's own list) between the begin…/end… calls, as Qt requires.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from PySide6.QtCore import QAbstractItemModel, QModelIndex

R = TypeVar("R")


def sync_rows(model: QAbstractItemModel, rows: list[R], new: list[R],
              key: Callable[[R], Hashable], columns: int) -> bool:
    """Make ``rows`` equal to ``new``, telling ``model``'s views; True when anything changed."""
    if rows == new:
        return False
    new_keys = {key(r) for r in new}
    for i in range(len(rows) - 1, -1, -1):
        if key(rows[i]) not in new_keys:
            model.beginRemoveRows(QModelIndex(), i, i)
            del rows[i]
            model.endRemoveRows()
    kept = {key(r) for r in rows}
    if [key(r) for r in rows] != [key(r) for r in new if key(r) in kept]:
        model.beginResetModel()
        rows[:] = new
        model.endResetModel()
        return True
    for i, row in enumerate(new):
        if i < len(rows) and key(rows[i]) == key(row):
            if rows[i] != row:
                rows[i] = row
                model.dataChanged.emit(model.index(i, 0), model.index(i, columns - 1))
        else:
            model.beginInsertRows(QModelIndex(), i, i)
            rows.insert(i, row)
            model.endInsertRows()
    return True
