"""Two transaction layers talking to each other through bytes (h11 ConnectionPair style).

A client layer (the UAC side, at CLIENT) and a server layer (the UAS side, at SERVER) exchange
the datagrams they queue, parsed back with ``parse_message``; a fake clock drives both.
"""

from __future__ import annotations

from collections.abc import Callable

from labpbx.sip.events import Event, RequestReceived, ResponseReceived, Terminated, TimedOut
from labpbx.sip.message import (
    Addr,
    Headers,
    Request,
    Response,
    make_response,
    new_branch,
    parse_message,
)
from labpbx.sip.transaction import (
    ClientInviteTransaction,
    ServerInviteTransaction,
    TransactionLayer,
    TxState,
)

CLIENT: Addr = ("127.0.0.1", 5070)
SERVER: Addr = ("127.0.0.1", 5080)

Drop = Callable[[bytes], bool]


def make_invite() -> Request:
    return Request("INVITE", "sip:bob@127.0.0.1:5080", Headers([
        ("Via", f"SIP/2.0/UDP 127.0.0.1:5070;branch={new_branch()}"),
        ("Max-Forwards", "70"),
        ("From", "\"Alice\" <sip:alice@lab>;tag=a1"),
        ("To", "<sip:bob@lab>"),
        ("Call-ID", "pair-1@lab"),
        ("CSeq", "7 INVITE"),
        ("Contact", "<sip:alice@127.0.0.1:5070>"),
        ("Content-Type", "application/sdp"),
    ]), body=b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n")


class Pair:
    def __init__(self) -> None:
        self.client = TransactionLayer()
        self.server = TransactionLayer()
        self.now = 0.0
        self.wire: list[tuple[Addr, Addr, bytes]] = []      # (from, to, bytes) of every datagram
        self.client_events: list[Event] = []
        self.server_events: list[Event] = []

    def pump(self, drop: Drop = lambda data: False) -> None:
        """Deliver queued datagrams both ways until nothing is left to send."""
        moved = True
        while moved:
            moved = False
            for src, src_addr, dst, dst_addr in (
                (self.client, CLIENT, self.server, SERVER),
                (self.server, SERVER, self.client, CLIENT),
            ):
                for data, addr in src.datagrams_to_send():
                    assert addr == dst_addr
                    moved = True
                    self.wire.append((src_addr, dst_addr, data))
                    if not drop(data):
                        dst.receive(parse_message(data), src_addr, self.now)
        self.collect()

    def collect(self) -> None:
        for layer, out in ((self.client, self.client_events), (self.server, self.server_events)):
            while (ev := layer.next_event()) is not None:
                out.append(ev)

    def advance_to(self, t: float, drop: Drop = lambda data: False) -> None:
        """Run both layers' timers up to t, delivering what they send as it is sent."""
        while True:
            deadlines = [d for d in (self.client.get_timer(), self.server.get_timer())
                         if d is not None and d <= t]
            if not deadlines:
                break
            self.now = min(deadlines)
            self.client.handle_timer(self.now)
            self.server.handle_timer(self.now)
            self.pump(drop)
        self.now = t

    def sent(self, start: bytes) -> list[tuple[Addr, Addr, bytes]]:
        return [w for w in self.wire if w[2].startswith(start)]


def first_line(data: bytes) -> bytes:
    return data.split(b"\r\n", 1)[0]


class TestPair:
    def start_call(self, pair: Pair) -> tuple[Request, ClientInviteTransaction,
                                               ServerInviteTransaction, Request]:
        invite = make_invite()
        ctx = pair.client.send_request(invite, SERVER, pair.now)
        assert isinstance(ctx, ClientInviteTransaction)
        pair.pump()
        [ev] = pair.server_events
        assert isinstance(ev, RequestReceived)
        stx = ev.transaction
        assert isinstance(stx, ServerInviteTransaction)
        assert ev.request.body == invite.body
        pair.server_events.clear()
        return invite, ctx, stx, ev.request

    def test_invite_486_ack(self) -> None:
        pair = Pair()
        _, ctx, stx, received = self.start_call(pair)
        pair.now = 0.05
        pair.server.send_response(stx, make_response(received, 100), pair.now)
        pair.now = 0.2
        pair.server.send_response(stx, make_response(received, 486, to_tag="b1"), pair.now)
        pair.pump()
        statuses = [e.response.status for e in pair.client_events
                    if isinstance(e, ResponseReceived) and e.transaction is ctx]
        assert statuses == [100, 486]
        assert ctx.state is TxState.COMPLETED
        assert stx.state is TxState.CONFIRMED             # the ICT's ACK reached the IST
        assert pair.server_events == []                   # … and was absorbed there
        [(_, _, ack)] = pair.sent(b"ACK ")
        assert first_line(ack) == b"ACK sip:bob@127.0.0.1:5080 SIP/2.0"
        pair.advance_to(100.0)
        assert pair.wire[-1][2] == ack                    # nothing retransmitted after the ACK
        assert len(pair.client) == 0 and len(pair.server) == 0
        assert pair.client_events[-1] == Terminated(ctx)
        assert pair.server_events == [Terminated(stx)]
        assert pair.client.get_timer() is None and pair.server.get_timer() is None

    def test_invite_486_with_losses(self) -> None:
        pair = Pair()
        lost = {"INVITE": 1, "486": 2, "ACK": 1}

        def drop(data: bytes) -> bool:
            line = first_line(data)
            key = "INVITE" if line.startswith(b"INVITE") else "ACK" if line.startswith(b"ACK") \
                else "486" if b" 486 " in line else ""
            if lost.get(key):
                lost[key] -= 1
                return True
            return False

        invite = make_invite()
        ctx = pair.client.send_request(invite, SERVER, 0.0)
        pair.pump(drop)
        assert pair.server_events == []
        pair.advance_to(0.5, drop)                        # Timer A brings the INVITE across
        [ev] = pair.server_events
        assert isinstance(ev, RequestReceived)
        stx = ev.transaction
        assert stx is not None
        pair.server.send_response(stx, make_response(ev.request, 486, to_tag="b1"), 0.6)
        pair.now = 0.6
        pair.pump(drop)                                   # 486 lost
        assert ctx.state is TxState.CALLING
        pair.advance_to(40.0, drop)
        # G at 1.1: 486 lost again; A at 1.5 reaches the IST in Completed, which re-sends the 486
        # → the ICT completes and ACKs (ACK lost); G at 2.1 → the ICT re-sends the same ACK.
        assert (ctx.state, stx.state) == (TxState.TERMINATED, TxState.TERMINATED)
        acks = pair.sent(b"ACK ")
        assert len(acks) == 2 and acks[0][2] == acks[1][2]
        assert [type(e) for e in pair.server_events] == [RequestReceived, Terminated]
        responses = [e for e in pair.client_events if isinstance(e, ResponseReceived)]
        assert [(e.response.status, e.transaction) for e in responses] == [(486, ctx)]
        assert not any(isinstance(e, TimedOut) for e in pair.client_events + pair.server_events)
        assert len(pair.client) == 0 and len(pair.server) == 0

    def test_invite_200_ack(self) -> None:
        pair = Pair()
        invite, ctx, stx, received = self.start_call(pair)
        pair.now = 0.1
        pair.server.send_response(stx, make_response(received, 180, to_tag="b1"), pair.now)
        ok = make_response(received, 200, to_tag="b1")
        ok.headers.add("Contact", "<sip:bob@127.0.0.1:5080>")
        pair.now = 1.0
        pair.server.send_response(stx, ok, pair.now)
        pair.pump()
        assert ctx.state is TxState.ACCEPTED and stx.state is TxState.ACCEPTED
        responses = [e for e in pair.client_events if isinstance(e, ResponseReceived)]
        assert [e.response.status for e in responses] == [180, 200]
        assert pair.sent(b"ACK ") == []                   # the ICT does not ACK a 2xx
        # The UAS core retransmits its 2xx through the IST; the ICT hands it to the TU again.
        pair.now = 1.5
        pair.server.send_response(stx, ok, pair.now)
        pair.pump()
        responses = [e for e in pair.client_events if isinstance(e, ResponseReceived)]
        assert [(e.response.status, e.transaction) for e in responses] == [
            (180, ctx), (200, ctx), (200, ctx)]
        # The UAC core sends the ACK for the 2xx itself, with a new branch (§13.2.2.4).
        ack = Request("ACK", "sip:bob@127.0.0.1:5080", Headers([
            ("Via", f"SIP/2.0/UDP 127.0.0.1:5070;branch={new_branch()}"),
            ("Max-Forwards", "70"),
            ("From", invite.headers.get("From") or ""),
            ("To", responses[-1].response.headers.get("To") or ""),
            ("Call-ID", invite.call_id),
            ("CSeq", "7 ACK"),
        ]))
        pair.now = 2.0
        pair.client.send_stateless(ack, SERVER)
        pair.pump()
        [ev] = pair.server_events
        assert isinstance(ev, RequestReceived) and ev.transaction is None
        assert ev.request.method == "ACK"
        pair.server_events.clear()
        pair.advance_to(100.0)
        assert len(pair.client) == 0 and len(pair.server) == 0
        assert pair.server_events == [Terminated(stx)]
        assert pair.client_events[-1] == Terminated(ctx)
        assert not any(isinstance(e, TimedOut) for e in pair.client_events)
        assert len(pair.sent(b"SIP/2.0 200")) == 2         # no retransmission by the layers

    def test_options_200(self) -> None:
        pair = Pair()
        opts = Request("OPTIONS", "sip:bob@127.0.0.1:5080", Headers([
            ("Via", f"SIP/2.0/UDP 127.0.0.1:5070;branch={new_branch()}"),
            ("From", "<sip:alice@lab>;tag=a1"),
            ("To", "<sip:bob@lab>"),
            ("Call-ID", "opts@lab"),
            ("CSeq", "1 OPTIONS"),
        ]))
        ctx = pair.client.send_request(opts, SERVER, 0.0)
        pair.pump()
        pair.advance_to(0.5)                              # E retransmission: absorbed in Trying
        [ev] = pair.server_events
        assert isinstance(ev, RequestReceived) and ev.transaction is not None
        assert len(pair.sent(b"OPTIONS ")) == 2
        pair.now = 0.6
        pair.server.send_response(ev.transaction, make_response(ev.request, 200), pair.now)
        pair.pump()
        pair.advance_to(100.0)
        assert [type(e) for e in pair.client_events] == [ResponseReceived, Terminated]
        assert isinstance(pair.client_events[0], ResponseReceived)
        assert pair.client_events[0].transaction is ctx
        assert isinstance(pair.client_events[0].response, Response)
        assert len(pair.client) == 0 and len(pair.server) == 0
