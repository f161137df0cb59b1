"""The RFC 9162 log against the published vectors: transparency-dev/merkle's testdata (every
inclusion and consistency case, the corrupted ones included) and its RFC 6962 tree of eight
leaves; proof generation is checked by verifying what it makes for every (index, size)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from cloud_ingest.attest import merkle
from cloud_ingest.attest import verify_package as v

VECTORS = json.loads((Path(__file__).parent / "vectors" / "merkle.json").read_text())
LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    bytes.fromhex(h)
    for h in (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]


def _b(items: list[str] | None) -> list[bytes]:
    return [base64.b64decode(h) for h in items or []]


def _id(case: dict[str, Any]) -> str:
    return str(case["file"])


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=_id)
def test_inclusion_vectors(case: dict[str, Any]) -> None:
    def run() -> None:
        v.verify_inclusion(
            case["leafIdx"],
            case["treeSize"],
            base64.b64decode(case["leafHash"] or ""),
            _b(case["proof"]),
            base64.b64decode(case["root"] or ""),
        )

    if case["wantErr"]:
        with pytest.raises(v.VerificationError):
            run()
    else:
        run()


@pytest.mark.parametrize("case", VECTORS["consistency"], ids=_id)
def test_consistency_vectors(case: dict[str, Any]) -> None:
    def run() -> None:
        v.verify_consistency(
            case["size1"],
            case["size2"],
            _b(case["proof"]),
            base64.b64decode(case["root1"] or ""),
            base64.b64decode(case["root2"] or ""),
        )

    if case["wantErr"]:
        with pytest.raises(v.VerificationError):
            run()
    else:
        run()


def test_tree_hashing_gives_the_rfc6962_roots() -> None:
    hashes = [v.leaf_hash(x) for x in LEAVES]
    assert [v.root_from_leaves(hashes[:n]) for n in range(9)] == ROOTS


def test_generated_proofs_verify_for_every_index_and_size() -> None:
    hashes = [v.leaf_hash(x) for x in LEAVES] + [v.leaf_hash(bytes([i])) for i in range(20)]
    for size in range(1, len(hashes) + 1):
        tree, root = hashes[:size], v.root_from_leaves(hashes[:size])
        for index in range(size):
            v.verify_inclusion(index, size, tree[index], merkle.inclusion_proof(tree, index), root)
        for old in range(1, size + 1):
            proof = merkle.consistency_proof(tree, old)
            v.verify_consistency(old, size, proof, v.root_from_leaves(hashes[:old]), root)


def test_generated_proofs_match_the_vectors() -> None:
    hashes = [v.leaf_hash(x) for x in LEAVES]
    happy = [c for c in VECTORS["consistency"] if c["desc"] == "happy path" and c["size1"] < c["size2"]]
    assert happy
    for c in happy:
        assert merkle.consistency_proof(hashes[: c["size2"]], c["size1"]) == _b(c["proof"])
    for c in (c for c in VECTORS["inclusion"] if c["desc"] == "happy path" and c["treeSize"] <= 8):
        assert merkle.inclusion_proof(hashes[: c["treeSize"]], c["leafIdx"]) == _b(c["proof"])


def test_a_rewritten_or_shrunk_log_is_named() -> None:
    hashes = [v.leaf_hash(bytes([i])) for i in range(5)]
    forged = [*hashes[:2], v.leaf_hash(b"forged"), *hashes[3:]]
    with pytest.raises(v.VerificationError, match="rewritten"):
        v.verify_consistency(
            3,
            5,
            merkle.consistency_proof(forged, 3),
            v.root_from_leaves(hashes[:3]),
            v.root_from_leaves(forged),
        )
    with pytest.raises(v.VerificationError, match="shrank"):
        v.verify_consistency(5, 3, [], v.root_from_leaves(hashes), v.root_from_leaves(hashes[:3]))
    assert hashlib.sha256(b"").digest() == v.root_from_leaves([])
