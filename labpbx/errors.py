"""The exception hierarchy of LabPBX.

    LabPbxError
     ├── SipError
     │    ├── SipParseError          malformed bytes from the network; carries status_hint (400, 413 …)
     │    └── LocalProtocolError     we misused the SIP layer (a bug or a bad script action)
     ├── ScriptError                 a routing script that cannot be loaded; file, line, column, text
     │    ├── ScriptSyntaxError
     │    └── ScriptSemanticError    unknown function / route / pseudo-variable, wrong argument count
     ├── ScriptRuntimeError          one request's script run failed; the proxy answers 500 and goes on
     ├── StoreError                  the lab database is unreadable, corrupt or locked too long
     └── ConfigError                 bad command-line values, a port already in use, …
"""

from __future__ import annotations


class LabPbxError(Exception):
    """Base of every error LabPBX raises on purpose."""


class SipError(LabPbxError):
    """Base of SIP protocol errors."""


class SipParseError(SipError):
    """The peer sent something that is not a valid SIP message.

    ``status_hint`` is the response a server should answer with when it can answer at all
    (a request whose Via, From, To, Call-ID and CSeq could still be read).
    """

    def __init__(self, message: str, status_hint: int = 400) -> None:
        super().__init__(message)
        self.status_hint = status_hint


class LocalProtocolError(SipError):
    """We tried to do something SIP does not allow (e.g. answer a request twice with a final)."""


class ScriptError(LabPbxError):
    """A routing script that cannot be loaded. Position is 1-based; ``text`` is the offending text."""

    def __init__(
        self, message: str, *, file: str = "<script>", line: int = 0, column: int = 0,
        text: str = "", context: str = "",
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.text = text
        self.context = context
        where = f"{file}:{line}:{column}" if line else file
        detail = f" near {text!r}" if text else ""
        super().__init__(f"{where}: {message}{detail}")


class ScriptSyntaxError(ScriptError):
    """The script does not follow the grammar."""


class ScriptSemanticError(ScriptError):
    """The script parses but names an unknown function, route or variable, or miscounts arguments."""


class ScriptRuntimeError(LabPbxError):
    """Evaluating the script for one message failed; that message gets a 500, the proxy goes on."""


class StoreError(LabPbxError):
    """The lab database cannot be read or written; nothing was changed."""


class ConfigError(LabPbxError):
    """Invalid configuration or environment (bad address, port in use, missing file)."""
