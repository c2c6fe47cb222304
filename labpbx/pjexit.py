"""Ending a process that has loaded pjsua2: flush, then ``os._exit`` without library teardown.

Why: pjproject 2.15.1 (the ``pjsua2-python`` wheel) has an asynchronous conference bridge
(pjproject #3928). Removing a port only queues the removal for the bridge's clock thread, which
may still call the port after its object is freed (#4200, #4526, #5057). ``libDestroy`` and the
interpreter's own teardown destroy the remaining calls, players, recorders and Python-subclassed
ports in an order nobody controls, with that thread still running: the voicemail box died with
SIGSEGV there (a CI run; 1 in 100 quits of ``bench/stress_shutdown.py``). The components
therefore make everything durable and end their SIP side first (calls hung up, recordings
closed and indexed, un-REGISTER sent, the "stopped" event written), and then the process ends
here: the kernel closes the sockets and files and frees the memory, and no destructor runs.

Only the entry points of the pjsua2 processes (``labpbx voicemail``, ``labpbx phone``) call this;
library code never does.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import NoReturn


def exit_process(code: int) -> NoReturn:
    """Flush Python's standard streams and end the process with ``code`` at once."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.flush()
    os._exit(code)
