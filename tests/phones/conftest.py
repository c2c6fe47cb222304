"""Fixtures for the phone tests: a fake registrar and phone child processes that are always
shut down (EOF on stdin, then kill by PID) so no process or socket outlives a test."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.phones.harness import FakeRegistrar, PhoneProcess  # noqa: E402

Spawn = Callable[..., PhoneProcess]


@pytest.fixture
def registrar() -> Iterator[FakeRegistrar]:
    reg = FakeRegistrar()
    try:
        yield reg
    finally:
        reg.close()


@pytest.fixture
def spawn(registrar: FakeRegistrar) -> Iterator[Spawn]:
    """Start phone processes pointed at the fake registrar; each must exit 0 on EOF at teardown."""
    started: list[PhoneProcess] = []

    def _spawn(exts: Sequence[str], policies: Sequence[str] = (), extra: Sequence[str] = (),
               **options: Any) -> PhoneProcess:
        phone = PhoneProcess(registrar.address, exts, policies, extra, **options)
        started.append(phone)
        return phone

    yield _spawn
    failures: list[str] = []
    for phone in started:
        try:
            code = phone.close()
        except AssertionError as exc:  # killed by PID inside close(); report after the others
            failures.append(str(exc))
            continue
        if code != phone.expected_exit:
            failures.append(f"phone {phone.proc.pid} exited {code}\n{phone.describe()}")
    for phone in started:
        phone.stderr.close()
        assert phone.proc.returncode is not None, f"phone {phone.proc.pid} still running"
    assert not failures, "\n".join(failures)
