"""Plate texts as keys: the canonical key that makes one plate out of its Cyrillic and Latin
writings, and the retrieval key that also forgives the usual OCR confusions; and the one table
of those confusions (`OCR_CONFUSIONS`), which the plate reader's ranking uses too.

Plates are always stored and shown as written; these keys are only for comparing them. The
Cyrillic tables they use are `edge.transliteration`'s key tables.
"""

from __future__ import annotations

import unicodedata

from edge.transliteration import CYRILLIC_LOOKALIKES, KEY_TRANSLIT

_LATIN = {**CYRILLIC_LOOKALIKES, **KEY_TRANSLIT}
_LOOKALIKES_ONLY = str.maketrans({**CYRILLIC_LOOKALIKES, **dict.fromkeys(" -.·_/|", None)})

# What a plate reader may see instead of each character, the likeliest first: the ranking
# (drivers/plates/ranking.py) repairs a read with them where a format needs a digit and the
# reader saw a letter, or the other way round.
OCR_CONFUSIONS: dict[str, str] = {
    "0": "ODQU", "O": "0DQ", "D": "0OQ", "Q": "0OD", "U": "0",
    "1": "ILTJ7", "I": "1L7", "L": "1", "T": "17", "J": "1", "7": "T1I",
    "2": "Z", "Z": "2", "4": "A", "A": "4", "5": "SБ", "S": "5",
    "6": "GБ", "G": "6", "Б": "6", "8": "B", "B": "8",
    # what a Latin reader makes of the Cyrillic letters that have no Latin twin
    "3": "ЗЭ", "W": "Ш", "Φ": "Ф", "N": "И", "R": "Я", "Γ": "Г", "F": "Г",
    # and what a reader that knows Mongolian makes of a Latin plate's O and Y
    "Ө": "O0", "Ү": "Y",
}  # fmt: skip

# The commonest of them, each group folded to its first member in retrieval keys. Retrieval
# keys are stored (manifest_plates.retrieval_key): changing a group changes stored keys and
# needs a migration that recomputes them.
KEY_FOLDS = ("0ODQ", "1I7", "2Z", "5S", "8B", "6G")
_FOLD = {c: group[0] for group in KEY_FOLDS for c in group[1:]}

# What a retrieval key is made of, so a missing character can be put back by the matcher.
RETRIEVAL_ALPHABET = "".join(
    sorted({_FOLD.get(c, c) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"})
)


# Tables for str.translate: the fast path for plates (imports run through a million of them).
_TO_LATIN = str.maketrans({**_LATIN, **dict.fromkeys(" -.·_/|", None)})
_FOLD_TABLE = str.maketrans(_FOLD)


def canonical_key(plate: str) -> str:
    """The plate with separators removed, scripts folded to Latin and case folded.

    Letters of other scripts (a Chinese province character) are kept as they are.
    """
    return _compact(plate, _TO_LATIN)


def written_key(plate: str) -> str:
    """The plate as a camera sees it: look-alike letters folded, every other letter kept.

    Two plates with the same canonical key but different written keys (Mongolian УБ and УВ:
    Б is transliterated to B, В looks like B) are told apart by it.
    """
    return _compact(plate, _LOOKALIKES_ONLY)


def _compact(plate: str, table: dict[int, str | None]) -> str:
    if not plate.isascii():
        # NFKC: full-width digits and letters become the ASCII ones a plate shows.
        plate = unicodedata.normalize("NFKC", plate)
    text = plate.upper().translate(table)
    return text if text.isalnum() or not text else "".join(ch for ch in text if ch.isalnum())


def retrieval_key(plate: str) -> str:
    """The canonical key with OCR confusions folded and everything but A-Z and 0-9 dropped.

    Two writings of one plate, or a plate and a noisy read of it, often share this key; the
    matcher looks plates up by it and its one-edit neighbours.
    """
    key = canonical_key(plate).translate(_FOLD_TABLE)
    return key if key.isascii() else "".join(ch for ch in key if ch.isascii())


def retrieval_neighbours(key: str) -> set[str]:
    """Every retrieval key one deletion, substitution or insertion away from `key`, and itself."""
    out = {key}
    for i in range(len(key)):
        out.add(key[:i] + key[i + 1 :])
        for ch in RETRIEVAL_ALPHABET:
            out.add(key[:i] + ch + key[i + 1 :])
    for i in range(len(key) + 1):
        for ch in RETRIEVAL_ALPHABET:
            out.add(key[:i] + ch + key[i:])
    return out
