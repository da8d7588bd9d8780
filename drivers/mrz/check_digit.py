"""The ICAO 9303 check digit: character values weighted 7, 3, 1 in turn, summed, modulo 10."""

from __future__ import annotations

_WEIGHTS = (7, 3, 1)


def character_value(char: str) -> int | None:
    """0-9 for digits, 10-35 for A-Z, 0 for the filler '<'; None for anything else."""
    if "0" <= char <= "9":
        return ord(char) - ord("0")
    if "A" <= char <= "Z":
        return ord(char) - ord("A") + 10
    if char == "<":
        return 0
    return None


def check_digit(data: str) -> str | None:
    """The check digit of `data`, or None when `data` holds a character without a value."""
    total = 0
    for index, char in enumerate(data):
        value = character_value(char)
        if value is None:
            return None
        total += value * _WEIGHTS[index % 3]
    return str(total % 10)
