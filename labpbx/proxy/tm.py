"""Transaction-module state: a cell per proxied request, its branches, and the winning-reply choice.

Pure bookkeeping; the engine (labpbx.proxy.engine) drives it. Semantics follow OpenSIPS 2.4 tm
(SEMANTICS.md §2): branches are grouped in serial legs (``first_branch`` marks where the current leg
starts: t_relay() from failure_route opens a new leg in the same cell); the winning negative reply is
chosen among the current leg only, by OpenSIPS' ``branch_prio`` order; a timeout is recorded as a
locally generated (faked) 408 on the branch.
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field

from labpbx.script.host import Value
from labpbx.sip.message import Request, Response
from labpbx.sip.transaction import ClientTransaction, ServerTransaction

Addr = tuple[str, int]

_cell_ids = itertools.count(1)


class BranchState(enum.Enum):
    SENT = "sent"  # waiting for a first reply (fr_timeout runs)
    PROCEEDING = "proceeding"  # got a provisional (fr_inv_timeout runs for INVITE)
    COMPLETED = "completed"  # has a final (received or faked)


@dataclass(slots=True, eq=False)
class Branch:
    cell: Cell
    index: int
    uri: str  # the branch's Request-URI
    dst: Addr  # where it was sent
    request: Request  # as sent
    transaction: ClientTransaction | None = None
    state: BranchState = BranchState.SENT
    last_received: int = 0  # highest status received so far, 0 = none (OpenSIPS uac->last_received)
    reply: Response | None = None  # the final reply received (None for a faked one)
    status: int = 0  # final status (received or faked)
    local: bool = False  # the final was generated here (timeout 408, transport error 503)
    timed_out: bool = False
    cancel_sent: bool = False
    cancel_pending: bool = False  # cancel as soon as a provisional arrives (OpenSIPS T_UAC_TO_CANCEL)
    cancel_reason: str | None = None  # Reason header for that pending CANCEL
    deadline: float | None = None  # fr / fr_inv deadline
    timer_gen: int = 0

    @property
    def completed(self) -> bool:
        return self.state is BranchState.COMPLETED


@dataclass(slots=True, eq=False)
class Cell:
    """One proxied request (an OpenSIPS tm 'cell')."""

    server: ServerTransaction
    request: Request  # as received, never modified (revert_uri, $ou, CANCEL matching)
    relay_base: Request | None = None  # the request as the request route left it: new branches copy it
    id: int = field(default_factory=lambda: next(_cell_ids))
    branches: list[Branch] = field(default_factory=list)
    first_branch: int = 0
    on_failure: str | None = None
    on_reply: str | None = None
    on_branch: str | None = None
    avps: dict[str, list[Value]] = field(default_factory=dict)
    flags: int = 0
    cancelled: bool = False
    final_status: int = 0  # final reply sent upstream (0 = none yet)
    last_sent_status: int = 0  # last reply sent statefully upstream ($T_reply_code in request route)
    to_tag: str = ""
    fr_timeout: float | None = None  # $T_fr_timeout override
    fr_inv_timeout: float | None = None
    saw_6xx: bool = False
    in_failure_route: bool = False
    loop_hash: str = ""  # of the request as received, computed once (RFC 3261 §16.6 step 8)

    @property
    def is_invite(self) -> bool:
        return self.request.method == "INVITE"

    @property
    def tid(self) -> str:
        return f"T{self.id}"

    def current_leg(self) -> list[Branch]:
        return self.branches[self.first_branch:]

    def leg_completed(self) -> bool:
        leg = self.current_leg()
        return bool(leg) and all(b.completed for b in leg)

    def pending_branches(self) -> list[Branch]:
        return [b for b in self.branches if not b.completed]


def branch_priority(status: int, cancelled: bool) -> int:
    """OpenSIPS tm ``branch_prio``: lower wins (SEMANTICS.md §2.1)."""
    if cancelled and status == 487:
        return 0
    if status < 300:
        return 1
    if status >= 600:
        return 2
    if status < 400:
        return 3
    if status in (401, 407, 415, 420, 484):
        return 4
    if status < 500 and status != 408:
        return 5
    if status < 600 and status != 503 and status != 408:
        return 6
    if status == 408:
        return 7
    return 8  # 503


def pick_branch(cell: Cell) -> Branch | None:
    """The winning completed branch of the current leg, first one wins a tie; None if the leg is empty."""
    best: Branch | None = None
    best_prio = 99
    for branch in cell.current_leg():
        if not branch.completed:
            continue
        prio = branch_priority(branch.status, cell.cancelled)
        if prio < best_prio:
            best, best_prio = branch, prio
    return best
