"""Resource quantities ("500m", "128Mi", "1.5", "2e3"): parsing, canonical form, validation.

Used by the models (requests, limits, capacity, storage) and later by the scheduler, which needs
cpu in millicores and memory in bytes.  Canonical form follows Kubernetes' for the common cases:
numbers become strings, fractional cores become millicores (0.5 -> "500m").
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|[numkMGTPE]|[KMGTPE]i)?$")
QUANTITY_REGEX = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1), "k": Decimal("1e3"),
            "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"), "P": Decimal("1e15"),
            "E": Decimal("1e18")}


class QuantityError(ValueError):
    pass


def parse(value: str | int | float) -> Decimal:
    """The quantity as a Decimal number of base units (cores, bytes)."""
    if isinstance(value, bool):
        raise QuantityError("quantities must match the regular expression " f"'{QUANTITY_REGEX}'")
    if isinstance(value, int | float):
        return Decimal(str(value))
    m = _QUANTITY.match(value.strip())
    if not m or m.group(1) in (".", "+", "-", ""):
        raise QuantityError(f"quantities must match the regular expression '{QUANTITY_REGEX}'")
    try:
        number = Decimal(m.group(1))
    except InvalidOperation:
        raise QuantityError(f"quantities must match the regular expression '{QUANTITY_REGEX}'") from None
    suffix = m.group(2) or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix[:1] in ("e", "E"):
        return number * (Decimal(10) ** int(suffix[1:]))
    return number * _DECIMAL[suffix]


def canonical(value: str | int | float) -> str:
    """A quantity as Kubernetes would store it; strings that parse are kept as written."""
    if isinstance(value, str):
        parse(value)
        return value
    number = parse(value)
    if number == number.to_integral_value():
        return str(int(number))
    milli = number * 1000
    if milli == milli.to_integral_value():
        return f"{int(milli)}m"
    return f"{int((number * 1_000_000_000).to_integral_value())}n"


def millicores(value: str | int | float) -> int:
    return int((parse(value) * 1000).to_integral_value(rounding="ROUND_CEILING"))


def to_bytes(value: str | int | float) -> int:
    return int(parse(value).to_integral_value(rounding="ROUND_CEILING"))


def amount(value: object, *, cpu: bool) -> int:
    """Millicores (cpu) or bytes, and 0 for a missing or malformed value: for readers of stored
    objects (scheduler, controllers, describe) that must not fail on one bad field."""
    try:
        return millicores(value) if cpu else to_bytes(value)  # type: ignore[arg-type]
    except (QuantityError, ValueError, TypeError, ArithmeticError):
        return 0
