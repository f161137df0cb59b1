"""Proofs of an RFC 9162 Merkle log, made from its leaf hashes (§2.1.3.1 PATH, §2.1.4.1 PROOF).

A log holds one leaf per package of an enterprise, so trees stay small (one leaf a month or a
week) and proofs are computed from the stored leaf hashes each time; the verifier's functions
(``verify_package``) check them. Written from the RFC's recursive definitions, which are the
specification; the iterative verifiers in ``verify_package`` are checked against both these and
the published test vectors.
"""

from __future__ import annotations

from cloud_ingest.attest.verify_package import root_from_leaves

__all__ = ["consistency_proof", "inclusion_proof", "root_from_leaves"]


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_proof(leaves: list[bytes], index: int) -> list[bytes]:
    """PATH(m, D[n]): the audit path of leaf ``index`` in the tree of ``leaves``."""
    n = len(leaves)
    if not 0 <= index < n:
        raise ValueError(f"leaf {index} is not in a tree of size {n}")
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return [*inclusion_proof(leaves[:k], index), root_from_leaves(leaves[k:])]
    return [*inclusion_proof(leaves[k:], index - k), root_from_leaves(leaves[:k])]


def consistency_proof(leaves: list[bytes], old_size: int) -> list[bytes]:
    """PROOF(m, D[n]): that the tree of the first ``old_size`` leaves is a prefix of this one."""
    n = len(leaves)
    if not 0 < old_size <= n:
        raise ValueError(f"no consistency proof from size {old_size} to {n}")
    return [] if old_size == n else _subproof(old_size, leaves, complete=True)


def _subproof(m: int, leaves: list[bytes], *, complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root_from_leaves(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete=complete), root_from_leaves(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], complete=False), root_from_leaves(leaves[:k])]
