"""Keeping a process's stdout clean for the event stream while pjlib starts.

pjlib prints its start-up banner (~6 lines) to stdout during ``libCreate``, before any log setting
applies (PJSUA2.md). ``stdout_to_stderr()`` points file descriptor 1 at stderr for that moment.
No pjsua2 here: the agent wraps its ``libCreate`` call in it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Point fd 1 at stderr while pjlib prints its start-up banner (before log settings apply).

    Best effort: where the C library cannot be flushed (Windows), nothing is redirected and the
    consumers' "ignore non-JSON lines" rule covers it.
    """
    try:
        libc = ctypes.CDLL(None)
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, AttributeError, TypeError, ValueError):
        yield
        return
    try:
        os.dup2(2, 1)
    except OSError:  # no stderr to borrow: leave stdout as it is
        os.close(saved)
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            libc.fflush(None)  # pjlib's banner sits in C's stdio buffer: out before fd 1 returns
        os.dup2(saved, 1)
        os.close(saved)


