"""Plate texts as keys: the canonical key that makes one plate out of its Cyrillic and Latin
writings, and the retrieval key that also forgives the usual OCR confusions.

Plates are always stored and shown as written; these keys are only for comparing them.
"""

from __future__ import annotations

import unicodedata

# The twelve Cyrillic capitals that look Latin: a camera cannot tell them apart, so neither do we.
CYRILLIC_LOOKALIKES = {
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H",
    "О": "O", "Р": "P", "С": "C", "Т": "T", "У": "Y", "Х": "X",
}  # fmt: skip

# The other Cyrillic letters of the corridor (Russian, Kazakh, Kyrgyz, Tajik, Mongolian),
# transliterated. Mongolian Ө and Ү have no Latin twin and get digraphs of their own.
CYRILLIC_TRANSLIT = {
    "Б": "B", "Г": "G", "Д": "D", "Ж": "ZH", "З": "Z", "И": "I", "Й": "J", "Л": "L",
    "П": "P", "Ф": "F", "Ц": "TS", "Ч": "CH", "Ш": "SH", "Щ": "SCH", "Ъ": "", "Ы": "Y",
    "Ь": "", "Э": "E", "Ю": "YU", "Я": "YA", "Ё": "YO", "Ө": "OE", "Ү": "UE", "Ә": "AE",
    "Ғ": "GH", "Қ": "Q", "Ң": "NG", "Ұ": "U", "Һ": "H", "І": "I", "Ӣ": "I", "Ӯ": "U",
    "Ҳ": "H", "Ҷ": "J", "Ҙ": "Z", "Ҡ": "Q",
}  # fmt: skip

_LATIN = {**CYRILLIC_LOOKALIKES, **CYRILLIC_TRANSLIT}
_LOOKALIKES_ONLY = str.maketrans({**CYRILLIC_LOOKALIKES, **dict.fromkeys(" -.·_/|", None)})

# Characters OCR engines mistake for one another on plates. Each group folds to its first member.
OCR_CONFUSIONS = ("0ODQ", "1I7", "2Z", "5S", "8B", "6G")
_FOLD = {c: group[0] for group in OCR_CONFUSIONS for c in group[1:]}

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
