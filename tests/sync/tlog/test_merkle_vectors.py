"""The published RFC 6962/9162 vectors of transparency-dev/merkle (the Go library behind
Trillian, Sigstore's Rekor and Go's checksum database) hold for our hashing, our proof
generation and our verifiers, and each of its corruptions of a good proof is refused."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sync.tlog.merkle import (
    EMPTY_ROOT,
    MemoryHashStore,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).parent / "vectors"
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


VERIFY = load("transparency-dev-merkle-verify.json")
LEAVES = [bytes.fromhex(x) for x in VERIFY["leaves"]]
ROOTS = [bytes.fromhex(x) for x in VERIFY["roots"]]
TESTDATA = load("transparency-dev-merkle-testdata.json")


def store_of(leaves: list[bytes]) -> MemoryHashStore:
    store = MemoryHashStore()
    for data in leaves:
        store.append(leaf_hash(data))
    return store


def test_hasher_vectors() -> None:
    v = load("transparency-dev-merkle-hasher.json")
    assert EMPTY_ROOT.hex() == v["empty_root"]
    for leaf in v["leaves"]:
        assert leaf_hash(leaf["data_utf8"].encode()).hex() == leaf["hash"]
    for node in v["nodes"]:
        assert (
            node_hash(node["left_utf8"].encode(), node["right_utf8"].encode()).hex() == node["hash"]
        )


def test_roots_of_every_prefix() -> None:
    for size in range(1, len(LEAVES) + 1):
        assert store_of(LEAVES[:size]).root() == ROOTS[size - 1], size


@pytest.mark.parametrize("case", VERIFY["inclusion"], ids=lambda c: f"{c['index']}-of-{c['size']}")
def test_inclusion_vector_is_generated_and_verified(case: dict[str, Any]) -> None:
    index, size = case["index"], case["size"]
    proof = [bytes.fromhex(h) for h in case["proof"]]
    store = store_of(LEAVES[:size])
    assert inclusion_proof(store, index, size) == proof
    leaf = leaf_hash(LEAVES[index])
    verify_inclusion(index, size, leaf, proof, ROOTS[size - 1])
    for desc, probe in corrupt_inclusion(index, size, leaf, proof, ROOTS[size - 1]):
        with pytest.raises(ProofError):
            verify_inclusion(*probe)
        assert desc


@pytest.mark.parametrize(
    "case", VERIFY["consistency"], ids=lambda c: f"{c['size1']}-to-{c['size2']}"
)
def test_consistency_vector_is_generated_and_verified(case: dict[str, Any]) -> None:
    size1, size2 = case["size1"], case["size2"]
    proof = [bytes.fromhex(h) for h in case["proof"]]
    assert consistency_proof(store_of(LEAVES[:size2]), size1, size2) == proof
    root1, root2 = ROOTS[size1 - 1], ROOTS[size2 - 1]
    verify_consistency(size1, size2, proof, root1, root2)
    if proof:
        for _desc, probe in corrupt_consistency(size1, size2, root1, root2, proof):
            with pytest.raises(ProofError):
                verify_consistency(*probe)


def b64(values: list[str] | None) -> list[bytes]:
    return [base64.b64decode(v) for v in values or []]


@pytest.mark.parametrize("case", TESTDATA["inclusion"], ids=lambda c: c["source"]["path"])
def test_published_inclusion_cases(case: dict[str, Any]) -> None:
    args = (
        case["leafIdx"],
        case["treeSize"],
        base64.b64decode(case["leafHash"]),
        b64(case["proof"]),
    )
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args, base64.b64decode(case["root"]))
    else:
        verify_inclusion(*args, base64.b64decode(case["root"]))


@pytest.mark.parametrize("case", TESTDATA["consistency"], ids=lambda c: c["source"]["path"])
def test_published_consistency_cases(case: dict[str, Any]) -> None:
    args = (
        case["size1"],
        case["size2"],
        b64(case["proof"]),
        base64.b64decode(case["root1"]),
        base64.b64decode(case["root2"]),
    )
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 0), (2, 1), (-1, 1)])
def test_inclusion_outside_the_tree_is_refused(index: int, size: int) -> None:
    for leaf, root in [(SOME_HASH, b""), (b"", EMPTY_ROOT), (SOME_HASH, EMPTY_ROOT)]:
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf, [], root)


def test_single_entry_tree_root_is_its_leaf_hash() -> None:
    h = leaf_hash(b"data")
    verify_inclusion(0, 1, h, [], h)
    for leaf, root in [(h, b""), (b"", h), (b"", b"")]:
        with pytest.raises(ProofError):
            verify_inclusion(0, 1, leaf, [], root)


# verify_test.go's TestVerifyConsistency table. Where it accepts arbitrary roots at size 0
# ("don't care"), we are stricter on purpose: the root of size 0 is the empty-tree hash.
R1, R2 = b"don't care 1".ljust(32, b"."), b"don't care 2".ljust(32, b".")
CONSISTENCY_TABLE = [
    (0, 0, R1, R2, [], True),
    (1, 1, R1, R2, [], True),
    (0, 0, EMPTY_ROOT, EMPTY_ROOT, [], False),
    (0, 1, EMPTY_ROOT, R2, [], False),
    (1, 1, R2, R2, [], False),
    (1, 0, R1, R2, [], True),
    (2, 1, R1, R2, [], True),
    (1, 2, R1, R2, [], True),
    (0, 0, EMPTY_ROOT, R2, [], True),
    (1, 1, EMPTY_ROOT, R2, [], True),
    (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], True),
    (0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], True),
    (1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], True),
    (0, 1, R1, R2, [], True),  # ours only: size 0 with a root that is not the empty tree's
]


@pytest.mark.parametrize(
    ("size1", "size2", "root1", "root2", "proof", "refused"), CONSISTENCY_TABLE
)
def test_consistency_edge_cases(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes], refused: bool
) -> None:
    if refused:
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, proof, root1, root2)
    else:
        verify_consistency(size1, size2, proof, root1, root2)


Probe = tuple[Any, ...]


def corrupt_inclusion(
    index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes
) -> Iterator[tuple[str, Probe]]:
    """verify_test.go's corruptInclusionProof."""
    yield "index - 1", (index - 1, size, leaf, proof, root)
    yield "index + 1", (index + 1, size, leaf, proof, root)
    yield "index ^ 2", (index ^ 2, size, leaf, proof, root)
    yield "size * 2", (index, size * 2, leaf, proof, root)
    yield "size // 2", (index, size // 2, leaf, proof, root)
    yield "wrong leaf", (index, size, b"WrongLeaf", proof, root)
    yield "empty root", (index, size, leaf, proof, EMPTY_ROOT)
    yield "random root", (index, size, leaf, proof, SOME_HASH)
    yield "trailing garbage", (index, size, leaf, [*proof, b""], root)
    yield "trailing root", (index, size, leaf, [*proof, root], root)
    yield "preceding garbage", (index, size, leaf, [b"", *proof], root)
    yield "preceding root", (index, size, leaf, [root, *proof], root)
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([proof[i][0] ^ 8]) + proof[i][1:]
        yield f"modified proof[{i}] bit 3", (index, size, leaf, flipped, root)
    if proof:
        yield "removed component", (index, size, leaf, proof[:-1], root)
    if len(proof) > 1:
        yield "inserted component", (index, size, leaf, [proof[0], SOME_HASH, *proof[1:]], root)


def corrupt_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]
) -> Iterator[tuple[str, Probe]]:
    """verify_test.go's corruptConsistencyProof."""
    yield "size1 - 1", (size1 - 1, size2, proof, root1, root2)
    yield "size1 + 1", (size1 + 1, size2, proof, root1, root2)
    yield "size1 ^ 2", (size1 ^ 2, size2, proof, root1, root2)
    yield "size2 * 2", (size1, size2 * 2, proof, root1, root2)
    yield "size2 // 2", (size1, size2 // 2, proof, root1, root2)
    yield "wrong root1", (size1, size2, proof, b"WrongRoot", root2)
    yield "wrong root2", (size1, size2, proof, root1, b"WrongRoot")
    yield "swapped roots", (size1, size2, proof, root2, root1)
    yield "empty proof", (size1, size2, [], root1, root2)
    yield "trailing garbage", (size1, size2, [*proof, b""], root1, root2)
    yield "trailing root1", (size1, size2, [*proof, root1], root1, root2)
    yield "trailing root2", (size1, size2, [*proof, root2], root1, root2)
    yield "preceding garbage", (size1, size2, [b"", *proof], root1, root2)
    yield "preceding root1", (size1, size2, [root1, *proof], root1, root2)
    yield "preceding root2", (size1, size2, [root2, *proof], root1, root2)
    yield "preceding proof[0]", (size1, size2, [proof[0], *proof], root1, root2)
    yield "truncated proof", (size1, size2, proof[:-1], root1, root2)
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([proof[i][0] ^ 16]) + proof[i][1:]
        yield f"modified proof[{i}] bit 4", (size1, size2, flipped, root1, root2)
