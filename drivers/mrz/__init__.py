"""Machine readable zones of passports, ID cards and visas (ICAO Doc 9303, parts 3 to 7).

`parse_mrz` turns the lines a document reader emits into an `MrzResult`: every field, every
check digit verified and named, every structural problem named by field. Bad content makes an
invalid result, never an exception; only text that cannot be an MRZ of any format raises
`MrzFormatError`.
"""

from drivers.mrz.check_digit import check_digit
from drivers.mrz.layouts import MrzFormat
from drivers.mrz.parser import parse_mrz
from drivers.mrz.result import Check, MrzFormatError, MrzProblem, MrzResult, Sex

__all__ = [
    "Check",
    "MrzFormat",
    "MrzFormatError",
    "MrzProblem",
    "MrzResult",
    "Sex",
    "check_digit",
    "parse_mrz",
]
