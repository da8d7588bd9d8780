"""Standard identifiers checked at every boundary: ISO 3166 countries, ICAO nationality codes,
ISO 6346 container numbers, HS codes."""

from __future__ import annotations

import re

import pycountry

COUNTRIES_ALPHA2 = frozenset(c.alpha_2 for c in pycountry.countries)

# ICAO 9303 nationality codes: ISO alpha-3 plus the codes that are not countries
# (Germany's D, British variants, UN agencies, stateless persons, Kosovo, EU).
NATIONALITIES_ALPHA3 = frozenset(c.alpha_3 for c in pycountry.countries) | {
    "D", "GBD", "GBN", "GBO", "GBP", "GBS", "UNA", "UNK", "UNO", "XOM", "XXA", "XXB", "XXC",
    "XXX", "XBA", "XIM", "XCC", "XCE", "XCO", "XDC", "XEC", "XES", "XMP", "XPO", "RKS", "EUE",
}  # fmt: skip

_CONTAINER = re.compile(r"^[A-Z]{3}[UJZR]\d{7}$")
_HS_CODE = re.compile(r"^\d{6,10}$")


def _iso6346_letter_value(ch: str) -> int:
    # A=10, then skipping multiples of 11: B=12 ... K=21, L=23 ... U=32, V=34 ...
    value = ord(ch) - ord("A") + 10
    return value + (value - 1) // 10


def iso6346_check_digit(first_ten: str) -> int:
    """The check digit of an ISO 6346 container number, from its first ten characters."""
    total = 0
    for position, ch in enumerate(first_ten):
        value = int(ch) if ch.isdigit() else _iso6346_letter_value(ch)
        total += value * (1 << position)
    return total % 11 % 10


def container_number_error(number: str) -> str | None:
    """Why `number` is not a valid ISO 6346 container number, or None when it is."""
    compact = number.replace(" ", "").upper()
    if not _CONTAINER.match(compact):
        return "expected owner code (3 letters), category U/J/Z/R, 6 digits and a check digit"
    expected = iso6346_check_digit(compact[:10])
    if int(compact[10]) != expected:
        return f"check digit is {compact[10]}, expected {expected}"
    return None


def is_hs_code(code: str) -> bool:
    return bool(_HS_CODE.match(code))
