"""The registration plan (pure): who registers when, re-registration after a proxy restart."""

from __future__ import annotations

from labpbx.lab.registrations import UNREGISTER_GRACE, Registrations, SendPolicy
from labpbx.phones.policy import Policy

ANSWER = (Policy.ANSWER, 3.0)


def plan(**wanted: tuple[Policy, float]) -> Registrations:
    phones = {"phone-a": ("1000", "1001"), "phone-b": ("1002",)}
    policies = {ext: wanted.get(f"x{ext}", ANSWER) for ext in ("1000", "1001", "1002")}
    return Registrations(phones, policies)


def sent(actions: list[SendPolicy]) -> list[tuple[str, str, str]]:
    return [(a.phone, a.ext, a.policy.value) for a in actions]


class TestStart:
    def test_phones_started_before_the_proxy_start_offline(self) -> None:
        p = plan(x1001=(Policy.BUSY, 0.0), x1002=(Policy.OFFLINE, 3.0))
        assert p.spawn_policies("phone-a") == {"1000": (Policy.OFFLINE, 3.0),
                                               "1001": (Policy.OFFLINE, 0.0)}
        # an extension that should stay offline starts offline and is never registered
        assert p.spawn_policies("phone-b") == {"1002": (Policy.OFFLINE, 3.0)}

    def test_the_wanted_policy_goes_out_once_both_are_ready(self) -> None:
        p = plan(x1001=(Policy.BUSY, 0.0))
        p.spawn_policies("phone-a")
        p.spawn_policies("phone-b")
        assert p.on_phone_ready("phone-a", 0.0) == []  # the proxy is not listening yet
        assert sent(p.on_proxy_ready(0.1)) == [("phone-a", "1000", "answer"),
                                               ("phone-a", "1001", "busy")]
        assert sent(p.on_phone_ready("phone-b", 0.2)) == [("phone-b", "1002", "answer")]
        assert not p.all_registered()
        for ext in ("1000", "1001"):
            p.on_registration(ext, True, 0.3)
        assert p.unregistered() == ["1002"]
        p.on_registration("1002", True, 0.3)
        assert p.all_registered()

    def test_start_up_offline_events_are_hidden_but_the_users_are_not(self) -> None:
        p = plan()
        p.spawn_policies("phone-a")
        assert p.on_policy("1000", Policy.OFFLINE, 3.0) is False
        assert p.on_policy("1000", Policy.ANSWER, 3.0) is True
        assert p.on_policy("1000", Policy.OFFLINE, 3.0) is True  # the user's own "offline"

    def test_a_phone_restarted_while_the_proxy_listens_starts_with_its_policy(self) -> None:
        p = plan(x1001=(Policy.RING, 0.0))
        p.spawn_policies("phone-a")
        p.on_proxy_ready(0.0)
        p.on_phone_down("phone-a")
        assert p.spawn_policies("phone-a") == {"1000": ANSWER, "1001": (Policy.RING, 0.0)}
        assert p.on_phone_ready("phone-a", 1.0) == []  # it registers on its own


class TestProxyRestart:
    def started(self) -> Registrations:
        p = plan()
        for phone in ("phone-a", "phone-b"):
            p.spawn_policies(phone)
            p.on_phone_ready(phone, 0.0)
        p.on_proxy_ready(0.0)
        for ext in ("1000", "1001", "1002"):
            p.on_policy(ext, Policy.ANSWER, 3.0)
            p.on_registration(ext, True, 0.1)
        return p

    def test_unregister_first_then_register_when_it_is_answered(self) -> None:
        p = self.started()
        p.on_proxy_down()
        assert not p.all_registered()
        actions = p.on_proxy_ready(10.0)
        assert sent(actions) == [("phone-a", "1000", "offline"), ("phone-a", "1001", "offline"),
                                 ("phone-b", "1002", "offline")]
        assert all(a.internal for a in actions)
        assert p.on_policy("1000", Policy.OFFLINE, 3.0) is False  # hidden
        # pjsua refuses a REGISTER while the un-REGISTER runs: wait for its answer
        assert sent(p.on_registration("1000", False, 10.01)) == [("phone-a", "1000", "answer")]
        assert p.next_deadline() == 10.0 + UNREGISTER_GRACE

    def test_an_unanswered_unregister_is_given_up_after_the_grace(self) -> None:
        p = self.started()
        p.on_proxy_down()
        p.on_proxy_ready(10.0)
        assert p.on_tick(10.0 + UNREGISTER_GRACE / 2) == []
        assert len(p.on_tick(10.0 + UNREGISTER_GRACE)) == 3
        assert p.next_deadline() is None

    def test_a_user_policy_during_the_plan_wins(self) -> None:
        p = self.started()
        p.on_proxy_down()
        p.on_proxy_ready(10.0)
        p.on_user_policy("1000", Policy.DND, 0.0)
        assert sent(p.on_registration("1000", False, 10.1)) == [("phone-a", "1000", "dnd")]
        assert p.wanted("1000") == (Policy.DND, 0.0)
