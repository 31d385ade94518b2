"""JSON from outside the service (API bodies, Meta's webhook deliveries), read with explicit limits.

``json.loads`` alone takes anything: a body nested thousands deep ends in ``RecursionError``, an
integer of thousands of digits in Python's digit limit (``ValueError``), bytes that are not UTF-8 in
``UnicodeDecodeError``, and ``NaN`` is accepted although it is not JSON. Every body is read through
``read_json`` instead, so each of those is one refusal with a stable reason.
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

MAX_DEPTH: Final = 32
"""Nesting of objects and arrays; our bodies use 2, Meta's deliveries about 8."""
MAX_NUMBER_CHARS: Final = 40
"""Enough for any timestamp, id or amount a legitimate sender writes as a JSON number."""


class JsonRefused(ValueError):
    """Why a body was not read: ``too_large``, ``not_utf8``, ``malformed``, ``too_deep`` or
    ``number_too_long``. Never carries the body itself."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def utf8_text(raw: bytes, max_bytes: int) -> str:
    """The body as text, or ``JsonRefused`` when it is larger than ``max_bytes`` or not UTF-8."""
    if len(raw) > max_bytes:
        raise JsonRefused("too_large")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise JsonRefused("not_utf8") from None


def read_json(text: str | bytes, max_bytes: int) -> Any:
    """One JSON document within the limits above, or ``JsonRefused``."""
    if isinstance(text, bytes):
        text = utf8_text(text, max_bytes)
    elif len(text) > max_bytes:  # characters, at most as many as bytes: a cheap first bound
        raise JsonRefused("too_large")
    try:
        value = json.loads(text, parse_int=_integer, parse_float=_decimal, parse_constant=_not_json)
    except RecursionError:
        raise JsonRefused("too_deep") from None
    except JsonRefused:
        raise
    except ValueError:
        raise JsonRefused("malformed") from None
    if _depth(value) > MAX_DEPTH:
        raise JsonRefused("too_deep")
    return value


def _integer(digits: str) -> int:
    if len(digits) > MAX_NUMBER_CHARS:
        raise JsonRefused("number_too_long")
    return int(digits)


def _decimal(digits: str) -> float:
    if len(digits) > MAX_NUMBER_CHARS:
        raise JsonRefused("number_too_long")
    value = float(digits)
    if not math.isfinite(value):  # 1e999 overflows to infinity, which JSON cannot express
        raise JsonRefused("number_too_long")
    return value


def _not_json(constant: str) -> Any:
    raise JsonRefused("malformed")  # NaN, Infinity and -Infinity are Python's, not JSON's


def _depth(value: Any) -> int:
    """Deepest nesting of containers, walked without recursion."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        current, depth = pending.pop()
        if isinstance(current, dict):
            children: Any = current.values()
        elif isinstance(current, list):
            children = current
        else:
            continue
        depth += 1
        if depth > MAX_DEPTH:
            return depth
        deepest = max(deepest, depth)
        pending.extend((child, depth) for child in children)
    return deepest
