"""The tutorial's calls and the RFC 3261 §16 corner cases, through the real engine and the default
script, on an in-memory network with a manual clock (SEMANTICS.md §2.3, §7.2)."""

from __future__ import annotations

import pytest

from labpbx.events import XlogEvent
from labpbx.sip.message import Request, parse_name_addr, parse_uri
from tests.proxy.harness import (
    MEDIA,
    PROXY,
    FakePreferences,
    Net,
    ack_for_2xx,
    bye_in_dialog,
    cancel_for,
    invite,
    reply,
)

CALLER = ("127.0.0.1", 20000)
EXT_1001 = ("127.0.0.1", 21001)
EXT_1004 = ("127.0.0.1", 21004)


def _user(req: Request) -> str | None:
    return parse_uri(req.uri).user


def _xlog(net: Net) -> list[str]:
    return [e.text for e in net.events if isinstance(e, XlogEvent)]


@pytest.fixture
def net() -> Net:
    n = Net()
    assert n.register("1001", EXT_1001).status == 200
    assert n.register("1004", EXT_1004).status == 200
    return n


class TestBusyForward:
    """1000 → 1001, 1001 answers 486: the media server gets user b1001 (SEED.md, call 2)."""

    def test_busy_goes_to_media_server_with_b_prefix(self, net: Net) -> None:
        inv = invite("1000", "1001", CALLER)
        net.send(inv, CALLER)
        assert net.statuses(CALLER) == [100]
        [forwarded] = net.requests(EXT_1001, "INVITE")
        assert forwarded.uri == f"sip:1001@{EXT_1001[0]}:{EXT_1001[1]}"
        assert forwarded.headers.get("Record-Route") == f"<sip:{PROXY[0]}:{PROXY[1]};lr>"
        assert forwarded.headers.get("Max-Forwards") == "69"  # decremented (maxfwd module)
        net.take(EXT_1001)

        net.send(reply(forwarded, 486), EXT_1001)
        [ack] = net.requests(EXT_1001, "ACK")  # hop-by-hop ACK from the proxy (§17.1.1.3)
        assert ack.top_via.branch == forwarded.top_via.branch
        [to_media] = net.requests(MEDIA, "INVITE")
        assert _user(to_media) == "b1001"
        assert to_media.uri == f"sip:b1001@{PROXY[0]}:{PROXY[1]}"
        assert "user-busy" in (to_media.headers.get("Diversion") or "")
        assert to_media.call_id == inv.call_id and to_media.cseq == inv.cseq
        assert net.statuses(CALLER) == [100]  # the 486 is not relayed upstream
        assert "> 486 ruri=<sip:b1001@127.0.0.1:15060>" in _xlog(net)

        net.send(reply(to_media, 180, tag="vm"), MEDIA)
        net.send(reply(to_media, 200, tag="vm", contact=MEDIA), MEDIA)
        assert net.statuses(CALLER) == [100, 180, 200]
        ok = net.responses(CALLER)[-1]
        assert parse_name_addr(ok.headers.get("To") or "").tag == "vm"
        assert len(ok.headers.get_all("Via")) == 1

    def test_media_server_busy_too_is_not_forwarded_again(self, net: Net) -> None:
        inv = invite("1000", "1001", CALLER)
        net.send(inv, CALLER)
        [fwd] = net.requests(EXT_1001, "INVITE")
        net.send(reply(fwd, 486), EXT_1001)
        [to_media] = net.requests(MEDIA, "INVITE")
        net.send(reply(to_media, 486, tag="vm"), MEDIA)
        assert len(net.requests(MEDIA, "INVITE")) == 1  # no sip:bb1001
        assert net.statuses(CALLER) == [100, 486]


class TestNoAnswer:
    """1004 → 1001 rings past fr_inv_timeout: CANCEL, local 408, media server gets u1001 (call 3)."""

    def test_timeout_cancels_and_forwards_at_fr_inv_timeout(self, net: Net) -> None:
        inv = invite("1004", "1001", CALLER)
        net.send(inv, CALLER)
        [fwd] = net.requests(EXT_1001, "INVITE")
        net.take(EXT_1001)
        net.send(reply(fwd, 180), EXT_1001)
        ringing_at = net.now
        assert net.statuses(CALLER) == [100, 180]
        net.advance(2.99)
        assert not net.requests(EXT_1001, "CANCEL")
        assert not net.requests(MEDIA)
        net.advance(0.02)
        [cancel] = net.requests(EXT_1001, "CANCEL")
        assert cancel.top_via.branch == fwd.top_via.branch  # §9.1
        assert cancel.headers.get("Reason") == 'SIP;cause=480;text="NO_ANSWER"'
        [to_media] = net.requests(MEDIA, "INVITE")
        assert _user(to_media) == "u1001"
        assert 3.0 <= net.now - ringing_at <= 3.02
        assert "> 480 ruri=<sip:u1001@127.0.0.1:15060>" in _xlog(net)
        # the callee answers the CANCEL; the 487 is ACKed by the proxy and not relayed
        net.send(reply(cancel, 200), EXT_1001)
        net.send(reply(fwd, 487), EXT_1001)
        assert net.requests(EXT_1001, "ACK")
        assert 487 not in net.statuses(CALLER)

    def test_180_retransmissions_restart_the_timer(self, net: Net) -> None:
        inv = invite("1004", "1001", CALLER)
        net.send(inv, CALLER)
        [fwd] = net.requests(EXT_1001, "INVITE")
        net.send(reply(fwd, 180), EXT_1001)
        net.advance(2.0)
        net.send(reply(fwd, 180), EXT_1001)  # restart_fr_on_each_reply=1 (OpenSIPS issue #342)
        net.advance(2.0)
        assert not net.requests(EXT_1001, "CANCEL")
        net.advance(1.01)
        assert net.requests(EXT_1001, "CANCEL")

    def test_480_goes_to_unavailable_greeting(self, net: Net) -> None:
        net.send(invite("1000", "1001", CALLER), CALLER)
        [fwd] = net.requests(EXT_1001, "INVITE")
        net.send(reply(fwd, 480), EXT_1001)
        [to_media] = net.requests(MEDIA, "INVITE")
        assert _user(to_media) == "u1001"

    def test_contact_that_never_replies(self, net: Net) -> None:
        """fr_timeout with no reply at all: no CANCEL (§9.1), retransmissions stop, local 408."""
        net.send(invite("1000", "1001", CALLER), CALLER)
        net.advance(1.9)
        sent = net.requests(EXT_1001, "INVITE")
        assert len(sent) >= 3  # Timer A retransmissions at 0.5, 1.5 s
        net.take(EXT_1001)
        net.advance(0.2)
        assert not net.requests(EXT_1001, "CANCEL")
        [to_media] = net.requests(MEDIA, "INVITE")
        assert _user(to_media) == "u1001"
        net.advance(10)
        assert not net.requests(EXT_1001, "INVITE")  # retransmissions stopped


class TestUnconditionalForward:
    def test_callfwd_avp_sends_call_to_voicemail_number(self) -> None:
        prefs = FakePreferences()
        prefs.add("1004", "callfwd", "sip:2345678@127.0.0.1:15060")
        n = Net(preferences=prefs)
        n.register("1004", EXT_1004)
        inv = invite("1000", "1004", CALLER)
        n.send(inv, CALLER)
        assert not n.requests(EXT_1004)
        [to_media] = n.requests(MEDIA, "INVITE")
        assert _user(to_media) == "2345678"
        assert "1004" in (to_media.headers.get("Diversion") or "")
        assert "forwarded to: sip:2345678@127.0.0.1:15060" in _xlog(n)


class TestCallerCancel:
    def test_cancel_while_ringing_leaves_no_voicemail(self, net: Net) -> None:
        inv = invite("1000", "1001", CALLER)
        net.send(inv, CALLER)
        [fwd] = net.requests(EXT_1001, "INVITE")
        net.send(reply(fwd, 180), EXT_1001)
        net.take(CALLER)
        net.send(cancel_for(inv), CALLER)
        assert net.statuses(CALLER) == [200]  # 200 to the CANCEL at once (§16.10)
        [cancel] = net.requests(EXT_1001, "CANCEL")
        net.send(reply(cancel, 200), EXT_1001)
        net.send(reply(fwd, 487), EXT_1001)
        assert net.statuses(CALLER) == [200, 487]
        assert not net.requests(MEDIA)
        net.advance(5)
        assert not net.requests(MEDIA)

    def test_cancel_before_any_provisional_waits_for_one(self, net: Net) -> None:
        inv = invite("1000", "1001", CALLER)
        net.send(inv, CALLER)
        [fwd] = net.requests(EXT_1001, "INVITE")
        net.send(cancel_for(inv), CALLER)
        assert not net.requests(EXT_1001, "CANCEL")  # §9.1
        net.send(reply(fwd, 180), EXT_1001)
        assert net.requests(EXT_1001, "CANCEL")


class TestAnsweredCall:
    def test_answer_then_ack_and_bye_follow_record_route(self, net: Net) -> None:
        inv = invite("1000", "1001", CALLER)
        net.send(inv, CALLER)
        [fwd] = net.requests(EXT_1001, "INVITE")
        net.send(reply(fwd, 200, contact=EXT_1001), EXT_1001)
        assert net.statuses(CALLER) == [100, 200]
        ok = net.responses(CALLER)[-1]
        assert ok.headers.get("Record-Route")
        net.take(EXT_1001)
        ack = ack_for_2xx(inv, ok, CALLER, EXT_1001)
        net.send(ack, CALLER)
        [fwd_ack] = net.requests(EXT_1001, "ACK")
        assert fwd_ack.headers.get("Route") is None  # our own Route was removed (§16.4)
        bye = bye_in_dialog(ack, CALLER)
        net.send(bye, CALLER)
        [fwd_bye] = net.requests(EXT_1001, "BYE")
        net.send(reply(fwd_bye, 200), EXT_1001)
        assert net.statuses(CALLER)[-1] == 200
        assert not net.requests(MEDIA)


class TestRequestValidation:
    def test_unregistered_extension_gets_404(self, net: Net) -> None:
        net.send(invite("1000", "1003", CALLER), CALLER)
        assert net.statuses(CALLER) == [404]

    def test_max_forwards_zero_gets_483(self, net: Net) -> None:
        inv = invite("1000", "1001", CALLER)
        inv.headers.set("Max-Forwards", "0")
        net.send(inv, CALLER)
        assert net.statuses(CALLER) == [483]
        assert not net.requests(EXT_1001)

    def test_loop_back_to_ourselves_gets_482(self) -> None:
        script = """
        route {
            t_relay();
        }
        """
        n = Net(script)
        inv = invite("1000", "1001", CALLER)
        n.send(inv, CALLER)
        [looped] = n.requests(PROXY, "INVITE")  # relayed to ourselves, unchanged: a loop
        n.send(looped, PROXY)
        assert 482 in n.statuses(PROXY)

    def test_spiral_is_allowed(self) -> None:
        script = """
        route {
            if ($rU == "1001") { $rU = "2001"; }
            else { $du = "sip:127.0.0.1:15070"; }
            t_relay();
        }
        """
        n = Net(script)
        n.send(invite("1000", "1001", CALLER), CALLER)
        [spiral] = n.requests(PROXY, "INVITE")
        n.send(spiral, PROXY)
        assert 482 not in n.statuses(PROXY)
        assert n.requests(MEDIA, "INVITE")

    @pytest.mark.parametrize("data", [
        b"", b"\r\n\r\n", b"\x00\xff\x00garbage", b"INVITE sip:x SIP/2.0\r\n",
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4\r\n\r\n",
        b"INVITE sip:1001@127.0.0.1 SIP/2.0\r\nContent-Length: 99\r\n\r\nshort",
    ])
    def test_malformed_datagrams_do_not_stop_the_proxy(self, net: Net, data: bytes) -> None:
        net.send(data, CALLER)
        net.send(invite("1000", "1001", CALLER), CALLER)
        assert net.requests(EXT_1001, "INVITE")


class TestMediaServerDown:
    def test_caller_gets_a_final_answer(self, net: Net) -> None:
        net.send(invite("1000", "1001", CALLER), CALLER)
        [fwd] = net.requests(EXT_1001, "INVITE")
        net.send(reply(fwd, 486), EXT_1001)
        assert net.requests(MEDIA, "INVITE")
        net.advance(2.5)  # fr_timeout = 2 s with no reply from the media server
        statuses = net.statuses(CALLER)
        assert statuses[:2] == [100, 408]
        assert set(statuses[2:]) <= {408}  # Timer G retransmissions until the caller ACKs


class TestScriptRuntimeErrors:
    def test_runtime_error_answers_500_and_the_proxy_goes_on(self) -> None:
        script = """
        route {
            if ($rU == "boom") { $var(x) = 1 / 0; }
            sl_send_reply("404", "Nobody");
        }
        """
        n = Net(script)
        n.send(invite("1000", "boom", CALLER), CALLER)
        assert n.statuses(CALLER) == [500]
        n.take(CALLER)
        n.send(invite("1000", "1001", CALLER), CALLER)
        assert n.statuses(CALLER) == [404]
        assert any(getattr(e, "severity", "") == "error" for e in n.events)


class TestHeaderFunctions:
    @pytest.mark.parametrize(("call", "expected"), [
        ('append_hf("X-A: 1\\r\\n")', ["X-A: 1"]),
        ('append_hf("X-A: 1\\r\\nX-B: 2\\r\\n")', ["X-A: 1", "X-B: 2"]),
        ('append_hf("X-A: 1\\r\\n", "From")', ["X-A: 1"]),
    ])
    def test_append_hf(self, call: str, expected: list[str]) -> None:
        n = Net(f'route {{ {call}; $du = "sip:127.0.0.1:15070"; t_relay(); }}')
        n.send(invite("1000", "1001", CALLER), CALLER)
        [fwd] = n.requests(MEDIA, "INVITE")
        names = [name for name, _ in fwd.headers]
        for text in expected:
            name, value = text.split(": ")
            assert fwd.headers.get(name) == value
        if "From" in call:
            assert names.index("X-A") == names.index("From") + 1

    def test_remove_hf(self) -> None:
        n = Net('route { remove_hf("Subject"); $du = "sip:127.0.0.1:15070"; t_relay(); }')
        inv = invite("1000", "1001", CALLER)
        inv.headers.add("Subject", "hello")
        n.send(inv, CALLER)
        [fwd] = n.requests(MEDIA, "INVITE")
        assert "Subject" not in fwd.headers


class TestBadRequests:
    def test_unparseable_from_gets_400(self, net: Net) -> None:
        inv = invite("1000", "1001", CALLER)
        inv.headers.set("From", "<sip:1000@127.0.0.1;tag=x")
        net.send(inv, CALLER)
        assert net.statuses(CALLER) == [400]

    def test_tel_request_uri_gets_416(self, net: Net) -> None:
        inv = invite("1000", "1001", CALLER)
        inv.uri = "tel:+15551234"
        net.send(inv, CALLER)
        assert net.statuses(CALLER) == [416]


class TestLateRepliesAfterFrTimeout:
    """SEMANTICS.md §2.1: a branch given up without any reply is CANCELled when a late 1xx arrives,
    and a late negative reply is still ACKed hop-by-hop."""

    def _give_up(self, net: Net) -> Request:
        net.send(invite("1000", "1001", CALLER), CALLER)
        [fwd, *_] = net.requests(EXT_1001, "INVITE")
        net.advance(2.1)  # fr_timeout, no reply at all
        net.take(EXT_1001)
        return fwd

    def test_late_provisional_is_cancelled(self, net: Net) -> None:
        fwd = self._give_up(net)
        net.send(reply(fwd, 180), EXT_1001)
        [cancel] = net.requests(EXT_1001, "CANCEL")
        assert cancel.top_via.branch == fwd.top_via.branch

    def test_late_486_is_acked(self, net: Net) -> None:
        fwd = self._give_up(net)
        net.send(reply(fwd, 486), EXT_1001)
        [ack] = net.requests(EXT_1001, "ACK")
        assert ack.top_via.branch == fwd.top_via.branch


class TestOutboundProxyRoute:
    """A phone configured with the lab as outbound proxy preloads `Route: <sip:proxy;lr>`; OpenSIPS'
    loose_route() removes it and returns false for an initial request, so the call is routed normally."""

    def test_initial_invite_with_our_route_is_routed_normally(self, net: Net) -> None:
        inv = invite("1000", "1001", CALLER)
        inv.headers.add("Route", f"<sip:{PROXY[0]}:{PROXY[1]};lr>")
        net.send(inv, CALLER)
        [fwd] = net.requests(EXT_1001, "INVITE")
        assert fwd.headers.get("Route") is None

    def test_register_with_our_route(self, net: Net) -> None:
        reg = Request("REGISTER", f"sip:{PROXY[0]}:{PROXY[1]}")
        h = reg.headers
        h.add("Via", "SIP/2.0/UDP 127.0.0.1:21009;branch=z9hG4bKobp")
        h.add("Route", f"<sip:{PROXY[0]}:{PROXY[1]};lr>")
        h.add("From", "<sip:1009@127.0.0.1>;tag=a")
        h.add("To", "<sip:1009@127.0.0.1>")
        h.add("Call-ID", "obp-reg")
        h.add("CSeq", "1 REGISTER")
        h.add("Contact", "<sip:1009@127.0.0.1:21009>")
        net.send(reg, ("127.0.0.1", 21009))
        assert net.statuses(("127.0.0.1", 21009)) == [200]

    def test_options_keepalive_to_the_proxy(self, net: Net) -> None:
        opt = Request("OPTIONS", f"sip:{PROXY[0]}:{PROXY[1]}")
        h = opt.headers
        h.add("Via", "SIP/2.0/UDP 127.0.0.1:21009;branch=z9hG4bKopt")
        h.add("From", "<sip:1009@127.0.0.1>;tag=a")
        h.add("To", f"<sip:{PROXY[0]}:{PROXY[1]}>")
        h.add("Call-ID", "opt-1")
        h.add("CSeq", "1 OPTIONS")
        net.send(opt, ("127.0.0.1", 21009))
        assert net.statuses(("127.0.0.1", 21009)) == [200]


class TestReceivedAndRport:
    """RFC 3261 §18.2.1 / RFC 3581 §4: the proxy records the real source in the top Via."""

    def test_rport_is_filled_in_responses(self, net: Net) -> None:
        inv = invite("1000", "1001", CALLER)
        via = inv.headers.get("Via") or ""
        inv.headers.set("Via", via + ";rport")
        net.send(inv, CALLER)
        trying = net.responses(CALLER)[0]
        top = trying.top_via
        assert top.param("rport") == str(CALLER[1])
        assert top.param("received") == CALLER[0]

    def test_received_when_sent_by_differs(self, net: Net) -> None:
        inv = invite("1000", "1001", CALLER)
        inv.headers.set("Via", "SIP/2.0/UDP 127.0.0.9:5999;branch=z9hG4bKdiff")
        net.send(inv, CALLER)
        assert net.responses(CALLER)[0].top_via.param("received") == CALLER[0]

    def test_no_change_without_rport_from_the_sent_by_host(self, net: Net) -> None:
        inv = invite("1000", "1001", CALLER)
        net.send(inv, CALLER)
        assert net.responses(CALLER)[0].headers.get("Via") == inv.headers.get("Via")


class TestNonInviteIsNotForwarded:
    def test_notify_for_a_forwarded_extension_reaches_its_phone(self) -> None:
        """Call forwarding applies to calls: the message-waiting NOTIFY for 1004 goes to 1004."""
        prefs = FakePreferences()
        prefs.add("1004", "callfwd", "sip:2345678@127.0.0.1:15060")
        n = Net(preferences=prefs)
        n.register("1004", EXT_1004)
        notify = invite("voicemail", "1004", MEDIA)
        notify.method = "NOTIFY"
        notify.headers.set("CSeq", "1 NOTIFY")
        notify.headers.add("Event", "message-summary")
        n.send(notify, MEDIA)
        assert n.requests(EXT_1004, "NOTIFY")
        assert not n.requests(MEDIA, "NOTIFY")


class TestForwardTargets:
    @pytest.mark.parametrize(("target", "where", "user"), [
        ("sip:1001@127.0.0.1:15060", EXT_1001, "1001"),   # another extension here: looked up
        ("sip:1001@127.0.0.1", EXT_1001, "1001"),         # no port, as opensipsctl users write it
        ("sip:9999@127.0.0.1:16000", ("127.0.0.1", 16000), "9999"),  # elsewhere: relayed as is
    ])
    def test_callfwd_target(self, target: str, where: tuple[str, int], user: str) -> None:
        prefs = FakePreferences()
        prefs.add("1004", "callfwd", target)
        n = Net(preferences=prefs)
        n.register("1001", EXT_1001)
        n.register("1004", EXT_1004)
        n.send(invite("1000", "1004", CALLER), CALLER)
        [fwd] = n.requests(where, "INVITE")
        assert _user(fwd) == user
        assert not n.requests(EXT_1004)


class TestReInvite:
    def test_refused_reinvite_is_not_sent_to_voicemail(self, net: Net) -> None:
        inv = invite("1000", "1001", CALLER)
        net.send(inv, CALLER)
        [fwd] = net.requests(EXT_1001, "INVITE")
        net.send(reply(fwd, 200, contact=EXT_1001), EXT_1001)
        ok = net.responses(CALLER)[-1]
        net.take(EXT_1001)
        reinvite = ack_for_2xx(inv, ok, CALLER, EXT_1001)
        reinvite.method = "INVITE"
        reinvite.headers.set("CSeq", "2 INVITE")
        reinvite.headers.set("Via", f"SIP/2.0/UDP {CALLER[0]}:{CALLER[1]};branch=z9hG4bKreinv")
        net.send(reinvite, CALLER)
        [fwd_re] = net.requests(EXT_1001, "INVITE")
        net.send(reply(fwd_re, 486), EXT_1001)
        assert not net.requests(MEDIA)
        assert net.statuses(CALLER)[-1] == 486


class TestReplyAndBranchRoutes:
    SCRIPT = """
    route {
        if (is_method("REGISTER")) { save("location"); exit; }
        lookup("location");
        t_on_reply("replies");
        t_on_branch("per_branch");
        t_relay();
    }
    onreply_route[replies] {
        xlog("reply $rs on branch $T_branch_idx");
        if (t_check_status("180")) { drop; }
    }
    branch_route[per_branch] {
        append_hf("X-Branch: $ru\\r\\n");
    }
    """

    def test_onreply_route_sees_replies_and_drops_a_provisional(self) -> None:
        n = Net(self.SCRIPT)
        n.register("1001", EXT_1001)
        n.send(invite("1000", "1001", CALLER), CALLER)
        [fwd] = n.requests(EXT_1001, "INVITE")
        assert fwd.headers.get("X-Branch") == f"sip:1001@{EXT_1001[0]}:{EXT_1001[1]}"
        n.send(reply(fwd, 180), EXT_1001)
        assert 180 not in n.statuses(CALLER)  # dropped in the onreply route
        n.send(reply(fwd, 200, contact=EXT_1001), EXT_1001)
        assert n.statuses(CALLER)[-1] == 200  # a final cannot be dropped
        assert "reply 180 on branch 0" in _xlog(n) and "reply 200 on branch 0" in _xlog(n)


class TestFailureRouteState:
    """SEMANTICS.md §8 item 4: what failure_route sees (OpenSIPS 2.x)."""

    SCRIPT = """
    route {
        if (is_method("REGISTER")) { save("location"); exit; }
        lookup("location");
        t_on_failure("f");
        t_relay();
    }
    failure_route[f] {
        xlog("code=$T_reply_code ru=$ru du=$du");
        if (t_branch_timeout()) { xlog("timeout"); }
        if (t_branch_replied()) { xlog("replied"); }
        if (t_local_replied("last")) { xlog("local"); }
        if (t_was_cancelled()) { xlog("cancelled"); }
    }
    """

    def test_no_answer(self) -> None:
        n = Net(self.SCRIPT)
        n.register("1001", EXT_1001)
        n.send(invite("1000", "1001", CALLER), CALLER)
        [fwd] = n.requests(EXT_1001, "INVITE")
        n.send(reply(fwd, 180), EXT_1001)
        n.advance(3.1)
        contact = f"sip:1001@{EXT_1001[0]}:{EXT_1001[1]}"
        assert _xlog(n) == [f"code=408 ru={contact} du=<null>", "timeout", "replied", "local"]
        assert n.statuses(CALLER)[-1] == 408

    def test_busy(self) -> None:
        n = Net(self.SCRIPT)
        n.register("1001", EXT_1001)
        n.send(invite("1000", "1001", CALLER), CALLER)
        [fwd] = n.requests(EXT_1001, "INVITE")
        n.send(reply(fwd, 486), EXT_1001)
        contact = f"sip:1001@{EXT_1001[0]}:{EXT_1001[1]}"
        assert _xlog(n) == [f"code=486 ru={contact} du=<null>", "replied"]
        assert n.statuses(CALLER)[-1] == 486

    def test_caller_cancel(self) -> None:
        n = Net(self.SCRIPT)
        n.register("1001", EXT_1001)
        inv = invite("1000", "1001", CALLER)
        n.send(inv, CALLER)
        [fwd] = n.requests(EXT_1001, "INVITE")
        n.send(reply(fwd, 180), EXT_1001)
        n.send(cancel_for(inv), CALLER)
        n.send(reply(fwd, 487), EXT_1001)
        assert "cancelled" in _xlog(n)
        assert n.statuses(CALLER)[-1] == 487


class TestProxyRequire:
    def test_unknown_proxy_extension_gets_420_with_unsupported(self, net: Net) -> None:
        inv = invite("1000", "1001", CALLER)
        inv.headers.add("Proxy-Require", "foo, bar")
        net.send(inv, CALLER)
        [resp] = net.responses(CALLER)
        assert resp.status == 420
        assert resp.headers.get("Unsupported") == "foo, bar"
        assert not net.requests(EXT_1001)

    def test_sips_request_uri_gets_416(self, net: Net) -> None:
        inv = invite("1000", "1001", CALLER)
        inv.uri = "sips:1001@127.0.0.1:15060"
        net.send(inv, CALLER)
        assert net.statuses(CALLER) == [416]


class TestTRelayFlags:
    def test_flag_0x01_sends_no_100_trying(self) -> None:
        n = Net('route { $du = "sip:127.0.0.1:15070"; t_relay("0x01"); }')
        n.send(invite("1000", "1001", CALLER), CALLER)
        assert n.requests(MEDIA, "INVITE")
        assert n.statuses(CALLER) == []

    def test_without_flags_100_trying_is_sent(self) -> None:
        n = Net('route { $du = "sip:127.0.0.1:15070"; t_relay(); }')
        n.send(invite("1000", "1001", CALLER), CALLER)
        assert n.statuses(CALLER) == [100]
