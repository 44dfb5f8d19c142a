"""Kubernetes resource quantities ("250m", "1.5", "12345n", "128Mi", "1e3") parsed exactly."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from fractions import Fraction

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$")
_MAX_LEN = 64


class QuantityError(ValueError):
    """Not a Kubernetes quantity."""


def parse(text: str) -> Fraction:
    """The exact value of a quantity (the API server's serialization grammar)."""
    if not isinstance(text, str) or len(text) > _MAX_LEN:
        raise QuantityError("quantity must be a short string")
    match = _QUANTITY.match(text.strip())
    if match is None:
        raise QuantityError(f"{text[:_MAX_LEN]!r} is not a quantity")
    number, exponent, suffix = match.groups()
    value = Fraction(number)
    if exponent is not None:
        power = int(exponent[1:])
        if abs(power) > 30:  # noqa: PLR2004 - beyond any real resource; refuses 1e999999
            raise QuantityError(f"{text!r}: exponent out of range")
        return value * Fraction(10) ** power
    if suffix in _BINARY:
        return value * _BINARY[suffix]
    return value * _DECIMAL[suffix or ""]


def millicores(text: str) -> float:
    """CPU as millicores, exactly up to float precision ("12345n" -> 0.012345)."""
    return float(parse(text) * 1000)


def millicores_ceil(text: str) -> int:
    """CPU as whole millicores rounded up, as Kubernetes' MilliValue() does for requests."""
    return math.ceil(parse(text) * 1000)


def bytes_ceil(text: str) -> int:
    """Memory or storage as whole bytes rounded up, as Kubernetes' Value() does."""
    return math.ceil(parse(text))


def maybe(convert: Callable[[str], int], text: object) -> int | None:
    """``convert(text)`` or None when the field is absent or malformed (never fails a whole object)."""
    if not isinstance(text, str):
        return None
    try:
        return convert(text)
    except QuantityError:
        return None
