"""Cyrillic in Latin letters: the one place for the tables, and which is for what.

- `CYRILLIC_LOOKALIKES`: the twelve capitals a camera cannot tell from Latin ones (В is B).
  Plates fold them, in keys and in their Latin line alike.
- `KEY_TRANSLIT`, for keys: the other Cyrillic letters of the corridor, for matching plates
  across scripts (`edge.plates.canonical_key`, `retrieval_key`). Retrieval keys are stored
  (`manifest_plates.retrieval_key`), so these values are fixed: changing one changes the key
  of every stored plate that has the letter, and needs a migration that recomputes them.
  Mongolian Ө and Ү have no Latin twin and get digraphs of their own (Ө is OE), so a key never
  merges them with O and U. A plate's Latin line on the kiosk uses the same table: what the
  officer reads there, typed into search, finds the record.
- `NAME_TRANSLIT`, for display: people's names by sound, after the ICAO 9303 table (as a
  passport's MRZ writes them) with the letters of Kazakh, Kyrgyz, Tajik and Mongolian added
  (Ө is O). Only shown, never compared or stored, so it may follow the documents.

Upper case only; `NAME_TRANSLIT`'s users derive the lower case.
"""

from __future__ import annotations

CYRILLIC_LOOKALIKES = {
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H",
    "О": "O", "Р": "P", "С": "C", "Т": "T", "У": "Y", "Х": "X",
}  # fmt: skip

KEY_TRANSLIT = {
    "Б": "B", "Г": "G", "Д": "D", "Ж": "ZH", "З": "Z", "И": "I", "Й": "J", "Л": "L",
    "П": "P", "Ф": "F", "Ц": "TS", "Ч": "CH", "Ш": "SH", "Щ": "SCH", "Ъ": "", "Ы": "Y",
    "Ь": "", "Э": "E", "Ю": "YU", "Я": "YA", "Ё": "YO", "Ө": "OE", "Ү": "UE", "Ә": "AE",
    "Ғ": "GH", "Қ": "Q", "Ң": "NG", "Ұ": "U", "Һ": "H", "І": "I", "Ӣ": "I", "Ӯ": "U",
    "Ҳ": "H", "Ҷ": "J", "Ҙ": "Z", "Ҡ": "Q",
}  # fmt: skip

NAME_TRANSLIT = {
    "А": "A", "Б": "B", "В": "V", "Г": "G", "Д": "D", "Е": "E", "Ё": "E", "Ж": "ZH", "З": "Z",
    "И": "I", "Й": "I", "К": "K", "Л": "L", "М": "M", "Н": "N", "О": "O", "П": "P", "Р": "R",
    "С": "S", "Т": "T", "У": "U", "Ф": "F", "Х": "KH", "Ц": "TS", "Ч": "CH", "Ш": "SH",
    "Щ": "SHCH", "Ъ": "IE", "Ы": "Y", "Ь": "", "Э": "E", "Ю": "IU", "Я": "IA",
    "Ә": "A", "Ғ": "GH", "Қ": "Q", "Ң": "NG", "Ө": "O", "Ұ": "U", "Ү": "U", "Һ": "H", "І": "I",
    "Ӣ": "I", "Ӯ": "U", "Ҳ": "H", "Ҷ": "J", "Є": "IE", "Ї": "I",
}  # fmt: skip
