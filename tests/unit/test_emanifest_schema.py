"""The JSON Schema in docs/ against the parser: whatever the parser accepts, the schema accepts,
and whatever the schema rejects, the parser rejects too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from edge.manifest import ContractError, parse_manifest
from tests.fixtures.records import CONTRACT_EXAMPLE, record

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "emanifest.schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA)


def parser_accepts(data: Any) -> bool:
    try:
        parse_manifest(data)
    except ContractError:
        return False
    return True


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(SCHEMA)


def test_contract_example_passes_both() -> None:
    assert parser_accepts(CONTRACT_EXAMPLE)
    assert VALIDATOR.is_valid(CONTRACT_EXAMPLE)


@pytest.mark.parametrize(
    "changes",
    [
        {"ref": None}, {"goods": []}, {"procedure": "x"}, {"version": 0}, {"extra": 1},
        {"transport": {"plate": "A"}}, {"expected_arrival": "2026-11-28"},
        {"seals": [{"id": ""}]}, {"seals": [{"id": "\x1f"}]}, {"goods": [{"seq": 1}]},
    ],
)  # fmt: skip
def test_both_reject_a_broken_record(changes: dict[str, Any]) -> None:
    data = record(**changes)
    assert not VALIDATOR.is_valid(data)
    assert not parser_accepts(data)


_values = st.one_of(
    st.none(), st.integers(-5, 5), st.floats(allow_nan=False), st.text(max_size=12),
    st.sampled_from(["KZ", "KAZ", "870899", "2026-11-28T08:30:00Z", "CSQU3054383", "P", "CU"]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)  # fmt: skip
_paths = st.sampled_from(
    [("ref",), ("version",), ("issuer",), ("expected_arrival",), ("transport", "plate"),
     ("transport", "nationality"), ("driver", "birth_date"), ("driver", "nationality"),
     ("goods", 0, "hs_code"), ("goods", 0, "seq"), ("goods", 0, "gross_mass_kg"),
     ("seals", 0, "id"), ("seals", 0, "party"), ("trailers", 0, "plate"), ("office_border",)]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(path=_paths, value=_values)
def test_whatever_the_parser_accepts_the_schema_accepts(path: tuple[Any, ...], value: Any) -> None:
    data = record()
    target: Any = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    if parser_accepts(data):
        errors = [e.message for e in VALIDATOR.iter_errors(data)]
        assert errors == [], f"{path}={value!r}"
