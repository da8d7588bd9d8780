"""The one strict JSON reader of every boundary refuses what json.loads lets through."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.json_input import JsonInputError, nesting_depth, parse_json, parse_json_object


def test_a_second_ref_in_a_line_is_refused_not_silently_taken() -> None:
    with pytest.raises(JsonInputError, match=r"lines.jsonl:3: not JSON: duplicate key 'ref'"):
        parse_json(b'{"ref": "A", "version": 1, "ref": "B"}', "lines.jsonl:3")


def test_a_duplicate_deep_inside_is_refused_too() -> None:
    with pytest.raises(JsonInputError, match="duplicate key 'plate'"):
        parse_json('{"transport": {"plate": "1", "plate": "2"}}', "x")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_no_numbers(constant: str) -> None:
    with pytest.raises(JsonInputError, match=f"{constant} is not a JSON number"):
        parse_json(f'{{"mass": {constant}}}', "x")


def test_nesting_deeper_than_the_limit_is_refused_before_parsing() -> None:
    # 100,000 levels would end json.loads in RecursionError; here it is a plain refusal.
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(
        JsonInputError, match="bundle line 2: nested 100000 levels deep; at most 32"
    ):
        parse_json(deep, "bundle line 2")


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = json.dumps({"note": "[[[[{{{{" * 20, "q": 'a \\" [[[ "'})
    assert nesting_depth(text.encode()) == 1
    assert parse_json(text, "x")["note"].startswith("[[[[")


def test_bytes_that_are_not_utf8_are_named() -> None:
    with pytest.raises(JsonInputError, match=r"file.jsonl:1: not UTF-8 \(byte 9\)"):
        parse_json(b'{"ref": "\xff"}', "file.jsonl:1")


def test_an_object_is_required_where_one_is_expected() -> None:
    with pytest.raises(JsonInputError, match="expected a JSON object, not list"):
        parse_json_object(b"[1, 2]", "x")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(_json)
def test_any_json_without_duplicates_reads_as_json_loads_reads_it(value: object) -> None:
    text = json.dumps(value)
    assert parse_json(text, "x", max_depth=1000) == json.loads(text)
