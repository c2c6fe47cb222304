"""What a running script needs from the proxy: the ScriptHost protocol and the shared value types.

The interpreter (labpbx.script.interpreter) evaluates control flow, expressions and format strings; every
pseudo-variable read/write and every function call goes through a ScriptHost, which the proxy implements
for one message (request route, failure route, branch route or reply route). Tests implement it with a
small fake. This module is pure.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

Value = str | int | None
"""A script value: string, integer, or NULL."""


class RouteKind(enum.Enum):
    REQUEST = "route"
    FAILURE = "failure_route"
    ONREPLY = "onreply_route"
    BRANCH = "branch_route"
    LOCAL = "local_route"
    ERROR = "error_route"
    STARTUP = "startup_route"


@dataclass(frozen=True, slots=True)
class PVar:
    """A parsed pseudo-variable reference, e.g. ``$ru``, ``$avp(callfwd)``, ``$(avp(callfwd)[1])``.

    name:   the class name without "$": "ru", "rU", "avp", "var", "hdr", "T_reply_code" …
    key:    the inner name for classes that take one (avp, var, hdr), else None. For avp the OpenSIPS
            "s:" / "i:" prefixes are removed ("$avp(s:callfwd)" and "$avp(callfwd)" give key "callfwd").
    index:  None (the top / first value), an int (negative counts from the end), "*" (all) or "append".
    text:   the variable as written in the script (for messages).
    """

    name: str
    key: str | None = None
    index: int | str | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class FunctionArg:
    """One evaluated argument of a script function call.

    value:  for "str"/"fmt" kinds the string (format strings already expanded), for "int" the int,
            for "route"/"pvar"/"raw" the text as written (validated at load).
    pvar:   for kind "pvar" the parsed PVar.
    """

    value: Value
    pvar: PVar | None = None


class ScriptHost(Protocol):
    """Implemented by the proxy for one message. ``line`` is the script line, for decision events."""

    def pv_get(self, pv: PVar) -> Value:
        """Read a pseudo-variable. Unset values read as None (NULL)."""
        ...

    def pv_set(self, pv: PVar, value: Value, op: str, line: int) -> None:
        """Assign. ``op`` is "=" (push for AVPs) or ":=" (replace all values for AVPs).
        Assigning None deletes (the top AVP value, or the whole AVP with index "*")."""
        ...

    def call(self, name: str, args: Sequence[FunctionArg], line: int) -> int:
        """Run a built-in function; returns its OpenSIPS return code (>0 true, <0 false, 0 stop)."""
        ...

    def is_myself(self, value: str) -> bool:
        """The ``myself`` keyword: does this URI or host[:port] name this proxy?"""
        ...

    def route_entered(self, kind: RouteKind, name: str | None, line: int) -> None:
        """Called when a route block starts (top level or via route(name)); for the trace."""
        ...
