"""The voicemail box: the tutorial's external media server (DESIGN.md "voicemail/").

    box.py           pure rules: mailbox/greeting from b<ext>, u<ext> or the voicemail number plus
                     Diversion; message metadata; recording limits; silence detection
    greetings.py     greeting lookup (per-mailbox file wins over the shipped espeak-ng speech) and
                     the WAV chores done after a recording is finished
    memory_store.py  an in-memory MessageStore (tests; the lab's index lives in labpbx/store)
    mwi.py           pure: the unsolicited message-summary NOTIFY of a mailbox (RFC 3842)
    notifier.py      sends those NOTIFYs to the proxy over our own SIP transaction layer
    media.py         VoicemailServer, the only pjsua2 user here (import it only to run the box)
    process.py       ``labpbx voicemail``: the box as its own process, events as JSON lines

Importing this package does not import pjsua2.
"""

from __future__ import annotations

from labpbx.voicemail.box import (
    BoxConfig,
    MailboxTarget,
    MessageStore,
    RecordingLimits,
    SilenceDetector,
    VoicemailMessage,
    resolve,
)
from labpbx.voicemail.memory_store import MemoryMessageStore

__all__ = ["BoxConfig", "MailboxTarget", "MemoryMessageStore", "MessageStore",
           "RecordingLimits", "SilenceDetector", "VoicemailMessage", "resolve"]
