"""Latin beside Cyrillic and Chinese: plates and names are shown as written, and, when they are
not Latin, with a Latin transliteration beside them for the officer who reads only Latin.

Plates fold the look-alike letters to their Latin twins (what the camera sees: В is B) and
write the other letters as their keys do (Ө is OE); names are transliterated by sound (В is V,
Ө is O) after the ICAO 9303 table. Both tables are edge.transliteration's, which says why they
differ. A Chinese plate's province character becomes its pinyin; a Chinese name is written
in pinyin as a Chinese passport writes it (surname first, the given name as one word, ü as
YU), from pypinyin's dictionary.
"""

from __future__ import annotations

from edge.plate_formats import CN_PROVINCES
from edge.transliteration import CYRILLIC_LOOKALIKES, KEY_TRANSLIT, NAME_TRANSLIT

# Pinyin of the province abbreviations, in the order of edge.plate_formats.CN_PROVINCES.
_PROVINCE_PINYIN = (
    "Jing", "Jin", "Hu", "Yu", "Ji", "Yu", "Yun", "Liao", "Hei", "Xiang", "Wan", "Lu", "Xin",
    "Su", "Zhe", "Gan", "E", "Gui", "Gan", "Jin", "Meng", "Shaan", "Ji", "Min", "Gui", "Yue",
    "Qing", "Zang", "Chuan", "Ning", "Qiong",
)  # fmt: skip
_CN_PLATE = dict(zip(CN_PROVINCES, _PROVINCE_PINYIN, strict=True)) | {
    "挂": "Gua", "学": "Xue", "警": "Jing", "使": "Shi", "领": "Ling", "港": "Gang", "澳": "Ao",
}  # fmt: skip

_PLATE = str.maketrans(
    {**KEY_TRANSLIT, **CYRILLIC_LOOKALIKES, **{ch: f" {py} " for ch, py in _CN_PLATE.items()}}
)


def _name_table() -> dict[int, str]:
    table: dict[str, str] = {}
    for cyrillic, latin in NAME_TRANSLIT.items():
        table[cyrillic] = latin
        table[cyrillic.lower()] = latin.lower()
    return str.maketrans(table)


_NAME = _name_table()


def needs_latin(text: str) -> bool:
    """Whether `text` has letters a Latin reader cannot read (Cyrillic, Chinese)."""
    return not text.isascii() and any(
        ("\u0400" <= ch <= "\u04ff") or ("\u4e00" <= ch <= "\u9fff") for ch in text
    )


def plate_latin(plate: str | None) -> str | None:
    """The plate as a Latin reader would type it; None when it is Latin already."""
    if not plate or not needs_latin(plate):
        return None
    return " ".join(plate.translate(_PLATE).split())


def name_latin(name: str | None) -> str | None:
    """The name transliterated by sound, keeping its case; None when it is Latin already."""
    if not name or not needs_latin(name):
        return None
    if any("\u4e00" <= ch <= "\u9fff" for ch in name):
        return _pinyin_name(name)
    out = []
    for word in name.split(" "):
        latin = word.translate(_NAME)
        # A capitalised word stays capitalised: "Жанна" -> "Zhanna", not "ZHanna".
        if word[:1].isupper() and word[1:2].islower():
            latin = latin[:1] + latin[1:].lower()
        out.append(latin)
    return " ".join(out)


def _pinyin_name(name: str) -> str:
    """ "王小明" -> "WANG Xiaoming": the surname (the first character; 欧阳 and the other
    two-character surnames are rare enough to be read from the document) in capitals, as on
    Chinese passports, then the given name."""
    from pypinyin import Style, lazy_pinyin  # its dictionary loads on first use

    words: list[str] = []
    for part in name.split():
        syllables = [s.replace("v", "yu") for s in lazy_pinyin(part, style=Style.NORMAL)]
        if not words and syllables:
            words.append(syllables[0].upper())
            syllables = syllables[1:]
        if syllables:
            words.append("".join(syllables).capitalize())
    return " ".join(words)
