"""The default script sends a softphone's message-summary SUBSCRIBE to the voicemail box's
notifier (MWI_SERVER) and the box's in-dialog NOTIFYs back along the Record-Route set."""

from __future__ import annotations

from labpbx.sip.message import Request, parse_name_addr
from tests.proxy.harness import PROXY, Net, reply

SOFTPHONE = ("127.0.0.1", 40000)
MWI = ("127.0.0.1", 15071)  # the default script's MWI_SERVER


def _subscribe(event: str) -> Request:
    req = Request("SUBSCRIBE", f"sip:1005@{PROXY[0]}:{PROXY[1]}")
    h = req.headers
    h.add("Via", f"SIP/2.0/UDP {SOFTPHONE[0]}:{SOFTPHONE[1]};branch=z9hG4bKsub1")
    h.add("Max-Forwards", "70")
    h.add("From", f"<sip:1005@{PROXY[0]}>;tag=soft")
    h.add("To", f"<sip:1005@{PROXY[0]}>")
    h.add("Call-ID", "sub-call-1")
    h.add("CSeq", "1 SUBSCRIBE")
    h.add("Contact", f"<sip:1005@{SOFTPHONE[0]}:{SOFTPHONE[1]}>")
    h.add("Event", event)
    h.add("Expires", "600")
    return req


def test_message_summary_subscribe_goes_to_the_box_and_its_notify_comes_back() -> None:
    net = Net()
    assert net.register("1005", SOFTPHONE).status == 200
    net.send(_subscribe("message-summary"), SOFTPHONE)
    [fwd] = net.requests(MWI, "SUBSCRIBE")
    assert fwd.uri == f"sip:1005@{PROXY[0]}:{PROXY[1]}"  # $du only: the mailbox stays in the R-URI
    assert fwd.headers.get("Record-Route") == f"<sip:{PROXY[0]}:{PROXY[1]};lr>"
    ok = reply(fwd, 200, tag="box")
    net.send(ok, MWI)
    assert net.statuses(SOFTPHONE)[-1] == 200

    notify = Request("NOTIFY", f"sip:1005@{SOFTPHONE[0]}:{SOFTPHONE[1]}", body=b"Messages-Waiting: yes\r\n")
    h = notify.headers
    h.add("Via", f"SIP/2.0/UDP {MWI[0]}:{MWI[1]};branch=z9hG4bKnot1")
    h.add("Route", f"<sip:{PROXY[0]}:{PROXY[1]};lr>")
    h.add("Max-Forwards", "70")
    h.add("From", f"<sip:1005@{PROXY[0]}>;tag=box")
    h.add("To", f"<sip:1005@{PROXY[0]}>;tag=soft")
    h.add("Call-ID", "sub-call-1")
    h.add("CSeq", "1 NOTIFY")
    h.add("Event", "message-summary")
    h.add("Subscription-State", "active;expires=600")
    net.take(SOFTPHONE)
    net.send(notify, MWI)
    [relayed] = net.requests(SOFTPHONE, "NOTIFY")
    assert relayed.headers.get("Route") is None
    assert parse_name_addr(relayed.headers.get("To") or "").tag == "soft"


def test_other_event_packages_go_to_the_phone_as_before() -> None:
    net = Net()
    assert net.register("1005", SOFTPHONE).status == 200
    net.send(_subscribe("presence"), SOFTPHONE)
    assert not net.requests(MWI)
    assert net.requests(SOFTPHONE, "SUBSCRIBE")  # lookup: the registered contact
