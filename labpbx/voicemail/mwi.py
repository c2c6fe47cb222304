"""Message-waiting indication: the unsolicited NOTIFY the box sends for a mailbox (RFC 3842).

Rules of this module
  * Pure: no sockets, threads or clocks. Randomness (Call-ID, tag, branch) is drawn only when the
    caller does not pass it, so a test can build the exact message.
  * The NOTIFY is unsolicited, the way Asterisk and FreeSWITCH send it to a phone that never
    subscribed: ``Event: message-summary`` and ``Subscription-State: active`` outside any dialog.
    It goes to the proxy (Request-URI ``sip:<mailbox>@<proxy host:port>``), which looks the
    mailbox up like any extension and relays it to the registered phone.
  * From is the box (``sip:voicemail@<box host:port>`` with a fresh tag), To the mailbox's
    address of record at the proxy host (no tag). Via and Contact carry the address the NOTIFY
    is sent from (the sender's own socket), where the answer must come back. Max-Forwards 70.
  * Body (RFC 3842 §5.2, ``application/simple-message-summary``), CRLF after every line:
        Messages-Waiting: yes|no             yes when there is at least one new message
        Message-Account: sip:<mailbox>@<proxy host>
        Voice-Message: <new>/<old> (0/0)     the box has no urgent messages
  * A mailbox must be a plain SIP user (letters, digits, ``_ . + - ! ~ * ' ( )``); counts are
    non-negative. Anything else is a ValueError: the box must never put junk on the wire.
"""

from __future__ import annotations

import re
import secrets

from labpbx.sip.message import Addr, Headers, Request, new_branch, new_tag

EVENT_PACKAGE = "message-summary"
CONTENT_TYPE = "application/simple-message-summary"
MAX_FORWARDS = 70
BOX_USER = "voicemail"

_USER = re.compile(r"[A-Za-z0-9_.!~*'()+\-]{1,64}")


def summary_body(mailbox: str, proxy_host: str, new: int, old: int) -> bytes:
    """The RFC 3842 §5.2 message summary of ``mailbox`` (voice messages only, none urgent)."""
    _check(mailbox, new, old)
    waiting = "yes" if new > 0 else "no"
    return (f"Messages-Waiting: {waiting}\r\n"
            f"Message-Account: sip:{mailbox}@{proxy_host}\r\n"
            f"Voice-Message: {new}/{old} (0/0)\r\n").encode("ascii")


def build_notify(mailbox: str, new: int, old: int, *, proxy: Addr, box: Addr, local: Addr,
                 call_id: str | None = None, tag: str | None = None, branch: str | None = None,
                 cseq: int = 1) -> Request:
    """An unsolicited message-summary NOTIFY for ``mailbox``, to be sent to ``proxy``.

    ``box`` is the voicemail box's SIP address (From), ``local`` the address the NOTIFY leaves
    from and its answer comes back to (Via, Contact).
    """
    _check(mailbox, new, old)
    proxy_host, proxy_port = proxy
    box_host, box_port = box
    local_host, local_port = local
    headers = Headers([
        ("Via", f"SIP/2.0/UDP {local_host}:{local_port};branch={branch or new_branch('mwi')}"),
        ("Max-Forwards", str(MAX_FORWARDS)),
        ("From", f"<sip:{BOX_USER}@{box_host}:{box_port}>;tag={tag or new_tag()}"),
        ("To", f"<sip:{mailbox}@{proxy_host}>"),
        ("Call-ID", call_id or f"mwi-{secrets.token_hex(8)}@{box_host}"),
        ("CSeq", f"{cseq} NOTIFY"),
        # RFC 6665 §8.1.2: a NOTIFY carries a Contact (where in-dialog requests would go).
        ("Contact", f"<sip:{BOX_USER}@{local_host}:{local_port}>"),
        ("Event", EVENT_PACKAGE),
        ("Subscription-State", "active"),
        ("Content-Type", CONTENT_TYPE),
    ])
    body = summary_body(mailbox, proxy_host, new, old)
    return Request("NOTIFY", f"sip:{mailbox}@{proxy_host}:{proxy_port}", headers, body)


def valid_mailbox(mailbox: str) -> bool:
    """True when ``mailbox`` can be the user part of the NOTIFY's SIP URIs."""
    return bool(_USER.fullmatch(mailbox))


def _check(mailbox: str, new: int, old: int) -> None:
    if not _USER.fullmatch(mailbox):
        raise ValueError(f"mailbox {mailbox!r} cannot be the user part of a SIP URI")
    if new < 0 or old < 0:
        raise ValueError(f"message counts must not be negative: {new}/{old}")
