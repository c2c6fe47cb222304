"""Message-waiting subscriptions (RFC 6665 with the message-summary package of RFC 3842).

A softphone that wants its message-waiting light from the voicemail box SUBSCRIBEs to
``message-summary`` for its own address; the default script sends those SUBSCRIBEs to the box's
notifier (labpbx.voicemail.notifier), which keeps them here and NOTIFYs inside each dialog.

Rules of this module
  * Pure: requests in, responses and NOTIFY requests out; time is passed in as ``now``.
  * The mailbox is the SUBSCRIBE's Request-URI user (the proxy keeps it when it sets ``$du``),
    or the To user when the Request-URI has none.
  * Refusals: another event package → 489 Bad Event with ``Allow-Events``; no Contact → 400;
    a mailbox that cannot be a SIP user → 404;
    0 < Expires < ``min_expires`` → 423 Interval Too Brief with ``Min-Expires``; a SUBSCRIBE
    with a To tag that matches no subscription → 481. Expires above ``max_expires`` is lowered.
  * A subscription is a dialog (RFC 3261 §12.1.1 as the UAS): remote target = the Contact, route
    set = the Record-Route values in order, local tag = the 200's To tag. NOTIFYs go to the
    first Route (loose routing) or to the remote target, with our own CSeq counter.
  * Expires 0 ends a subscription (the NOTIFY says ``terminated;reason=timeout``); so does its
    expiry (``expired``) and a 481 to a NOTIFY (the caller calls ``remove``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from labpbx.errors import SipParseError
from labpbx.sip.message import (
    Addr,
    Headers,
    Request,
    Response,
    make_response,
    new_branch,
    new_tag,
    parse_name_addr,
    parse_uri,
)
from labpbx.voicemail.mwi import (
    CONTENT_TYPE,
    EVENT_PACKAGE,
    MAX_FORWARDS,
    summary_body,
    valid_mailbox,
)

MIN_EXPIRES = 60
MAX_EXPIRES = 3600
DEFAULT_EXPIRES = 3600  # RFC 3842 §6: the package's default subscription duration


@dataclass(slots=True)
class Subscription:
    """One message-summary subscription: the dialog and its lifetime."""

    mailbox: str
    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: str  # the SUBSCRIBE's To URI: our From in NOTIFYs
    remote_uri: str  # the SUBSCRIBE's From URI: our To in NOTIFYs
    remote_target: str  # the subscriber's Contact URI: the NOTIFY's Request-URI
    route_set: tuple[str, ...]
    expires_at: float
    cseq: int = field(default=0)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.call_id, self.local_tag, self.remote_tag)

    def remaining(self, now: float) -> int:
        return max(0, round(self.expires_at - now))


@dataclass(frozen=True, slots=True)
class SubscribeOutcome:
    """What to answer a SUBSCRIBE, and the subscription to NOTIFY now (None when refused).
    ``terminated``: the NOTIFY ends the subscription (Expires 0)."""

    response: Response
    subscription: Subscription | None = None
    terminated: bool = False


class Subscriptions:
    """The box's subscriptions, keyed by dialog; see the module rules."""

    def __init__(self, min_expires: int = MIN_EXPIRES, max_expires: int = MAX_EXPIRES) -> None:
        self.min_expires = min_expires
        self.max_expires = max_expires
        self._by_key: dict[tuple[str, str, str], Subscription] = {}

    def __len__(self) -> int:
        return len(self._by_key)

    def on_subscribe(self, request: Request, now: float, contact: str) -> SubscribeOutcome:
        """Handle a SUBSCRIBE; ``contact`` is our own Contact URI for the 200."""
        event = (request.headers.get("Event") or "").split(";", 1)[0].strip().lower()
        if event != EVENT_PACKAGE:
            refused = make_response(request, 489, "Bad Event", to_tag=new_tag())
            refused.headers.add("Allow-Events", EVENT_PACKAGE)
            return SubscribeOutcome(refused)
        try:
            expires = _expires(request)
            from_ = parse_name_addr(request.headers.get("From") or "")
            to = parse_name_addr(request.headers.get("To") or "")
            target = parse_name_addr(request.headers.get("Contact") or "").uri
            ruri_user = parse_uri(request.uri).user
        except SipParseError as exc:
            return SubscribeOutcome(make_response(request, 400, f"Bad Request ({exc})"[:120],
                                                  to_tag=new_tag()))
        if 0 < expires < self.min_expires:
            brief = make_response(request, 423, "Interval Too Brief", to_tag=new_tag())
            brief.headers.add("Min-Expires", str(self.min_expires))
            return SubscribeOutcome(brief)
        expires = min(expires, self.max_expires)
        local_tag = to.param("tag")
        if local_tag:  # a refresh or an unsubscribe inside an existing dialog
            sub = self._by_key.get((request.call_id, local_tag, from_.param("tag") or ""))
            if sub is None:
                return SubscribeOutcome(make_response(request, 481,
                                                      "Call/Transaction Does Not Exist"))
            sub.remote_target = str(target)
        else:
            mailbox = ruri_user or to.uri.user or ""
            if not valid_mailbox(mailbox):
                return SubscribeOutcome(make_response(request, 404, "No Such Mailbox",
                                                      to_tag=new_tag()))
            sub = Subscription(
                mailbox=mailbox, call_id=request.call_id, local_tag=new_tag(),
                remote_tag=from_.param("tag") or "", local_uri=str(to.uri),
                remote_uri=str(from_.uri), remote_target=str(target),
                route_set=tuple(request.headers.get_all("Record-Route")), expires_at=now)
        sub.expires_at = now + expires
        ok = make_response(request, 200, "OK", to_tag=sub.local_tag)
        ok.headers.add("Expires", str(expires))
        ok.headers.add("Contact", f"<{contact}>")
        if expires == 0:
            self._by_key.pop(sub.key, None)
            return SubscribeOutcome(ok, sub, terminated=True)
        self._by_key[sub.key] = sub
        return SubscribeOutcome(ok, sub)

    def for_mailbox(self, mailbox: str) -> list[Subscription]:
        return [s for s in self._by_key.values() if s.mailbox == mailbox]

    def remove(self, sub: Subscription) -> None:
        self._by_key.pop(sub.key, None)

    def expired(self, now: float) -> list[Subscription]:
        """Subscriptions whose time is up, removed from the table (NOTIFY them terminated)."""
        done = [s for s in self._by_key.values() if s.expires_at <= now]
        for sub in done:
            del self._by_key[sub.key]
        return done

    def next_expiry(self) -> float | None:
        return min((s.expires_at for s in self._by_key.values()), default=None)


def build_dialog_notify(sub: Subscription, new: int, old: int, *, now: float, local: Addr,
                        account_host: str, terminated: bool = False,
                        branch: str | None = None) -> tuple[Request, Addr]:
    """The next NOTIFY of ``sub`` and the address to send it to (first Route, else the remote
    target). Raises SipParseError when that address cannot be read from the dialog."""
    sub.cseq += 1
    state = ("terminated;reason=timeout" if terminated
             else f"active;expires={sub.remaining(now)}")
    local_host, local_port = local
    headers = Headers([
        ("Via", f"SIP/2.0/UDP {local_host}:{local_port};branch={branch or new_branch('mwi')}"),
        ("Max-Forwards", str(MAX_FORWARDS)),
        *(("Route", value) for value in sub.route_set),
        ("From", f"<{sub.local_uri}>;tag={sub.local_tag}"),
        ("To", f"<{sub.remote_uri}>;tag={sub.remote_tag}" if sub.remote_tag
         else f"<{sub.remote_uri}>"),
        ("Call-ID", sub.call_id),
        ("CSeq", f"{sub.cseq} NOTIFY"),
        ("Contact", f"<sip:voicemail@{local_host}:{local_port}>"),
        ("Event", EVENT_PACKAGE),
        ("Subscription-State", state),
        ("Content-Type", CONTENT_TYPE),
    ])
    body = summary_body(sub.mailbox, account_host, new, old)
    first_hop = parse_name_addr(sub.route_set[0]).uri if sub.route_set else parse_uri(sub.remote_target)
    return Request("NOTIFY", sub.remote_target, headers, body), (first_hop.host,
                                                                   first_hop.port or 5060)


def _expires(request: Request) -> int:
    value = request.headers.get("Expires")
    if value is None:
        return DEFAULT_EXPIRES
    try:
        expires = int(value.strip())
    except ValueError:
        raise SipParseError(f"Expires is not a number: {value!r}") from None
    if expires < 0:
        raise SipParseError(f"Expires is negative: {value!r}")
    return expires
