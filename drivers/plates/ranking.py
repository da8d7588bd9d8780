"""Raw reads become ranked plate candidates: normalised, fitted to the corridor's format
grammars (edge/plate_formats.py), repaired where a grammar needs a digit and the reader saw its
look-alike letter (or the other way round), and pooled when several reads agree.

A read's key follows one convention for every reader: upper case, no separators, each Cyrillic
letter that has a Latin twin written as that twin, other Cyrillic letters and Han characters as
they are. The candidate shown to people is the plate as written: the format's separators, and
Cyrillic on Cyrillic plates."""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import NamedTuple

from edge.plate_formats import (
    FORMATS,
    VISITOR_FORMATS,
    PlateFormat,
    cyrillic_writing,
    latin_writing,
)
from edge.plates import OCR_CONFUSIONS

_DATE_OR_TIME = re.compile(
    r"\b(19|20)\d\d[-./](0?[1-9]|1[0-2])[-./]\d{1,2}\b|\b\d{1,2}:\d\d(:\d\d)?\b"
)
# Ablations below (issue 13, plate detector + retrained reader): scripts/plate_ablation.py on
# the real sets' tuning part, as is Top-1 RU 0.944 (36 frames), KZ 0.90 (10: a frame is 0.1),
# MN 0.80 (15: a frame is 0.067), CN 0.884 (69), US 0.754 (118); Top-5 RU 0.972, KZ 1.0, MN
# 0.867, CN 0.928, US 0.932. CPU is named only where it moved beyond run-to-run noise (25%).
# Ablation: no repairs (=0) -> Top-1 US 0.754 -> 0.746 (one frame), the rest unchanged; Top-5
# CN 0.928 -> 0.942: it gains one US frame and no corridor frame of the tuning part.
REPAIR_COST = 0.3  # a read repaired at one place keeps this share of its probability
# Ablation: one repair at most (=1) -> Top-1 and Top-5 unchanged on every set: the second
# repair gains nothing measurable on real photographs; kept for a badly read corridor plate.
MAX_REPAIRS = 2
# Ablation: no cuts (=0) -> Top-1 unchanged on every set, Top-5 CN 0.928 -> 0.957: gains
# nothing measurable on real photographs; kept for a country band or TIR sign read as part of
# the plate, its case.
TRIM_COST = 0.8  # a read cut by a stray character at one end keeps this share per character
MAX_TRIM_HEAD, MAX_TRIM_TAIL = 2, 3
TIR = "TIR"  # the sign of the TIR carnet every international truck carries
RUS = "RUS"  # under a Russian plate's region code
# Ablation: as a corridor fit (=1.0) -> Top-1 unchanged, Top-5 CN 0.928 -> 0.913; off (=0, a
# visitor's plate as one of no known format) -> Top-1 US 0.754 -> 0.763 (one frame), the rest
# unchanged: the visitors' formats gain nothing measurable on real photographs; kept for
# foreign trucks' plates.
VISITOR = 0.85  # a read that fits a foreign truck's format: above a corridor fit cut short (0.8)
# Ablation: at 0.25 -> Top-1 CN 0.884 -> 0.899 (one frame), US 0.754 -> 0.720, US CPU median
# 136-158 -> 211 ms (more frames searched whole, it seems); at 1.0 -> MN
# 0.80 -> 0.733 (one frame), US 0.754 -> 0.771, Top-5 MN 0.867 -> 0.80, US 0.932 -> 0.924.
UNKNOWN_FORMAT = 0.5  # a plausible plate of no known format (a US plate)
# Ablation: as plausible as a plate of no known format (=0.5) -> Top-1 RU 0.944 -> 0.917, MN
# 0.80 -> 0.733, US 0.754 -> 0.712, CN unchanged; Top-5 MN 0.867 -> 0.80, US 0.932 -> 0.907.
IMPLAUSIBLE = 0.01  # a caption, a phone number, a date
# Ablation: off (=1.0) -> Top-1 US 0.754 -> 0.746 (one frame), Top-5 US 0.932 -> 0.924; the
# rest unchanged (KZ, whose region codes it checks with KG, UZ and TJ ones, has 10 frames).
UNISSUED = 0.3  # a region code no one issues weighs as much as a repaired character
# Ablation: off (=0, no loss) -> Top-1 CN 0.884 -> 0.870 (one frame), Top-5 CN 0.928 -> 0.913;
# the rest unchanged.
PARTIAL = 0.7  # the most a read loses for being part of a plate that fits a format
# The share of a plate of no known format's weight that its reading with O as 0 and I as 1
# beside a digit gets, below the read as read (0: not offered); see _look_alike_digits.
# Ablation: not offered (=0) -> Top-1 unchanged on every set, Top-5 US 0.932 -> 0.924.
LOOK_ALIKE_DIGITS = REPAIR_COST


@dataclass(frozen=True)
class Read:
    text: str
    probability: float
    reader: str
    prior: float = 1.0  # how plate-like the region it was read from looks (its shape)
    region: int = 0  # which region of the frame it was read from


@dataclass(frozen=True)
class PlateGuess:
    key: str  # the read under the key convention (see the module docstring)
    written: str  # as on the plate: separators, the plate's own script
    score: float  # 0..1, what ranks it: its reading weighed by how much it looks like a plate
    confidence: float  # 0..1, the readers' probability of this text, the format aside
    country: str | None  # ISO alpha-2 when the format tells it, else None
    format: str | None  # the name of the format it fits
    region: int = 0  # the region whose read supports it most


def plate_key(text: str) -> str:
    """A read under the key convention."""
    text = unicodedata.normalize("NFC", text).upper().replace("І", "I")  # UA, BY: І for I
    return latin_writing("".join(ch for ch in text if ch.isalnum()))


class Interpretation(NamedTuple):
    text: str  # a key
    weight: float  # the share of the read's probability it gets in the ranking
    evidence: float  # the share it keeps as a reading: what repairs and cuts cost, no prior
    format: PlateFormat | None


def rank(reads: Iterable[Read], k: int = 5) -> list[PlateGuess]:
    """The `k` best plate candidates from every read of one vehicle or frame, best first."""
    pooled: dict[str, _Pool] = {}
    for read in reads:
        if is_date_or_time(read.text):
            continue
        for key, weight, evidence, fmt in interpretations(plate_key(read.text)):
            pool = pooled.setdefault(key, _Pool())
            support = read.probability * read.prior * weight
            # independent reads of one text agree: a noisy-or of what each says
            pool.score = 1 - (1 - pool.score) * (1 - support)
            pool.probability = 1 - (1 - pool.probability) * (1 - read.probability * evidence)
            pool.format = pool.format or fmt
            if support > pool.best_support:
                pool.best_support, pool.region = support, read.region
    _discount_partial_reads(pooled)
    ranked = sorted(pooled.items(), key=lambda item: -item[1].score)[:k]
    return [_guess(key, pool) for key, pool in ranked]


def _discount_partial_reads(pooled: dict[str, _Pool]) -> None:
    """A read of no format that is part of a candidate that fits one ("P726RC" of "80P726RC",
    the bottom line of a two-line plate) is most likely that plate read from a region that cut
    it short: it loses in proportion to how well the whole plate is supported."""
    whole = [
        (key, pool.score)
        for key, pool in pooled.items()
        if pool.format in _CORRIDOR and pool.score >= 0.01
    ]
    for key, pool in pooled.items():
        if pool.format not in _CORRIDOR:
            support = max((s for w, s in whole if len(w) > len(key) and key in w), default=0.0)
            pool.score *= 1 - min(PARTIAL, 2 * support)


@dataclass
class _Pool:
    score: float = 0.0
    probability: float = 0.0
    format: PlateFormat | None = None
    best_support: float = -1.0
    region: int = 0


@lru_cache(maxsize=4096)  # the same reads come back frame after frame
def interpretations(key: str) -> tuple[Interpretation, ...]:
    """What a key may be: itself, and its repairs and cuts that fit a corridor format."""
    if not key:
        return ()
    found: dict[str, Interpretation] = {}
    corridor = 0.0
    for part, trim_weight, cut in _trims(key):
        # A visitor's grammar is loose enough (DE) to fit most reads cut short; only an emblem
        # at the plate's left misread as a character of another script (an EU star ring as a
        # Han one) or a TIR sign beside the plate is cut.
        emblem = not cut.isascii() and part.isascii() and key.startswith(cut)
        emblem_only = not cut or cut == TIR or emblem
        for fmt, prior in _KNOWN_FORMATS:
            if fmt not in _CORRIDOR and not emblem_only:
                continue
            # a repair to fit a visitor's grammar makes plates of it out of too much (US plates)
            most = 0 if fmt not in _CORRIDOR else MAX_REPAIRS if part == key else 1
            for repaired, repairs in _repairs(part, fmt, most):
                shape = trim_weight * REPAIR_COST**repairs
                corridor = max(corridor, shape * prior)  # the codes aside: it has the shape
                evidence = shape * _codes_issued(repaired, fmt)
                if repaired not in found or evidence * prior > found[repaired].weight:
                    found[repaired] = Interpretation(repaired, evidence * prior, evidence, fmt)
    # As a plate of no known format, the read keeps what the known readings leave over.
    unknown = _unknown_format_weight(key) * (1 - corridor)
    digits = _look_alike_digits(key)
    fits_with_digits = digits != key and digits in found and found[digits].format in _CORRIDOR
    if key in found:  # a corridor format that fits it as read still names it
        known = found[key]
        found[key] = Interpretation(key, max(known.weight, unknown), 1.0, known.format)
    elif fits_with_digits:  # its O or I stands where a corridor plate has a digit
        found[key] = Interpretation(key, unknown * REPAIR_COST, 1.0, None)
    else:
        found[key] = Interpretation(key, unknown, 1.0, None)
        if digits != key and digits not in found and LOOK_ALIKE_DIGITS:
            found[digits] = Interpretation(digits, unknown * LOOK_ALIKE_DIGITS, 1.0, None)
    return tuple(found.values())


_KNOWN_FORMATS = tuple((f, 1.0) for f in FORMATS) + tuple((f, VISITOR) for f in VISITOR_FORMATS)
_CORRIDOR = frozenset(FORMATS)


def _trims(key: str) -> list[tuple[str, float, str]]:
    """The key, and the key without a few characters at either end: a reader that took in the
    country band ("KZ", "RUS", a flag read as "Z") adds them to the plate. Each with its
    weight and what was cut off."""
    out = [(key, 1.0, "")]
    if key.startswith(TIR) and len(key) - len(TIR) >= 4:  # the TIR sign every truck carries
        out.append((key[len(TIR) :], TRIM_COST, TIR))
    for head in range(MAX_TRIM_HEAD + 1):
        for tail in range(MAX_TRIM_TAIL + 1):
            end = len(key) - tail
            if (head or tail) and end - head >= 4:
                cut = key[:head] + key[end:]
                out.append((key[head:end], TRIM_COST ** (head + tail), cut))
    return out


def _repairs(key: str, fmt: PlateFormat, most: int) -> list[tuple[str, int]]:
    out = []
    for slots in _slot_layouts(fmt):
        if len(slots) != len(key):
            continue
        chars, repairs = [], 0
        for ch, alphabet in zip(key, slots, strict=True):
            if ch in alphabet:
                chars.append(ch)
                continue
            # what the reader may have seen instead of the character this place needs
            twin = next((c for c in OCR_CONFUSIONS.get(ch, "") if c in alphabet), None)
            if twin is None or repairs == most:
                break
            chars.append(twin)
            repairs += 1
        else:
            text = "".join(chars)
            if not _limits_letters(fmt) or fmt.fits(text):  # a Chinese serial's two letters
                out.append((text, repairs))
    return out


def _codes_issued(key: str, fmt: PlateFormat) -> float:
    """UNISSUED for each code of a closed list (a Kazakh region) the key has another in."""
    if not _has_issued_codes(fmt):
        return 1.0
    lengths = _group_lengths(fmt, len(key))
    if lengths is None:
        return 1.0
    factor, at = 1.0, 0
    for group, n in zip(fmt.groups, lengths, strict=True):
        if group.issued and key[at : at + n] not in group.issued:
            factor *= UNISSUED
        at += n
    return factor


@cache
def _has_issued_codes(fmt: PlateFormat) -> bool:
    return any(g.issued for g in fmt.groups)


@cache
def _limits_letters(fmt: PlateFormat) -> bool:
    return any(g.max_letters is not None for g in fmt.groups)


@cache
def _slot_layouts(fmt: PlateFormat) -> tuple[tuple[str, ...], ...]:
    """Each way the format can be laid out, as the alphabet (under the key convention) of every
    character place."""
    choices = [
        [(latin_writing(g.alphabet),) * n for n in range(g.length, (g.max_length or g.length) + 1)]
        for g in fmt.groups
    ]
    return tuple(tuple(itertools.chain(*combo)) for combo in itertools.product(*choices))


@cache
def _group_lengths(fmt: PlateFormat, length: int) -> tuple[int, ...] | None:
    for combo in itertools.product(
        *[range(g.length, (g.max_length or g.length) + 1) for g in fmt.groups]
    ):
        if sum(combo) == length:
            return combo
    return None


def _look_alike_digits(key: str) -> str:
    """The key with O as 0, and I as 1 where it stands beside a digit.

    A read of no known format is ranked as read, and this reading of it is offered below it
    (LOOK_ALIKE_DIGITS of its weight); a read whose O or I stands where a corridor format has a
    digit is that plate misread (the format's repair), and keeps only REPAIR_COST as read.
    Until issue 13 this reading came first: fitted to the US photographs, whose labels write
    every O as 0, it made the right read of `4PCI264` a miss. Ablation (`carec-edge plates
    bench`, scripts/plate_ablation.py --set LOOK_ALIKE_DIGITS=0; Top-1, then match@1 among
    10,000 decoys) on sets it was not tuned on, before (digit reading first) / now / not
    offered: KZ frames (28) 0.75 / 0.75 / 0.75, match 0.86 all three; MN (26) 0.54 all, match
    0.69 all; RU (68) 0.574 / 0.588 / 0.588, match 0.882 / 0.868 / 0.853; Chinese frames
    (155) 0.452 all, Top-5 0.600 / 0.606 / 0.606, match 0.942 / 0.942 / 0.929. So first it
    gained nothing on corridor plates; below, it keeps match@1 (RU, CN) and Top-5. On the US
    photographs it was fitted to: 0.734 / 0.707 / 0.707 strict (their labels' O as 0 counted
    as a miss: 6 plates), 0.739 / 0.739 (-) with O and 0 as one character; Top-5 0.838 /
    0.838 / 0.829."""
    chars = list(key.replace("O", "0"))
    for i, ch in enumerate(chars):
        if ch == "I" and any(0 <= j < len(chars) and chars[j].isdigit() for j in (i - 1, i + 1)):
            chars[i] = "1"
    return "".join(chars)


def is_date_or_time(text: str) -> bool:
    """A camera's time stamp or a date painted on a truck, never a plate."""
    return bool(_DATE_OR_TIME.search(text))


def _unknown_format_weight(key: str) -> float:
    """How much a key looks like a plate of a format we do not know: 4 to 9 letters and digits,
    best with both (a plate); letters only, much less (a personalised plate, but far more
    often a word: a make, a model, a sign), and a long word even less, also when a reader
    took its O for 0 (a company name on the cab, which two readers can agree on). Foreign
    plates are Latin letters and digits: a key with a Han character or a Cyrillic letter of
    no Latin twin is part of a corridor plate."""
    if not 4 <= len(key) <= 9 or not (key.isascii() and key.isalnum()):
        return IMPLAUSIBLE
    if key.endswith(RUS):  # a Russian plate's region box (its code over RUS) read alone
        return IMPLAUSIBLE
    digits = sum(ch.isdigit() for ch in key)
    if digits == len(key):  # some plates are all digits; so are fleet numbers
        return UNKNOWN_FORMAT / 2 if 5 <= len(key) <= 8 else IMPLAUSIBLE
    if digits <= 1 and len(key) - digits >= 7:
        return UNKNOWN_FORMAT / 10  # a long word, its O perhaps read as 0 (ASIACARG0)
    return UNKNOWN_FORMAT if digits else UNKNOWN_FORMAT / 5


def _guess(key: str, pool: _Pool) -> PlateGuess:
    score, probability, fmt = min(1.0, pool.score), min(1.0, pool.probability), pool.format
    if fmt is None or not fmt.fits(key):
        return PlateGuess(key, key, score, probability, None, None, pool.region)
    return PlateGuess(
        key, written(key, fmt), score, probability, fmt.country, fmt.name, pool.region
    )


def written(key: str, fmt: PlateFormat) -> str:
    """The key as the format writes it: its separators, and Cyrillic on a Cyrillic plate."""
    lengths = _group_lengths(fmt, len(key)) or (len(key),)
    parts, at = [], 0
    for n in lengths:
        parts.append(key[at : at + n])
        at += n
    text = parts[0]
    for separator, part in zip(fmt.separators, parts[1:], strict=False):
        text += separator + part
    return cyrillic_writing(text) if "Cyrillic" in fmt.scripts else text


def countries(guesses: Sequence[PlateGuess]) -> list[str]:
    return sorted({g.country for g in guesses if g.country})
