"""argparse value types shared by every ``labpbx`` command (one clear message per bad value)."""

from __future__ import annotations

import argparse

from labpbx.errors import ConfigError


def hostport(text: str) -> tuple[str, int]:
    """HOST:PORT (a bare host means port 5060; ``localhost`` means 127.0.0.1)."""
    from labpbx.proxy.config import parse_hostport

    try:
        return parse_hostport(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from exc


def positive_seconds(text: str) -> float:
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


def non_negative_seconds(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def port(text: str) -> int:
    """0..65535 (0 = any free port)."""
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from exc
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be between 0 and 65535")
    return value


def positive_int(text: str) -> int:
    """A whole number more than 0 (e.g. a Retry-After in seconds)."""
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from exc
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value
