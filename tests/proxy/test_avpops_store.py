"""avp_db_load / avp_db_store / avp_db_delete against a real TinyDB lab file (SEMANTICS.md §1)."""

from __future__ import annotations

from pathlib import Path

from labpbx.events import Event, ProblemEvent, XlogEvent
from labpbx.proxy.config import ProxyConfig
from labpbx.proxy.engine import Proxy
from labpbx.script.loader import load_script
from labpbx.store.db import LabStore
from tests.proxy.harness import CALLER_DEFAULT, MEDIA, invite

SCRIPT = """
route {
    if (avp_db_load("$ru", "$avp(callfwd)")) {
        xlog("top=$avp(callfwd) second=$(avp(callfwd)[1])");
        $avp(note) = "seen";
        avp_db_store("$ru", "$avp(note)");
        avp_db_delete("$ru", "$avp(callfwd)");
    } else {
        xlog("none");
    }
    sl_send_reply("404", "done");
}
"""


def run_once(store: LabStore, user: str) -> list[str]:
    events: list[Event] = []
    proxy = Proxy(ProxyConfig(listen=("127.0.0.1", 15060)), load_script(SCRIPT), preferences=store,
                  sink=events.append)
    proxy.receive_datagram(invite("1000", user, CALLER_DEFAULT).to_bytes(), CALLER_DEFAULT, 1.0)
    return [e.text for e in events if isinstance(e, XlogEvent)]


def test_load_store_delete(tmp_path: Path) -> None:
    store = LabStore(tmp_path / "lab.json")
    store.avp_add("1004@127.0.0.1", "callfwd", 0, "sip:first@127.0.0.1")
    store.avp_add("1004@127.0.0.1", "callfwd", 0, f"sip:2345678@{MEDIA[0]}")
    assert run_once(store, "1004") == [f"top=sip:2345678@{MEDIA[0]} second=sip:first@127.0.0.1"]
    assert [r.value for r in store.avp_list(attribute="note")] == ["seen"]
    assert store.avp_list(attribute="callfwd") == []
    assert run_once(store, "1004") == ["none"]


def test_uuid_owner_is_not_found_by_ru(tmp_path: Path) -> None:
    store = LabStore(tmp_path / "lab.json")
    store.avp_add("1004@localhost", "callfwd", 0, "sip:x@127.0.0.1")  # stored as uuid (opensipsctl)
    assert run_once(store, "1004") == ["none"]


def test_corrupt_database_mid_run_is_reported_and_the_call_goes_on(tmp_path: Path) -> None:
    """The lab file is broken while the proxy runs: avp_db_load fails (-1), a problem event says
    why, and the request is still handled by the rest of the script."""
    db = tmp_path / "lab.json"
    store = LabStore(db)
    store.avp_add("1004@127.0.0.1", "callfwd", 0, "sip:x@127.0.0.1")
    db.write_bytes(b"{ broken")
    events: list[Event] = []
    proxy = Proxy(ProxyConfig(listen=("127.0.0.1", 15060)), load_script(SCRIPT), preferences=store,
                  sink=events.append)
    proxy.receive_datagram(invite("1000", "1004", CALLER_DEFAULT).to_bytes(), CALLER_DEFAULT, 1.0)
    assert [e.text for e in events if isinstance(e, XlogEvent)] == ["none"]
    assert any(isinstance(e, ProblemEvent) and "lab.json" in e.message for e in events)
    assert db.read_bytes() == b"{ broken"  # nothing was overwritten


def test_integer_avp_is_loaded_as_an_integer(tmp_path: Path) -> None:
    """type 1 (value is an int, SEMANTICS.md §1.2): arithmetic on the loaded value works."""
    store = LabStore(tmp_path / "lab.json")
    store.avp_add("1004@127.0.0.1", "ringtime", 1, 5)
    script = """
    route {
        if (avp_db_load("$ru", "$avp(ringtime)")) { $var(t) = $avp(ringtime) * 2; xlog("t=$var(t)"); }
        sl_send_reply("404", "done");
    }
    """
    events: list[Event] = []
    proxy = Proxy(ProxyConfig(listen=("127.0.0.1", 15060)), load_script(script), preferences=store,
                  sink=events.append)
    proxy.receive_datagram(invite("1000", "1004", CALLER_DEFAULT).to_bytes(), CALLER_DEFAULT, 1.0)
    assert [e.text for e in events if isinstance(e, XlogEvent)] == ["t=10"]


def test_avp_load_returns_typed_values(tmp_path: Path) -> None:
    store = LabStore(tmp_path / "lab.json")
    store.avp_add("1004@127.0.0.1", "ringtime", 1, 5)
    store.avp_add("1004@127.0.0.1", "callfwd", 0, "sip:x@127.0.0.1")
    proxy = Proxy(ProxyConfig(listen=("127.0.0.1", 15060)), load_script("route { exit; }"),
                  preferences=store)
    loaded = proxy.avp_load(uuid=None, username="1004", domain=None, attribute=None,
                            table="usr_preferences", line=1)
    assert sorted(loaded, key=str) == sorted([("ringtime", 5), ("callfwd", "sip:x@127.0.0.1")], key=str)
