"""The identifiers a border post reads from codes, each with the reason it is not valid (or
None): MRN, TIR carnet, CMR note, seal and, from `edge.codes`, ISO 6346 container numbers."""

from __future__ import annotations

import re

from edge.codes import container_number_error, iso6346_check_digit

_MRN = re.compile(r"\d{2}[A-Z]{2}[A-Z0-9]{14}")
_TIR_CARNET = re.compile(r"[A-Z]{2}\d{8}")
_DOCUMENT_NUMBER = re.compile(r"[A-Z0-9][A-Z0-9/.\-]{2,34}")
_SEAL_ID = re.compile(r"[A-Z0-9][A-Z0-9/.\-]{2,39}")


def compact(value: str) -> str:
    """Upper case without spaces: how the identifiers below are compared and stored."""
    return "".join(value.split()).upper()


def mrn_error(mrn: str) -> str | None:
    """Why `mrn` is not a valid Movement Reference Number (NCTS, 18 characters), or None.

    Year (2 digits), country (2 letters), 13 letters or digits, then the check character of
    DG TAXUD's "Check character algorithm for the MRN and GRN": the ISO 6346 weighting over the
    first 17 characters, remainder of 11, a remainder of 10 written as 0."""
    if not _MRN.fullmatch(mrn):
        return (
            "expected year (2 digits), country (2 letters), 13 letters or digits and a check digit"
        )
    expected = str(iso6346_check_digit(mrn[:17]))
    if mrn[17] != expected:
        return f"check character is {mrn[17]}, expected {expected}"
    return None


def tir_carnet_error(number: str) -> str | None:
    if not _TIR_CARNET.fullmatch(number):
        return "expected a TIR carnet number: 2 letters and 8 digits, e.g. XA81234567"
    return None


def cmr_error(number: str) -> str | None:
    if not _DOCUMENT_NUMBER.fullmatch(number):
        return "expected a CMR note number: 3 to 35 letters, digits, '/', '.' or '-'"
    return None


def seal_error(seal_id: str) -> str | None:
    if not _SEAL_ID.fullmatch(seal_id):
        return "expected a seal id: 3 to 40 letters, digits, '/', '.' or '-'"
    return None


def container_error(number: str) -> str | None:
    return container_number_error(number)
