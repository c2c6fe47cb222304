"""Script values at run time: truth, comparison, arithmetic, regular expressions, printing.

Rules of this module (OpenSIPS 2.4 semantics, SEMANTICS.md §3.2):
  * A value is ``str | int | None`` (None is NULL). Python bools never appear as values.
  * Truth of a plain value (a variable or literal used as a condition): NULL is false, an int is
    true when non-zero, a string when non-empty. Function and route results follow the return-code
    rule instead (>0 true, <0 false, 0 stops the script); that rule lives in the interpreter.
  * Equality and ordering: NULL equals only NULL and is never ordered. An int against a numeric
    string compares as integers; two strings compare lexicographically; anything else compares
    by its string form.
  * Arithmetic is on ints; ``+`` with a string operand concatenates the string forms. NULL or a
    string operand to another operator raises ScriptRuntimeError naming the script line. ``/`` and
    ``%`` truncate toward zero as in C.
  * ``=~`` patterns are POSIX extended regexes, matched case-insensitively and unanchored like
    OpenSIPS (regcomp REG_EXTENDED|REG_ICASE). POSIX bracket classes ([:digit:] ...) are translated
    for Python's re.
  * Printing (format strings): NULL prints as "<null>", as OpenSIPS' xlog does.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable
from typing import Any

from labpbx.errors import ScriptRuntimeError
from labpbx.script.host import Value

NULL_TEXT = "<null>"
_NUMERIC = re.compile(r"[+-]?[0-9]+")
_POSIX_CLASSES = {
    "[:digit:]": "0-9", "[:alpha:]": "A-Za-z", "[:alnum:]": "A-Za-z0-9", "[:upper:]": "A-Z",
    "[:lower:]": "a-z", "[:space:]": r" \t\r\n\v\f", "[:blank:]": r" \t", "[:xdigit:]": "0-9A-Fa-f",
    "[:punct:]": r"!-/:-@\[-`{-~", "[:cntrl:]": r"\x00-\x1f\x7f", "[:print:]": r" -~",
    "[:graph:]": r"!-~",
}
_POSIX_CLASS_RE = re.compile("|".join(re.escape(k) for k in _POSIX_CLASSES))


def truth(value: Value) -> bool:
    if value is None:
        return False
    return value != 0 if isinstance(value, int) else value != ""


def to_text(value: Value) -> str:
    """The string form used by format strings."""
    if value is None:
        return NULL_TEXT
    return value if isinstance(value, str) else str(value)


def as_int(value: Value) -> int | None:
    """The integer a value stands for: an int, or a string holding a decimal integer."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _NUMERIC.fullmatch(value.strip()):
        return int(value)
    return None


def equals(left: Value, right: Value) -> bool:
    if left is None or right is None:
        return left is right
    if type(left) is type(right):
        return left == right
    a, b = as_int(left), as_int(right)
    if a is not None and b is not None:
        return a == b
    return str(left) == str(right)


_ORDER_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge,
}


def _ordered(op: str, a: int | str, b: int | str) -> bool:
    return bool(_ORDER_OPS[op](a, b))


def compare(op: str, left: Value, right: Value) -> bool:
    """Evaluate ``left op right`` for op in == != < > <= >=."""
    if op == "==":
        return equals(left, right)
    if op == "!=":
        return not equals(left, right)
    if left is None or right is None:
        return False
    if isinstance(left, str) and isinstance(right, str):
        return _ordered(op, left, right)
    a, b = as_int(left), as_int(right)
    if a is not None and b is not None:
        return _ordered(op, a, b)
    return _ordered(op, str(left), str(right))


def arith(op: str, left: Value, right: Value, line: int) -> Value:
    """Evaluate a binary arithmetic/bitwise operator."""
    if left is None or right is None:
        raise ScriptRuntimeError(f"line {line}: NULL operand for '{op}'")
    if op == "+" and (isinstance(left, str) or isinstance(right, str)):
        return str(left) + str(right)
    if not isinstance(left, int) or not isinstance(right, int):
        bad = left if not isinstance(left, int) else right
        raise ScriptRuntimeError(f"line {line}: '{op}' needs integers, got the string {bad!r}")
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op in ("/", "%"):
        if right == 0:
            raise ScriptRuntimeError(f"line {line}: division by zero")
        quotient = abs(left) // abs(right) * (1 if (left >= 0) == (right >= 0) else -1)
        return quotient if op == "/" else left - right * quotient
    if op == "&":
        return left & right
    if op == "|":
        return left | right
    if op == "^":
        return left ^ right
    raise ScriptRuntimeError(f"line {line}: unknown operator {op!r}")  # pragma: no cover


def unary(op: str, operand: Value, line: int) -> int:
    if not isinstance(operand, int):
        raise ScriptRuntimeError(f"line {line}: '{op}' needs an integer, got {operand!r}")
    return -operand if op == "-" else ~operand


def posix_to_python(pattern: str) -> str:
    """Translate the POSIX ERE features Python's re lacks (bracket character classes)."""
    return _POSIX_CLASS_RE.sub(lambda m: _POSIX_CLASSES[m.group(0)], pattern)


def compile_regex(pattern: str) -> re.Pattern[str]:
    """Compile a script regex; raises re.error for an invalid one."""
    return re.compile(posix_to_python(pattern), re.IGNORECASE)


@functools.lru_cache(maxsize=256)
def _cached_regex(pattern: str) -> re.Pattern[str] | str:
    try:
        return compile_regex(pattern)
    except re.error as err:
        return str(err)


def dynamic_regex(pattern: str, line: int) -> re.Pattern[str]:
    """A regex built at run time (from a variable); a bad one is this message's runtime error."""
    compiled = _cached_regex(pattern)
    if isinstance(compiled, str):
        raise ScriptRuntimeError(f"line {line}: invalid regular expression {pattern!r}: {compiled}")
    return compiled
