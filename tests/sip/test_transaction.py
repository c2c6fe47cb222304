"""RFC 3261 §17 transactions (and RFC 6026) — the sans-I/O layer, driven with a fake clock.

Messages are built with the message API, fed with ``layer.receive``; assertions are on
``datagrams_to_send()`` and ``next_event()``. Times are plain floats passed as ``now``.
"""

from __future__ import annotations

import pytest

from labpbx.errors import LocalProtocolError
from labpbx.sip.events import Event, RequestReceived, ResponseReceived, Terminated, TimedOut
from labpbx.sip.message import (
    Addr,
    Headers,
    Request,
    make_response,
    new_branch,
    parse_message,
)
from labpbx.sip.transaction import (
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    TimerConfig,
    TransactionLayer,
    TxState,
)

UAS: Addr = ("127.0.0.1", 5080)     # where client transactions send
UAC: Addr = ("127.0.0.1", 5070)     # where requests to server transactions come from


def make_request(
    method: str = "INVITE", *, branch: str | None = None, cseq: int = 1, call_id: str = "c1@lab",
    sent_by: str = "127.0.0.1:5070", via_params: str | None = None,
) -> Request:
    if via_params is None:
        via_params = f";branch={branch or new_branch()}"
    headers = Headers([
        ("Via", f"SIP/2.0/UDP {sent_by}{via_params}"),
        ("Max-Forwards", "70"),
        ("From", "<sip:alice@lab>;tag=a1"),
        ("To", "<sip:bob@lab>"),
        ("Call-ID", call_id),
        ("CSeq", f"{cseq} {method}"),
        ("Contact", "<sip:alice@127.0.0.1:5070>"),
        ("Route", "<sip:proxy.lab;lr>"),
    ])
    return Request(method, "sip:bob@lab", headers)


def events(layer: TransactionLayer) -> list[Event]:
    out = []
    while (ev := layer.next_event()) is not None:
        out.append(ev)
    return out


Fired = list[tuple[float, list[tuple[bytes, Addr]]]]


def run_timers(layer: TransactionLayer, until: float) -> Fired:
    """Fire each deadline ≤ until exactly on time; return (time, datagrams sent then)."""
    fired = []
    while (t := layer.get_timer()) is not None and t <= until:
        layer.handle_timer(t)
        fired.append((t, layer.datagrams_to_send()))
    return fired


def send_times(fired: Fired) -> list[float]:
    return [t for t, dgrams in fired for _ in dgrams]


class TestTimerConfig:
    def test_defaults_and_derived_timers(self) -> None:
        c = TimerConfig()
        assert (c.t1, c.t2, c.t4) == (0.5, 4.0, 5.0)
        assert c.timer_b == c.timer_f == c.timer_h == c.timer_j == c.timer_l == c.timer_m == 32.0
        assert c.timer_d == 32.0
        assert c.timer_i == c.timer_k == 5.0

    def test_scaled(self) -> None:
        c = TimerConfig(t1=0.01, t2=0.08, t4=0.1)
        assert c.timer_b == pytest.approx(0.64)
        assert c.timer_k == 0.1
        assert c.timer_d == 32.0

    def test_invalid(self) -> None:
        with pytest.raises(ValueError):
            TimerConfig(t1=0)
        with pytest.raises(ValueError):
            TimerConfig(t1=1.0, t2=0.5)


# ---------------------------------------------------------------------------------------------
class TestClientInvite:
    """§17.1.1 — INVITE client transaction (with RFC 6026 Accepted)."""

    def start(self, now: float = 0.0) -> tuple[TransactionLayer, Request, ClientInviteTransaction]:
        layer = TransactionLayer()
        invite = make_request("INVITE")
        tx = layer.send_request(invite, UAS, now)
        assert isinstance(tx, ClientInviteTransaction)
        return layer, invite, tx

    def test_initial_transmission(self) -> None:
        layer, invite, tx = self.start(10.0)
        assert layer.datagrams_to_send() == [(invite.to_bytes(), UAS)]
        assert layer.datagrams_to_send() == []
        assert tx.state is TxState.CALLING
        assert tx.is_invite
        assert tx.request is invite and tx.addr == UAS and tx.last_response is None
        assert tx.user_data is None
        assert tx.key == (invite.top_via.branch, "INVITE")
        assert layer.get_timer() == 10.5
        assert len(layer) == 1
        assert events(layer) == []

    def test_timer_a_schedule_then_timer_b(self) -> None:
        layer, _, tx = self.start(100.0)
        first = layer.datagrams_to_send()
        fired = run_timers(layer, 131.9)
        assert send_times(fired) == [100.5, 101.5, 103.5, 107.5, 115.5, 131.5]
        assert all(d == first for _, d in fired)
        assert layer.get_timer() == 132.0            # Timer B = 64·T1
        assert events(layer) == []
        layer.handle_timer(132.0)
        assert layer.datagrams_to_send() == []
        assert events(layer) == [TimedOut(tx), Terminated(tx)]
        assert tx.state is TxState.TERMINATED
        assert len(layer) == 0
        assert layer.get_timer() is None

    def test_timer_a_not_bursting_when_handled_late(self) -> None:
        layer, _, _ = self.start(0.0)
        layer.datagrams_to_send()
        layer.handle_timer(10.0)                     # A was due at 0.5, 1.5, 3.5, 7.5
        assert len(layer.datagrams_to_send()) == 1
        assert layer.get_timer() == 11.0             # counted from now, interval doubled to 1
        layer.handle_timer(11.0)
        assert len(layer.datagrams_to_send()) == 1
        assert layer.get_timer() == 13.0

    def test_handle_timer_before_deadline_does_nothing(self) -> None:
        layer, _, _ = self.start(0.0)
        layer.datagrams_to_send()
        layer.handle_timer(0.49)
        assert layer.datagrams_to_send() == []
        assert layer.get_timer() == 0.5

    def test_provisional_stops_a_and_b(self) -> None:
        layer, invite, tx = self.start(0.0)
        layer.datagrams_to_send()
        r100 = make_response(invite, 100)
        layer.receive(r100, UAS, 0.1)
        assert events(layer) == [ResponseReceived(r100, UAS, tx)]    # 100 goes to the TU too
        assert tx.state is TxState.PROCEEDING
        r180 = make_response(invite, 180, to_tag="b1")
        layer.receive(r180, UAS, 0.2)
        assert events(layer) == [ResponseReceived(r180, UAS, tx)]
        assert tx.last_response is r180
        assert layer.get_timer() is None             # no A, no B in Proceeding
        layer.handle_timer(1000.0)
        assert layer.datagrams_to_send() == []
        assert len(layer) == 1

    def test_non2xx_final_generates_ack(self) -> None:
        layer, invite, tx = self.start(0.0)
        layer.datagrams_to_send()
        r486 = make_response(invite, 486, to_tag="b1")
        layer.receive(r486, UAS, 1.0)
        assert events(layer) == [ResponseReceived(r486, UAS, tx)]
        assert tx.state is TxState.COMPLETED
        assert tx.last_response is r486
        [(data, addr)] = layer.datagrams_to_send()
        assert addr == UAS
        ack = parse_message(data)
        assert isinstance(ack, Request)
        assert ack.method == "ACK"
        assert ack.uri == invite.uri
        assert ack.call_id == invite.call_id
        assert ack.cseq == (1, "ACK")
        assert ack.headers.get_all("Via") == [invite.headers.first_value("Via")]
        assert ack.top_via.branch == invite.top_via.branch
        assert ack.from_tag == "a1"
        assert ack.to_tag == "b1"
        assert ack.headers.get_all("Route") == invite.headers.get_all("Route")
        assert ack.max_forwards == 70
        assert layer.get_timer() == 33.0            # Timer D = 32 s

    def test_timer_d_absorbs_retransmitted_finals(self) -> None:
        layer, invite, tx = self.start(0.0)
        layer.datagrams_to_send()
        r486 = make_response(invite, 486, to_tag="b1")
        layer.receive(r486, UAS, 1.0)
        [ack] = layer.datagrams_to_send()
        events(layer)
        for t in (2.0, 4.0, 8.0):
            layer.receive(r486.copy(), UAS, t)
            assert layer.datagrams_to_send() == [ack]     # same ACK bytes again
            assert events(layer) == []
        layer.receive(make_response(invite, 180, to_tag="b1"), UAS, 9.0)    # late 1xx: absorbed
        layer.receive(make_response(invite, 200, to_tag="b1"), UAS, 9.5)    # 2xx: absorbed
        assert layer.datagrams_to_send() == [] and events(layer) == []
        assert tx.last_response is r486
        assert layer.get_timer() == 33.0
        layer.handle_timer(33.0)
        assert events(layer) == [Terminated(tx)]
        assert len(layer) == 0 and layer.get_timer() is None
        layer.receive(r486.copy(), UAS, 34.0)             # now a stray response
        [ev] = events(layer)
        assert isinstance(ev, ResponseReceived) and ev.transaction is None
        assert layer.datagrams_to_send() == []

    def test_final_from_proceeding(self) -> None:
        layer, invite, tx = self.start(0.0)
        layer.receive(make_response(invite, 180, to_tag="b1"), UAS, 0.1)
        layer.receive(make_response(invite, 603, to_tag="b1"), UAS, 5.0)
        assert tx.state is TxState.COMPLETED
        assert [e.response.status for e in events(layer) if isinstance(e, ResponseReceived)] == [
            180, 603]
        ack = parse_message(layer.datagrams_to_send()[-1][0])
        assert isinstance(ack, Request) and ack.method == "ACK"
        assert layer.get_timer() == 37.0

    def test_2xx_goes_to_accepted_without_ack(self) -> None:
        layer, invite, tx = self.start(0.0)
        layer.datagrams_to_send()
        r200 = make_response(invite, 200, to_tag="b1")
        layer.receive(r200, UAS, 0.3)
        assert tx.state is TxState.ACCEPTED
        assert events(layer) == [ResponseReceived(r200, UAS, tx)]
        assert layer.datagrams_to_send() == []            # the TU sends the ACK for a 2xx
        assert layer.get_timer() == pytest.approx(32.3)   # Timer M; A and B are gone

    def test_retransmitted_finals_do_not_change_state_to_tu(self) -> None:
        layer, invite, tx = self.start(0.0)
        layer.receive(make_response(invite, 486, to_tag="b1"), UAS, 0.3)
        layer.receive(make_response(invite, 180, to_tag="b1"), UAS, 0.4)
        assert tx.state is TxState.COMPLETED
        assert [type(e) for e in events(layer)] == [ResponseReceived]


# ---------------------------------------------------------------------------------------------
class TestClientNonInvite:
    """§17.1.2 — non-INVITE client transaction."""

    def start(self, now: float = 0.0, method: str = "OPTIONS") -> tuple[
            TransactionLayer, Request, ClientNonInviteTransaction]:
        layer = TransactionLayer()
        req = make_request(method)
        tx = layer.send_request(req, UAS, now)
        assert isinstance(tx, ClientNonInviteTransaction)
        return layer, req, tx

    def test_initial_transmission(self) -> None:
        layer, req, tx = self.start(5.0)
        assert layer.datagrams_to_send() == [(req.to_bytes(), UAS)]
        assert tx.state is TxState.TRYING and not tx.is_invite
        assert layer.get_timer() == 5.5

    def test_timer_e_capped_at_t2_then_timer_f(self) -> None:
        layer, _, tx = self.start(0.0)
        first = layer.datagrams_to_send()
        fired = run_timers(layer, 31.99)
        assert send_times(fired) == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
        assert all(d == first for _, d in fired)
        assert layer.get_timer() == 32.0
        layer.handle_timer(32.0)
        assert events(layer) == [TimedOut(tx), Terminated(tx)]
        assert len(layer) == 0 and layer.get_timer() is None
        assert layer.datagrams_to_send() == []

    def test_timer_e_is_t2_in_proceeding(self) -> None:
        layer, req, tx = self.start(0.0)
        layer.datagrams_to_send()
        layer.handle_timer(0.5)                       # first E: next at 1.5
        layer.datagrams_to_send()
        r100 = make_response(req, 100)
        layer.receive(r100, UAS, 0.6)
        assert tx.state is TxState.PROCEEDING
        assert events(layer) == [ResponseReceived(r100, UAS, tx)]
        fired = run_timers(layer, 31.99)
        assert send_times(fired) == [1.5, 5.5, 9.5, 13.5, 17.5, 21.5, 25.5, 29.5]
        r183 = make_response(req, 183)
        layer.receive(r183, UAS, 30.0)
        assert events(layer) == [ResponseReceived(r183, UAS, tx)]
        layer.handle_timer(32.0)                      # Timer F also runs in Proceeding
        assert events(layer) == [TimedOut(tx), Terminated(tx)]
        assert len(layer) == 0

    @pytest.mark.parametrize("status", [200, 202, 302, 404, 503, 699])
    def test_final_response_completed_then_timer_k(self, status: int) -> None:
        layer, req, tx = self.start(0.0)
        layer.datagrams_to_send()
        final = make_response(req, status, to_tag="b1")
        layer.receive(final, UAS, 2.0)
        assert tx.state is TxState.COMPLETED
        assert tx.last_response is final
        assert events(layer) == [ResponseReceived(final, UAS, tx)]
        assert layer.get_timer() == 7.0               # Timer K = T4
        layer.receive(final.copy(), UAS, 3.0)         # retransmission absorbed
        layer.receive(make_response(req, 180), UAS, 3.5)
        assert events(layer) == [] and layer.datagrams_to_send() == []
        layer.handle_timer(6.99)
        assert layer.datagrams_to_send() == [] and events(layer) == []   # E stopped
        layer.handle_timer(7.0)
        assert events(layer) == [Terminated(tx)]
        assert len(layer) == 0 and layer.get_timer() is None

    def test_final_from_proceeding(self) -> None:
        layer, req, tx = self.start(0.0, "REGISTER")
        layer.receive(make_response(req, 100), UAS, 0.1)
        layer.receive(make_response(req, 200, to_tag="t"), UAS, 0.2)
        assert tx.state is TxState.COMPLETED
        assert [e.response.status for e in events(layer) if isinstance(e, ResponseReceived)] == [
            100, 200]

    def test_cancel_and_bye_are_non_invite(self) -> None:
        layer = TransactionLayer()
        for method in ("CANCEL", "BYE", "REGISTER", "MESSAGE", "INFO"):
            tx = layer.send_request(make_request(method), UAS, 0.0)
            assert isinstance(tx, ClientNonInviteTransaction)
        assert len(layer) == 5


# ---------------------------------------------------------------------------------------------
class TestServerInvite:
    """§17.2.1 — INVITE server transaction (with RFC 6026 Accepted)."""

    def start(self, now: float = 0.0) -> tuple[TransactionLayer, Request, ServerInviteTransaction]:
        layer = TransactionLayer()
        invite = make_request("INVITE")
        layer.receive(invite, UAC, now)
        [ev] = events(layer)
        assert isinstance(ev, RequestReceived)
        assert ev.request is invite and ev.addr == UAC
        tx = ev.transaction
        assert isinstance(tx, ServerInviteTransaction)
        return layer, invite, tx

    def test_new_invite(self) -> None:
        layer, invite, tx = self.start()
        assert tx.state is TxState.PROCEEDING and tx.is_invite
        assert tx.request is invite and tx.addr == UAC and tx.last_response is None
        assert tx.key == (invite.top_via.branch, "127.0.0.1:5070", "INVITE")
        assert layer.datagrams_to_send() == []            # no automatic 100 Trying
        assert layer.get_timer() is None
        assert len(layer) == 1

    def test_invite_retransmission_before_any_response_is_absorbed(self) -> None:
        layer, invite, _ = self.start()
        layer.receive(invite.copy(), UAC, 0.5)
        assert events(layer) == [] and layer.datagrams_to_send() == []
        assert len(layer) == 1

    def test_invite_retransmission_resends_last_provisional(self) -> None:
        layer, invite, tx = self.start()
        r100 = make_response(invite, 100)
        layer.send_response(tx, r100, 0.01)
        assert layer.datagrams_to_send() == [(r100.to_bytes(), UAC)]
        r180 = make_response(invite, 180, to_tag="b1")
        layer.send_response(tx, r180, 0.2)
        sent = layer.datagrams_to_send()
        assert sent == [(r180.to_bytes(), UAC)]
        assert tx.state is TxState.PROCEEDING and tx.last_response is r180
        layer.receive(invite.copy(), ("10.9.9.9", 9), 0.5)  # responses still go to tx.addr
        assert layer.datagrams_to_send() == sent
        assert events(layer) == []

    def test_non2xx_final_timer_g_schedule_and_timer_h(self) -> None:
        layer, invite, tx = self.start(0.0)
        r486 = make_response(invite, 486, to_tag="b1")
        layer.send_response(tx, r486, 1.0)
        first = layer.datagrams_to_send()
        assert first == [(r486.to_bytes(), UAC)]
        assert tx.state is TxState.COMPLETED
        fired = run_timers(layer, 32.99)
        assert send_times(fired) == [1.5, 2.5, 4.5, 8.5, 12.5, 16.5, 20.5, 24.5, 28.5, 32.5]
        assert all(d == first for _, d in fired)
        assert layer.get_timer() == 33.0              # Timer H = 64·T1
        assert events(layer) == []
        layer.handle_timer(33.0)
        assert events(layer) == [TimedOut(tx), Terminated(tx)]
        assert len(layer) == 0 and layer.get_timer() is None

    def test_ack_confirms_and_is_absorbed(self) -> None:
        layer, invite, tx = self.start(0.0)
        r486 = make_response(invite, 486, to_tag="b1")
        layer.send_response(tx, r486, 1.0)
        layer.datagrams_to_send()
        layer.handle_timer(1.5)                       # one G retransmission
        assert len(layer.datagrams_to_send()) == 1
        ack = make_request("ACK", branch=invite.top_via.branch)
        layer.receive(ack, UAC, 2.0)
        assert tx.state is TxState.CONFIRMED
        assert events(layer) == []                    # not delivered to the TU
        assert layer.get_timer() == 7.0               # Timer I = T4; G and H are gone
        layer.receive(ack.copy(), UAC, 3.0)           # further ACKs absorbed
        layer.receive(invite.copy(), UAC, 3.5)        # so is a late INVITE
        assert events(layer) == [] and layer.datagrams_to_send() == []
        layer.handle_timer(7.0)
        assert layer.datagrams_to_send() == []
        assert events(layer) == [Terminated(tx)]
        assert len(layer) == 0 and layer.get_timer() is None

    def test_invite_retransmission_in_completed_resends_final(self) -> None:
        layer, invite, tx = self.start(0.0)
        r404 = make_response(invite, 404, to_tag="b1")
        layer.send_response(tx, r404, 0.1)
        sent = layer.datagrams_to_send()
        layer.receive(invite.copy(), UAC, 0.2)
        assert layer.datagrams_to_send() == sent
        assert events(layer) == []

    def test_2xx_goes_to_accepted(self) -> None:
        layer, invite, tx = self.start(0.0)
        layer.send_response(tx, make_response(invite, 180, to_tag="b1"), 0.1)
        r200 = make_response(invite, 200, to_tag="b1")
        layer.send_response(tx, r200, 1.0)
        assert layer.datagrams_to_send()[-1] == (r200.to_bytes(), UAC)
        assert tx.state is TxState.ACCEPTED and tx.last_response is r200
        assert layer.get_timer() == 33.0              # Timer L; no Timer G for a 2xx
        layer.receive(invite.copy(), UAC, 2.0)        # INVITE retransmission: absorbed silently
        assert layer.datagrams_to_send() == [] and events(layer) == []
        layer.send_response(tx, r200, 4.0)            # 2xx retransmissions from the TU are sent
        assert layer.datagrams_to_send() == [(r200.to_bytes(), UAC)]
        layer.handle_timer(33.0)
        assert events(layer) == [Terminated(tx)]
        assert len(layer) == 0

    @pytest.mark.parametrize(("first", "second"), [
        (486, 180), (486, 486), (486, 200), (200, 180), (200, 486), (302, 302),
    ])
    def test_send_after_final_raises(self, first: int, second: int) -> None:
        layer, invite, tx = self.start(0.0)
        layer.send_response(tx, make_response(invite, first, to_tag="b1"), 0.1)
        layer.datagrams_to_send()
        with pytest.raises(LocalProtocolError):
            layer.send_response(tx, make_response(invite, second, to_tag="b1"), 0.2)
        assert layer.datagrams_to_send() == []
        assert tx.last_response is not None and tx.last_response.status == first

    def test_send_after_ack_raises(self) -> None:
        layer, invite, tx = self.start(0.0)
        layer.send_response(tx, make_response(invite, 486, to_tag="b1"), 0.1)
        layer.receive(make_request("ACK", branch=invite.top_via.branch), UAC, 0.2)
        with pytest.raises(LocalProtocolError):
            layer.send_response(tx, make_response(invite, 200, to_tag="b1"), 0.3)

    @pytest.mark.parametrize("status", [99, 700, 0])
    def test_invalid_status_raises(self, status: int) -> None:
        layer, invite, tx = self.start(0.0)
        resp = make_response(invite, 200)
        resp.status = status
        with pytest.raises(LocalProtocolError):
            layer.send_response(tx, resp, 0.1)
        assert tx.state is TxState.PROCEEDING

    def test_send_on_terminated_raises(self) -> None:
        layer, invite, tx = self.start(0.0)
        layer.terminate(tx)
        with pytest.raises(LocalProtocolError):
            layer.send_response(tx, make_response(invite, 180), 0.1)


# ---------------------------------------------------------------------------------------------
class TestServerNonInvite:
    """§17.2.2 — non-INVITE server transaction."""

    def start(self, method: str = "OPTIONS") -> tuple[
            TransactionLayer, Request, ServerNonInviteTransaction]:
        layer = TransactionLayer()
        req = make_request(method)
        layer.receive(req, UAC, 0.0)
        [ev] = events(layer)
        assert isinstance(ev, RequestReceived)
        assert isinstance(ev.transaction, ServerNonInviteTransaction)
        return layer, req, ev.transaction

    def test_trying_absorbs_retransmissions(self) -> None:
        layer, req, tx = self.start()
        assert tx.state is TxState.TRYING and not tx.is_invite
        assert layer.get_timer() is None
        layer.receive(req.copy(), UAC, 0.5)
        assert layer.datagrams_to_send() == [] and events(layer) == []

    def test_proceeding_resends_provisional(self) -> None:
        layer, req, tx = self.start()
        r100 = make_response(req, 100)
        layer.send_response(tx, r100, 0.1)
        assert tx.state is TxState.PROCEEDING
        sent = layer.datagrams_to_send()
        assert sent == [(r100.to_bytes(), UAC)]
        layer.receive(req.copy(), UAC, 0.5)
        assert layer.datagrams_to_send() == sent
        r180 = make_response(req, 180)
        layer.send_response(tx, r180, 0.6)
        assert tx.state is TxState.PROCEEDING and tx.last_response is r180
        layer.datagrams_to_send()
        layer.receive(req.copy(), UAC, 0.7)
        assert layer.datagrams_to_send() == [(r180.to_bytes(), UAC)]

    @pytest.mark.parametrize("provisional", [False, True])
    def test_final_completed_timer_j(self, provisional: bool) -> None:
        layer, req, tx = self.start("REGISTER")
        if provisional:
            layer.send_response(tx, make_response(req, 100), 0.1)
        r200 = make_response(req, 200, to_tag="s1")
        layer.send_response(tx, r200, 1.0)
        assert layer.datagrams_to_send()[-1] == (r200.to_bytes(), UAC)
        assert tx.state is TxState.COMPLETED
        assert layer.get_timer() == 33.0              # Timer J = 64·T1
        for t in (1.5, 5.0, 20.0):
            layer.receive(req.copy(), UAC, t)
            assert layer.datagrams_to_send() == [(r200.to_bytes(), UAC)]
        assert events(layer) == []
        with pytest.raises(LocalProtocolError):
            layer.send_response(tx, make_response(req, 500), 2.0)
        with pytest.raises(LocalProtocolError):
            layer.send_response(tx, make_response(req, 180), 2.0)
        layer.handle_timer(33.0)
        assert events(layer) == [Terminated(tx)]
        assert len(layer) == 0 and layer.get_timer() is None

    def test_no_retransmission_timer(self) -> None:
        layer, req, tx = self.start()
        layer.send_response(tx, make_response(req, 404), 0.0)
        layer.datagrams_to_send()
        fired = run_timers(layer, 100.0)
        assert send_times(fired) == []
        assert [t for t, _ in fired] == [32.0]


# ---------------------------------------------------------------------------------------------
class TestRfc6026Accepted:
    """RFC 6026 §7: the Accepted state of both INVITE transactions (Timers L and M)."""

    def test_client_hands_every_2xx_to_tu_until_timer_m(self) -> None:
        layer = TransactionLayer()
        invite = make_request("INVITE")
        tx = layer.send_request(invite, UAS, 0.0)
        layer.datagrams_to_send()
        layer.receive(make_response(invite, 180, to_tag="b1"), UAS, 0.1)
        first = make_response(invite, 200, to_tag="b1")
        layer.receive(first, UAS, 1.0)
        assert tx.state is TxState.ACCEPTED and layer.get_timer() == 33.0
        other_fork = make_response(invite, 200, to_tag="b2")     # a 2xx from another fork
        for t, resp in ((1.5, first.copy()), (2.5, first.copy()), (3.0, other_fork)):
            layer.receive(resp, UAS, t)
            assert events(layer)[-1] == ResponseReceived(resp, UAS, tx)
            assert tx.last_response is resp
        layer.receive(make_response(invite, 180, to_tag="b1"), UAS, 4.0)   # absorbed
        layer.receive(make_response(invite, 500, to_tag="b1"), UAS, 4.0)   # absorbed
        assert events(layer) == [] and layer.datagrams_to_send() == []
        assert layer.get_timer() == 33.0                  # 2xx retransmits do not restart M
        layer.handle_timer(33.0)
        assert events(layer) == [Terminated(tx)]
        assert len(layer) == 0
        late = first.copy()
        layer.receive(late, UAS, 34.0)                    # after M: stray, forwarded statelessly
        assert events(layer) == [ResponseReceived(late, UAS, None)]

    def test_server_accepted(self) -> None:
        layer = TransactionLayer()
        invite = make_request("INVITE")
        layer.receive(invite, UAC, 0.0)
        tx = layer.find_server(invite)
        assert isinstance(tx, ServerInviteTransaction)
        events(layer)
        ok = make_response(invite, 200, to_tag="b1")
        layer.send_response(tx, ok, 2.0)
        assert layer.datagrams_to_send() == [(ok.to_bytes(), UAC)]
        assert tx.state is TxState.ACCEPTED
        assert layer.get_timer() == 34.0                  # Timer L = 64·T1; no Timer G/H
        layer.receive(invite.copy(), UAC, 2.5)            # INVITE retransmission absorbed
        assert layer.datagrams_to_send() == [] and events(layer) == []
        ok2 = make_response(invite, 200, to_tag="b2")
        layer.send_response(tx, ok2, 3.0)                 # another 2xx (forked) is sent
        assert layer.datagrams_to_send() == [(ok2.to_bytes(), UAC)]
        assert tx.last_response is ok2
        with pytest.raises(LocalProtocolError):
            layer.send_response(tx, make_response(invite, 183), 3.5)
        ack = make_request("ACK", branch=invite.top_via.branch)
        layer.receive(ack, UAC, 4.0)
        assert events(layer) == [RequestReceived(ack, UAC, None)]
        assert tx.state is TxState.ACCEPTED
        layer.handle_timer(34.0)
        assert events(layer) == [Terminated(tx)]
        assert len(layer) == 0
        with pytest.raises(LocalProtocolError):
            layer.send_response(tx, ok, 35.0)             # after L: use send_stateless


# ---------------------------------------------------------------------------------------------
class TestMatching:
    """§17.1.3 (client) and §17.2.3 (server) matching; §9.2 CANCEL."""

    def test_stray_response_delivered_without_transaction(self) -> None:
        layer = TransactionLayer()
        invite = make_request("INVITE")
        resp = make_response(invite, 200, to_tag="x")
        layer.receive(resp, UAS, 0.0)
        assert events(layer) == [ResponseReceived(resp, UAS, None)]
        assert layer.datagrams_to_send() == [] and len(layer) == 0

    def test_response_needs_same_cseq_method(self) -> None:
        layer = TransactionLayer()
        invite = make_request("INVITE")
        ict = layer.send_request(invite, UAS, 0.0)
        cancel = make_request("CANCEL", branch=invite.top_via.branch)
        nict = layer.send_request(cancel, UAS, 1.0)       # same branch, own key
        assert len(layer) == 2 and ict.key != nict.key
        r200 = make_response(cancel, 200, to_tag="b1")
        r487 = make_response(invite, 487, to_tag="b1")
        layer.receive(r200, UAS, 1.1)
        layer.receive(r487, UAS, 1.2)
        assert events(layer) == [
            ResponseReceived(r200, UAS, nict), ResponseReceived(r487, UAS, ict)]
        assert nict.state is TxState.COMPLETED and ict.state is TxState.COMPLETED
        bye = make_request("BYE", branch=invite.top_via.branch)
        r_bye = make_response(bye, 200)
        layer.receive(r_bye, UAS, 1.3)                    # no BYE transaction with that branch
        assert events(layer) == [ResponseReceived(r_bye, UAS, None)]

    def test_response_branch_must_match(self) -> None:
        layer = TransactionLayer()
        invite = make_request("INVITE")
        layer.send_request(invite, UAS, 0.0)
        other = make_request("INVITE")                    # another branch
        resp = make_response(other, 180)
        layer.receive(resp, UAS, 0.1)
        assert events(layer) == [ResponseReceived(resp, UAS, None)]

    def test_ack_for_2xx_delivered_without_transaction(self) -> None:
        layer = TransactionLayer()
        invite = make_request("INVITE")
        layer.receive(invite, UAC, 0.0)
        [ev] = events(layer)
        assert isinstance(ev, RequestReceived) and ev.transaction is not None
        layer.send_response(ev.transaction, make_response(invite, 200, to_tag="b1"), 0.1)
        ack = make_request("ACK")                         # new branch, §13.2.2.4
        layer.receive(ack, UAC, 0.2)
        assert events(layer) == [RequestReceived(ack, UAC, None)]
        assert len(layer) == 1
        assert layer.datagrams_to_send()[-1][0].startswith(b"SIP/2.0 200")

    def test_ack_with_invite_branch_in_accepted_goes_to_tu(self) -> None:
        layer = TransactionLayer()
        invite = make_request("INVITE")
        layer.receive(invite, UAC, 0.0)
        tx = events(layer)[0].transaction
        assert isinstance(tx, ServerInviteTransaction)
        layer.send_response(tx, make_response(invite, 200, to_tag="b1"), 0.1)
        ack = make_request("ACK", branch=invite.top_via.branch)
        layer.receive(ack, UAC, 0.2)
        assert events(layer) == [RequestReceived(ack, UAC, None)]
        assert tx.state is TxState.ACCEPTED

    def test_ack_for_nothing_when_no_final_sent(self) -> None:
        layer = TransactionLayer()
        invite = make_request("INVITE")
        layer.receive(invite, UAC, 0.0)
        events(layer)
        layer.receive(make_request("ACK", branch=invite.top_via.branch), UAC, 0.1)
        assert events(layer) == [] and layer.datagrams_to_send() == []

    def test_cancel_has_own_transaction_and_finds_its_invite(self) -> None:
        layer = TransactionLayer()
        invite = make_request("INVITE")
        layer.receive(invite, UAC, 0.0)
        ist = events(layer)[0].transaction
        cancel = make_request("CANCEL", branch=invite.top_via.branch)
        layer.receive(cancel, UAC, 1.0)
        [ev] = events(layer)
        assert isinstance(ev, RequestReceived)
        assert isinstance(ev.transaction, ServerNonInviteTransaction)
        assert ev.transaction is not ist
        assert len(layer) == 2
        assert layer.find_invite_for_cancel(cancel) is ist
        assert layer.find_invite_for_cancel(make_request("CANCEL")) is None
        other_host = make_request("CANCEL", branch=invite.top_via.branch, sent_by="10.0.0.9:5070")
        assert layer.find_invite_for_cancel(other_host) is None

    def test_find_server_does_not_feed(self) -> None:
        layer = TransactionLayer()
        req = make_request("OPTIONS")
        assert layer.find_server(req) is None
        layer.receive(req, UAC, 0.0)
        tx = events(layer)[0].transaction
        layer.send_response(tx, make_response(req, 200), 0.1)  # type: ignore[arg-type]
        layer.datagrams_to_send()
        assert layer.find_server(req.copy(), UAC) is tx
        assert layer.find_server(make_request("OPTIONS")) is None
        assert layer.datagrams_to_send() == [] and events(layer) == []

    def test_find_server_maps_ack_to_invite(self) -> None:
        layer = TransactionLayer()
        invite = make_request("INVITE")
        layer.receive(invite, UAC, 0.0)
        tx = events(layer)[0].transaction
        assert layer.find_server(make_request("ACK", branch=invite.top_via.branch)) is tx

    def test_same_branch_other_sent_by_is_another_transaction(self) -> None:
        layer = TransactionLayer()
        a = make_request("OPTIONS", branch="z9hG4bKsame", sent_by="10.0.0.1:5060")
        b = make_request("OPTIONS", branch="z9hG4bKsame", sent_by="10.0.0.2:5060")
        layer.receive(a, UAC, 0.0)
        layer.receive(b, UAC, 0.0)
        evs = events(layer)
        assert len(evs) == 2 and len(layer) == 2

    def test_sent_by_default_port_and_host_case(self) -> None:
        layer = TransactionLayer()
        a = make_request("OPTIONS", branch="z9hG4bKcase", sent_by="Host.Lab")
        b = make_request("OPTIONS", branch="z9hG4bKcase", sent_by="host.lab:5060")
        layer.receive(a, UAC, 0.0)
        layer.receive(b, UAC, 0.1)
        assert len(events(layer)) == 1 and len(layer) == 1

    def test_same_branch_other_method_is_another_transaction(self) -> None:
        layer = TransactionLayer()
        layer.receive(make_request("OPTIONS", branch="z9hG4bKm"), UAC, 0.0)
        layer.receive(make_request("INFO", branch="z9hG4bKm"), UAC, 0.0)
        assert len(layer) == 2

    def test_branch_without_magic_cookie_matched_the_same_way(self) -> None:
        layer = TransactionLayer()
        req = make_request("OPTIONS", branch="oldstyle123")
        layer.receive(req, UAC, 0.0)
        tx = events(layer)[0].transaction
        layer.send_response(tx, make_response(req, 200), 0.1)  # type: ignore[arg-type]
        sent = layer.datagrams_to_send()
        layer.receive(req.copy(), UAC, 0.2)
        assert layer.datagrams_to_send() == sent and events(layer) == []
        # Another request with the same non-cookie branch is taken as a retransmission (no
        # RFC 2543 fallback on Call-ID/CSeq).
        layer.receive(make_request("OPTIONS", branch="oldstyle123", cseq=9), UAC, 0.3)
        assert layer.datagrams_to_send() == sent and events(layer) == []
        # Client side as well.
        out = make_request("OPTIONS", branch="legacy42")
        ctx = layer.send_request(out, UAS, 0.0)
        resp = make_response(out, 200)
        layer.receive(resp, UAS, 0.1)
        assert events(layer) == [ResponseReceived(resp, UAS, ctx)]

    def test_via_without_branch(self) -> None:
        layer = TransactionLayer()
        r1 = make_request("OPTIONS", via_params="", cseq=1)
        r2 = make_request("OPTIONS", via_params="", cseq=2)
        layer.receive(r1, UAC, 0.0)
        layer.receive(r2, UAC, 0.0)
        assert len(events(layer)) == 2 and len(layer) == 2
        layer.receive(r1.copy(), UAC, 0.1)                # a retransmission still matches
        assert events(layer) == [] and len(layer) == 2
        resp = make_response(r1, 200)
        layer.receive(resp, UAS, 0.2)                     # a response without branch is stray
        assert events(layer) == [ResponseReceived(resp, UAS, None)]


# ---------------------------------------------------------------------------------------------
class TestLayer:
    """Layer-wide behaviour: misuse, terminate(), stateless sends, timers, leaks."""

    def test_send_request_rejects_ack(self) -> None:
        layer = TransactionLayer()
        with pytest.raises(LocalProtocolError):
            layer.send_request(make_request("ACK"), UAS, 0.0)
        assert len(layer) == 0 and layer.datagrams_to_send() == []

    def test_send_request_rejects_duplicate_branch(self) -> None:
        layer = TransactionLayer()
        req = make_request("INVITE")
        layer.send_request(req, UAS, 0.0)
        layer.datagrams_to_send()
        with pytest.raises(LocalProtocolError):
            layer.send_request(req.copy(), UAS, 1.0)
        assert len(layer) == 1 and layer.datagrams_to_send() == []

    def test_send_request_needs_branch(self) -> None:
        layer = TransactionLayer()
        with pytest.raises(LocalProtocolError):
            layer.send_request(make_request("OPTIONS", via_params=""), UAS, 0.0)
        assert len(layer) == 0

    def test_send_request_needs_via(self) -> None:
        layer = TransactionLayer()
        req = make_request("OPTIONS")
        req.headers.remove_all("Via")
        with pytest.raises(LocalProtocolError):
            layer.send_request(req, UAS, 0.0)

    def test_terminate_silences_client_transaction(self) -> None:
        layer = TransactionLayer()
        invite = make_request("INVITE")
        tx = layer.send_request(invite, UAS, 0.0)
        layer.datagrams_to_send()
        tx.user_data = "branch-1"
        layer.terminate(tx)
        assert tx.state is TxState.TERMINATED and tx.user_data == "branch-1"
        assert len(layer) == 0
        assert layer.get_timer() is None
        layer.handle_timer(100.0)
        assert layer.datagrams_to_send() == [] and events(layer) == []
        resp = make_response(invite, 180)
        layer.receive(resp, UAS, 1.0)
        assert events(layer) == [ResponseReceived(resp, UAS, None)]
        layer.terminate(tx)                                # idempotent
        layer.send_request(invite.copy(), UAS, 2.0)        # the key is free again

    def test_terminate_server_transaction(self) -> None:
        layer = TransactionLayer()
        req = make_request("OPTIONS")
        layer.receive(req, UAC, 0.0)
        tx = events(layer)[0].transaction
        assert tx is not None
        layer.terminate(tx)
        assert len(layer) == 0 and events(layer) == []
        layer.receive(req.copy(), UAC, 1.0)                # now seen as a new request
        [ev] = events(layer)
        assert isinstance(ev, RequestReceived) and ev.transaction is not tx

    def test_terminate_in_completed_stops_timer_g(self) -> None:
        layer = TransactionLayer()
        invite = make_request("INVITE")
        layer.receive(invite, UAC, 0.0)
        tx = events(layer)[0].transaction
        layer.send_response(tx, make_response(invite, 500), 0.0)  # type: ignore[arg-type]
        layer.datagrams_to_send()
        layer.terminate(tx)  # type: ignore[arg-type]
        assert run_timers(layer, 100.0) == []
        assert events(layer) == []

    def test_send_stateless(self) -> None:
        layer = TransactionLayer()
        ack = make_request("ACK")
        resp = make_response(make_request("BYE"), 400)
        layer.send_stateless(ack, UAS)
        layer.send_stateless(resp, UAC)
        assert layer.datagrams_to_send() == [(ack.to_bytes(), UAS), (resp.to_bytes(), UAC)]
        assert len(layer) == 0 and layer.get_timer() is None and events(layer) == []

    def test_datagrams_in_order(self) -> None:
        layer = TransactionLayer()
        reqs = [make_request("OPTIONS") for _ in range(3)]
        for i, r in enumerate(reqs):
            layer.send_request(r, (f"10.0.0.{i}", 5060), 0.0)
        assert layer.datagrams_to_send() == [
            (r.to_bytes(), (f"10.0.0.{i}", 5060)) for i, r in enumerate(reqs)]

    def test_retransmission_reuses_bytes_even_if_request_is_edited(self) -> None:
        layer = TransactionLayer()
        req = make_request("OPTIONS")
        layer.send_request(req, UAS, 0.0)
        [(first, _)] = layer.datagrams_to_send()
        req.headers.set("Max-Forwards", "1")
        layer.handle_timer(0.5)
        [(again, _)] = layer.datagrams_to_send()
        assert again is first

    def test_get_timer_is_earliest_over_transactions(self) -> None:
        layer = TransactionLayer()
        layer.send_request(make_request("OPTIONS"), UAS, 3.0)
        layer.send_request(make_request("INVITE"), UAS, 1.0)
        assert layer.get_timer() == 1.5
        layer.handle_timer(1.5)
        assert layer.get_timer() == 2.5
        assert len(layer.datagrams_to_send()) == 3

    def test_custom_timers(self) -> None:
        layer = TransactionLayer(TimerConfig(t1=0.1, t2=0.4, t4=1.0))
        tx = layer.send_request(make_request("OPTIONS"), UAS, 0.0)
        layer.datagrams_to_send()
        fired = run_timers(layer, 100.0)
        expected = [0.1, 0.3, 0.7] + [1.1 + 0.4 * i for i in range(14)]    # E capped at T2 = 0.4
        assert send_times(fired) == pytest.approx(expected)
        assert fired[-1][0] == pytest.approx(6.4)                          # F = 64·T1
        assert events(layer) == [TimedOut(tx), Terminated(tx)]

    def test_no_leaks_after_mixed_traffic(self) -> None:
        layer = TransactionLayer()
        now = 0.0
        for i in range(50):
            now += 0.01
            # client INVITE answered 486, client INVITE answered 200, client OPTIONS unanswered
            inv = make_request("INVITE", call_id=f"a{i}")
            layer.send_request(inv, UAS, now)
            layer.receive(make_response(inv, 486, to_tag="t"), UAS, now)
            inv2 = make_request("INVITE", call_id=f"b{i}")
            layer.send_request(inv2, UAS, now)
            layer.receive(make_response(inv2, 200, to_tag="t"), UAS, now)
            layer.send_request(make_request("OPTIONS", call_id=f"c{i}"), UAS, now)
            # server INVITE rejected and ACKed, server INVITE rejected without ACK,
            # server INVITE accepted, server MESSAGE answered, server BYE never answered
            for kind in ("ack", "noack", "ok"):
                sinv = make_request("INVITE", call_id=f"{kind}{i}")
                layer.receive(sinv, UAC, now)
                stx = layer.find_server(sinv)
                assert stx is not None
                layer.send_response(stx, make_response(sinv, 200 if kind == "ok" else 480), now)
                if kind == "ack":
                    layer.receive(make_request("ACK", branch=sinv.top_via.branch), UAC, now)
            msg = make_request("MESSAGE", call_id=f"m{i}")
            layer.receive(msg, UAC, now)
            mtx = layer.find_server(msg)
            assert mtx is not None
            layer.send_response(mtx, make_response(msg, 202), now)
            layer.receive(make_request("BYE", call_id=f"y{i}"), UAC, now)
        assert len(layer) == 50 * 8
        run_timers(layer, now + 1000.0)
        assert len(layer) == 50                            # only the never-answered BYEs
        evs = events(layer)
        byes = [e.transaction for e in evs
                if isinstance(e, RequestReceived) and e.request.method == "BYE"]
        for tx in byes:
            assert tx is not None
            layer.terminate(tx)
        assert len(layer) == 0
        assert layer.get_timer() is None
        assert sum(isinstance(e, TimedOut) for e in evs) == 100    # OPTIONS (F) + no-ACK (H)
        assert sum(isinstance(e, Terminated) for e in evs) == 50 * 7

    def test_heap_is_compacted(self) -> None:
        layer = TransactionLayer()
        keep = layer.send_request(make_request("INVITE"), UAS, 0.0)
        for i in range(3000):                              # dead entries pile up …
            tx = layer.send_request(make_request("OPTIONS", call_id=f"h{i}"), UAS, 0.0)
            layer.terminate(tx)
        assert len(layer._heap) <= 1025                    # … and are swept
        assert layer.get_timer() == 0.5                    # the INVITE's Timer A survived
        layer.datagrams_to_send()
        fired = run_timers(layer, 1000.0)
        assert send_times(fired) == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
        assert events(layer) == [TimedOut(keep), Terminated(keep)]
        assert len(layer) == 0 and layer.get_timer() is None and layer._heap == []

    def test_events_are_frozen(self) -> None:
        ev = TimedOut(None)  # type: ignore[arg-type]
        with pytest.raises(AttributeError):
            ev.transaction = ev.transaction  # type: ignore[misc]

    def test_reexport(self) -> None:
        from labpbx.sip import layer, transaction
        assert transaction.TransactionLayer is layer.TransactionLayer
        with pytest.raises(AttributeError):
            transaction.NoSuchThing  # noqa: B018

