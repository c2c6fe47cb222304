"""One window per data directory: a second ``labpbx gui`` on the same data raises the first.

Rules of this module:
- The first window takes a lock file in the data directory (QLockFile: it records the PID and
  host, so a lock left by a crashed window is found stale and taken over) and listens on a
  local socket (QLocalServer) whose name is derived from the data directory. Both exist from the
  moment the window opens, before its lab has started, so two windows started together cannot
  both start a lab (the lab's own state file is written only once the lab runs).
- A second window that cannot take the lock connects to that socket, asks for ``raise`` and
  exits; it never starts a lab. If the first does not answer (a hung process), the second says
  which PID holds the directory and exits too: starting a second lab on the same data would
  fight over the same ports and database.
- A headless ``labpbx lab`` in the same directory is not a window: the window opens and says in
  its banner that another lab runs there (ui.text.explain_failure), as before.
"""

from __future__ import annotations

import getpass
import hashlib
from enum import Enum
from pathlib import Path

from PySide6.QtCore import QByteArray, QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

LOCK_NAME = "labpbx-window.lock"
RAISE = b"raise\n"
ANSWER = b"raised\n"
CONNECT_TIMEOUT_MS = 2000
# A lock whose owner has not refreshed it is only stale if that process is gone; QLockFile checks
# the PID, so the stale time only matters for locks from another host (a shared home directory).
STALE_LOCK_MS = 0


class Claim(Enum):
    OWNER = "owner"  # this process owns the data directory: open the window
    RAISED = "raised"  # another window owns it and was asked to come to the front
    BUSY = "busy"  # another process holds the lock and did not answer


def server_name(data_dir: Path) -> str:
    """The local socket's name for ``data_dir``: one per user and directory, short enough for
    the 108-byte limit of a Unix socket path."""
    key = f"{getpass.getuser()}\0{data_dir.resolve()}".encode()
    return "labpbx-" + hashlib.sha256(key).hexdigest()[:20]


class WindowOwnership(QObject):
    """Claim a data directory for this process's window, or hand over to the one that has it."""

    raise_requested = Signal()  # another ``labpbx gui`` on this data asked for the window

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.data_dir = data_dir
        self.name = server_name(data_dir)
        self._lock = QLockFile(str(data_dir / LOCK_NAME))
        self._lock.setStaleLockTime(STALE_LOCK_MS)
        self._server: QLocalServer | None = None
        self.holder_pid = 0  # the other process, when the claim failed

    def claim(self) -> Claim:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._lock.tryLock(0):
            self._listen()
            return Claim.OWNER
        info = self._lock.getLockInfo()  # (pid, hostname, appname); empty when unreadable
        self.holder_pid = int(info[0]) if isinstance(info, tuple) and info else 0
        return Claim.RAISED if ask_to_raise(self.name) else Claim.BUSY

    def _listen(self) -> None:
        # We hold the lock, so a socket left under this name is a dead window's.
        QLocalServer.removeServer(self.name)
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.name):
            return  # the window still works; only a second start cannot raise it
        server.newConnection.connect(self._accept)
        self._server = server

    def _accept(self) -> None:
        assert self._server is not None
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():
                self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        if not socket.canReadLine():
            return
        if bytes(socket.readLine().data()) == RAISE:
            socket.write(QByteArray(ANSWER))
            socket.flush()
            self.raise_requested.emit()
        socket.disconnectFromServer()

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self._lock.unlock()


def ask_to_raise(name: str, timeout_ms: int = CONNECT_TIMEOUT_MS) -> bool:
    """Ask the window listening on ``name`` to come to the front; whether it said it did.

    Blocking, with a timeout: it runs in a second process before its window exists."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(timeout_ms):
        return False
    socket.write(QByteArray(RAISE))
    if not socket.waitForBytesWritten(timeout_ms):
        return False
    while not socket.canReadLine():
        if not socket.waitForReadyRead(timeout_ms):
            return False
    answered = bytes(socket.readLine().data()) == ANSWER
    socket.disconnectFromServer()
    return answered
