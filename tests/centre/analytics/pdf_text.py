"""The text a PDF shows, read back without a PDF library: each page's content stream, its
fonts' ToUnicode maps (the report embeds DejaVu as Identity-H glyph ids, two bytes each) and
the literal strings shown with Tj. Enough for the files fpdf2 writes; a check that the text
really is on the page, not only in the metadata."""

from __future__ import annotations

import re
import zlib

_OBJECT = re.compile(rb"(\d+) 0 obj(.*?)endobj", re.S)
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)
_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("f"): 12}


def _stream(body: bytes) -> bytes:
    found = _STREAM.search(body)
    assert found, "an object without a stream"
    data = found.group(1)
    return zlib.decompress(data) if b"/FlateDecode" in body[: found.start()] else data


def _cmap(text: bytes) -> dict[int, str]:
    mapping: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", text, re.S):
        for glyph, uni in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            mapping[int(glyph, 16)] = bytes.fromhex(uni.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", text, re.S):
        for low, high, start in re.findall(
            rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block
        ):
            for offset in range(int(high, 16) - int(low, 16) + 1):
                mapping[int(low, 16) + offset] = chr(int(start, 16) + offset)
    return mapping


def _literal(data: bytes, start: int) -> tuple[bytes, int]:
    """The literal string opening at data[start] == '(' and the index after it."""
    out, depth, i = bytearray(), 1, start + 1
    while True:
        c = data[i]
        if c == ord("\\"):
            nxt = data[i + 1]
            if nxt in b"01234567":
                digits = re.match(rb"[0-7]{1,3}", data[i + 1 : i + 4])
                assert digits
                out.append(int(digits.group(0), 8))
                i += 1 + len(digits.group(0))
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        if c == ord("("):
            depth += 1
        elif c == ord(")"):
            depth -= 1
            if depth == 0:
                return bytes(out), i + 1
        out.append(c)
        i += 1


def pdf_text(pdf: bytes) -> str:
    objects = {int(n): body for n, body in _OBJECT.findall(pdf)}
    lines: list[str] = []
    for body in objects.values():
        if b"/Type /Page\n" not in body and b"/Type /Page>" not in body:
            continue
        resources = objects[int(re.search(rb"/Resources (\d+) 0 R", body).group(1))]  # type: ignore[union-attr]
        fonts: dict[bytes, dict[int, str]] = {}
        for name, ref in re.findall(rb"/(F\d+) (\d+) 0 R", resources):
            font = objects[int(ref)]
            cmap_ref = re.search(rb"/ToUnicode (\d+) 0 R", font)
            fonts[name] = _cmap(_stream(objects[int(cmap_ref.group(1))])) if cmap_ref else {}
        content = _stream(objects[int(re.search(rb"/Contents (\d+) 0 R", body).group(1))])  # type: ignore[union-attr]
        current: dict[int, str] = {}
        i = 0
        while i < len(content):
            font = re.match(rb"/(F\d+) [0-9.]+ Tf", content[i:])
            if font:
                current = fonts.get(font.group(1), {})
                i += font.end()
                continue
            if content[i] == ord("("):
                raw, i = _literal(content, i)
                glyphs = [int.from_bytes(raw[k : k + 2], "big") for k in range(0, len(raw), 2)]
                lines.append("".join(current.get(g, "?") for g in glyphs))
                continue
            i += 1
    return "\n".join(lines)
