#!/usr/bin/env python3
"""数据贯通证据包校验器 — verifier of a shopfloor-gateway evidence package, offline.

    python verify_package.py PACKAGE_DIR [--previous DIR] [--checkpoint FILE] [--key PUB]

Needs Python 3.11+ and the `cryptography` package, nothing else: no network, no database, no
other part of the product. The product's own `cloud-ingest evidence verify` runs this very file,
and a copy of it ships inside every package, so a reviewer can read what is checked.

What it checks, each a small function over bytes (the open specifications it follows):
  1. the DSSE v1 envelope signature over PAE(payloadType, payload) with Ed25519 (the key given
     with --key, else the key inside the package: the output says which);
  2. the in-toto Statement v1: every file's sha256 against its subject, and no unlisted file;
  3. the figures in data/ recompute from the CSVs beside them;
  4. the C2SP signed-note checkpoint of the enterprise's RFC 9162 Merkle log, this package's
     inclusion proof, the log's full chain of packages, and consistency proofs from earlier
     checkpoints (the one published with the previous package, and one the reviewer kept);
  5. with --previous: the sequence number and the previous envelope's digest (and, when the key
     changed, the rotation statement signed by the previous key).
Every failure names the file and the check; the exit code is 0 when all pass, 1 when any check
fails, 2 when the folder is no package or an argument cannot be read.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import csv
import hashlib
import io
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://shopfloor-gateway.org/attestation/evidence-package/v1"
ROTATION_KEY_NAME = "shopfloor-gateway/key-rotation"
ENVELOPE = "evidence.dsse.json"
PUBLIC_KEY = "keys/signing-key.pub"
KEYRING = "keys/keyring.json"
LOG_FILES = (
    "log/checkpoint.txt",
    "log/previous-checkpoint.txt",
    "log/inclusion-proof.json",
    "log/consistency-proofs.json",
    "log/chain.json",
)
TOLERANCE = 2e-6  # ratios in figures.json are rounded to 6 digits


class VerificationError(Exception):
    """One check failed; the message says which and why."""


# ---- DSSE v1 (secure-systems-lab/dsse protocol.md) -------------------------------------------


def pae(payload_type: str, body: bytes) -> bytes:
    """Pre-Authentication Encoding: lengths are in bytes, not characters."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


def b64decode(text: str) -> bytes:
    """Standard or URL-safe base64, as DSSE requires verifiers to accept."""
    try:
        return base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError) as err:
        raise VerificationError(f"not valid base64 ({err})") from err


def verify_envelope(envelope: bytes, public_key: Ed25519PublicKey) -> bytes:
    """The payload of a DSSE envelope signed by ``public_key`` (any of its signatures)."""
    try:
        env = json.loads(envelope)
        payload_type, payload = env["payloadType"], b64decode(env["payload"])
        sigs = [b64decode(s["sig"]) for s in env["signatures"]]
    except (ValueError, KeyError, TypeError, VerificationError) as err:
        raise VerificationError(f"not a DSSE envelope ({err})") from err
    if payload_type != PAYLOAD_TYPE:
        raise VerificationError(f"payloadType is {payload_type!r}, expected {PAYLOAD_TYPE!r}")
    for sig in sigs:
        try:
            public_key.verify(sig, pae(payload_type, payload))
            return payload
        except InvalidSignature:
            continue
    raise VerificationError("no signature verifies with this key")


# ---- RFC 9162 Merkle tree (§2.1.1 hashing, §2.1.3.2 inclusion, §2.1.4.2 consistency) -------


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_leaves(leaves: list[bytes]) -> bytes:
    """MTH over leaf hashes: split at the largest power of two smaller than n."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(root_from_leaves(leaves[:k]), root_from_leaves(leaves[k:]))


def _check_hashes(hashes: list[bytes]) -> None:
    if any(len(h) != 32 for h in hashes):
        raise VerificationError("a hash in the proof is not 32 bytes of SHA-256")


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> None:
    if index < 0 or index >= size:
        raise VerificationError(f"leaf index {index} is outside a tree of size {size}")
    _check_hashes([leaf, root, *proof])
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise VerificationError("inclusion proof is longer than the tree is high")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise VerificationError("inclusion proof is shorter than the tree is high")
    if r != root:
        raise VerificationError("inclusion proof does not lead to the checkpoint's root hash")


def verify_consistency(size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes) -> None:
    _check_hashes(proof)
    if size1 <= 0 or size2 < size1:
        what = "shrank" if size2 < size1 else "was empty"
        raise VerificationError(f"no consistency from size {size1} to {size2}: the log {what}")
    if size1 == size2:
        if proof:
            raise VerificationError("equal sizes take an empty consistency proof")
        if root1 != root2:
            raise VerificationError(f"two different roots for the same size {size1}: the log was rewritten")
        return
    if not proof:
        raise VerificationError("empty consistency proof")
    if size1 & (size1 - 1) == 0:
        proof = [root1, *proof]
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            raise VerificationError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise VerificationError("consistency proof is too short")
    if fr != root1:
        raise VerificationError(f"the log at size {size1} did not have the earlier root: it was rewritten")
    if sr != root2:
        raise VerificationError(f"consistency proof does not lead to the root at size {size2}")


# ---- C2SP signed note and tlog checkpoint ---------------------------------------------------


def note_key_id(name: str, public_key: bytes) -> bytes:
    """signed-note.md: SHA-256(name || 0x0A || 0x01 || Ed25519 public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n\x01" + public_key).digest()[:4]


def vkey(name: str, public_key: bytes) -> str:
    encoded = base64.b64encode(b"\x01" + public_key).decode()
    return f"{name}+{note_key_id(name, public_key).hex()}+{encoded}"


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def verify_note(note: bytes, name: str, public_key: Ed25519PublicKey) -> str:
    """The text of a signed note that carries a valid signature by (name, key)."""
    try:
        text = note.decode("utf-8")
    except UnicodeDecodeError as err:
        raise VerificationError("note is not UTF-8") from err
    if any(ord(ch) < 0x20 and ch != "\n" for ch in text):
        raise VerificationError("note contains control characters")
    body, sep, sigs = text.rpartition("\n\n")
    if not sep or not sigs.endswith("\n"):
        raise VerificationError("note has no signature block")
    body += "\n"
    key_id = note_key_id(name, raw_public(public_key))
    found = False
    for line in sigs[:-1].split("\n"):
        dash, _, rest = line.partition(" ")
        signer, _, sig64 = rest.partition(" ")
        if dash != "—" or not signer or not sig64:
            raise VerificationError(f"malformed signature line {line!r}")
        sig = b64decode(sig64)
        if signer != name or sig[:4] != key_id:
            continue  # signed-note.md: unknown keys are ignored
        try:
            public_key.verify(sig[4:], body.encode("utf-8"))
        except InvalidSignature as err:
            raise VerificationError(f"signature by {name} does not verify") from err
        found = True
    if not found:
        raise VerificationError(f"no signature by {name} with key id {key_id.hex()}")
    return body


def parse_checkpoint(body: str) -> tuple[str, int, bytes]:
    lines = body.split("\n")
    if len(lines) < 4 or not all(lines[:3]):
        raise VerificationError("checkpoint text needs origin, size and root lines")
    if not lines[1].isdigit() or (lines[1] != "0" and lines[1].startswith("0")):
        raise VerificationError(f"checkpoint tree size {lines[1]!r} is not a decimal number")
    root = b64decode(lines[2])
    if len(root) != 32:
        raise VerificationError("checkpoint root hash is not 32 bytes")
    return lines[0], int(lines[1]), root


# ---- the package ----------------------------------------------------------------------------


@dataclass
class Result:
    """What was checked: passes and failures, each one line naming the file."""

    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    recomputed: dict[str, Any] | None = None  # the figures as the CSVs recompute them

    def check(self, subject: str, ok_text: str, fn: Callable[[], Any]) -> Any:
        try:
            value = fn()
        except VerificationError as err:
            self.failed.append(f"{subject}: {err}")
            return None
        self.passed.append(f"{subject}: {ok_text}")
        return value if value is not None else True


def canonical_json(obj: Any) -> bytes:
    return (json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def load_json(files: dict[str, bytes], name: str, *, canonical: bool = False) -> Any:
    if name not in files:
        raise VerificationError("missing")
    try:
        obj = json.loads(files[name])
    except ValueError as err:
        raise VerificationError(f"not valid JSON ({err})") from err
    if canonical and canonical_json(obj) != files[name]:
        raise VerificationError("not in the canonical form it was written in: the file was edited")
    return obj


def log_entry(entry: dict[str, Any]) -> bytes:
    """The bytes a log leaf commits to: a package's chain record, compact canonical JSON."""
    keys = ("sequence", "envelope_sha256", "previous_envelope_sha256", "window", "created_at", "key_id")
    return json.dumps(
        {k: entry.get(k) for k in keys}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def load_public_key(data: bytes) -> Ed25519PublicKey:
    """A PEM public key, or a C2SP vkey line (name+id+base64(0x01 || key))."""
    text = data.decode("utf-8", "replace").strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(data)
        else:
            # name+hash+key: a name never holds "+", the base64 key may
            parts = text.split("+", 2)
            if len(parts) != 3:
                raise VerificationError("not a verifier key (name+hash+key)")
            raw = b64decode(parts[2])
            if raw[:1] != b"\x01" or len(raw) != 33:
                raise VerificationError("not an Ed25519 verifier key")
            if note_key_id(parts[0], raw[1:]).hex() != parts[1]:
                raise VerificationError("verifier key: its hash does not match its name and key")
            key = Ed25519PublicKey.from_public_bytes(raw[1:])
    except (ValueError, TypeError) as err:
        raise VerificationError(f"not a public key ({err})") from err
    if not isinstance(key, Ed25519PublicKey):
        raise VerificationError("not an Ed25519 public key")
    return key


def key_id(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public(key)).hexdigest()


def check_subjects(files: dict[str, bytes], subjects: list[dict[str, Any]]) -> list[str]:
    failures, listed = [], set()
    for s in subjects:
        name, want = s.get("name"), (s.get("digest") or {}).get("sha256")
        listed.add(name)
        if name not in files:
            failures.append(f"{name}: listed in the signed statement but missing from the package")
        elif hashlib.sha256(files[name]).hexdigest() != want:
            failures.append(f"{name}: sha256 differs from the signed digest")
    for name in sorted(set(files) - listed - {ENVELOPE, *LOG_FILES}):
        failures.append(f"{name}: file is not listed in the signed statement")
    return failures


def read_csv(files: dict[str, bytes], name: str) -> list[dict[str, str]]:
    if name not in files:
        raise VerificationError(f"{name} is missing")
    try:
        return list(csv.DictReader(io.StringIO(files[name].decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as err:
        raise VerificationError(f"{name} is not a UTF-8 CSV ({err})") from err


def _num(value: str | None) -> float | None:
    return None if value in (None, "") else float(value)


def _int(value: str | None) -> int | None:
    return None if value in (None, "") else int(float(value))


def _yes(value: str | None) -> bool:
    return value == "是"


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    numbers = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (a, b))
    return abs(float(a) - float(b)) <= TOLERANCE if numbers else bool(a == b)


def ratio(numerator: float, denominator: float) -> float | None:
    """docs/evidence.md: a rate or completeness, capped at 1, rounded to 6 digits; null on 0."""
    return None if not denominator else round(min(1.0, numerator / denominator), 6)


BANDS = ((0.0, 0.10, 0.0), (0.10, 0.20, 1.5), (0.20, 0.40, 3.0), (0.40, 0.60, 4.5), (0.60, 1.0, 6.0))


def band(rate: float | None) -> dict[str, Any] | None:
    """MIIT 2024 bands for networking and digitalization rates: ≤10% 0, ≤20% 1.5, ≤40% 3,
    ≤60% 4.5, else 6 points (of 6)."""
    if rate is None:
        return None
    for lower, upper, points in BANDS:
        if rate <= upper + 1e-12:
            left = "[" if lower == 0 else "("
            return {
                "range": f"{left}{lower:.0%}, {upper:.0%}]",
                "lower": lower,
                "upper": upper,
                "points": points,
                "max_points": 6.0,
            }
    return None


def band_points(rate: float | None) -> float | None:
    b = band(rate)
    return None if b is None else float(b["points"])


# which CSV a recomputed figure comes from, for the messages
SOURCE = {
    "inventory": "data/inventory.csv",
    "networking_rate": "data/inventory.csv",
    "networking_band": "data/inventory.csv",
    "digitalization_rate": "data/inventory.csv",
    "digitalization_band": "data/inventory.csv",
    "key_process_rate": "data/inventory.csv",
    "devices": "data/tags.csv",
    "rollups": "data/tags.csv",
    "business_links": "data/tags.csv",
    "latency_ms": "data/latency_histogram.csv",
    "reconciliation": "data/reconciliation.csv",
}


def _tag_sums(
    files: dict[str, bytes], bad: list[str]
) -> tuple[dict[str, list[float]], dict[str, tuple[set[str], int]]]:
    """Per device [expected, credited, stored, good] and per link (devices, tags) from tags.csv."""
    per_device: dict[str, list[float]] = {}
    links: dict[str, tuple[set[str], int]] = {}
    for r in read_csv(files, "data/tags.csv"):
        exp, good, comp = _int(r["expected"]), _int(r["good"]) or 0, _num(r["completeness"])
        if r["weighting"] == "event":
            credited = float(min(good, exp)) if exp else 0.0
            if not _close(ratio(credited, exp or 0), comp):
                bad.append(
                    f"data/tags.csv: {r['device']}/{r['tag']} 完整性重算不符 completeness recomputes "
                    f"to {ratio(credited, exp or 0)} (min(good, expected) ÷ expected), the row says "
                    f"{r['completeness']}"
                )
        else:  # time-weighted: the share not inside a silence, counted in heartbeat slots
            credited = (comp or 0.0) * (exp or 0)
        acc = per_device.setdefault(r["device"], [0.0, 0.0, 0.0, 0.0])
        for i, v in enumerate((exp or 0, credited, _int(r["stored"]) or 0, good)):
            acc[i] += v
        if good > 0:
            for link in filter(None, r["links"].split(";")):
                devs, n = links.get(link, (set(), 0))
                links[link] = (devs | {r["device"]}, n + 1)
    return per_device, links


def recompute(files: dict[str, bytes], figures: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The headline figures recomputed from the CSVs alone by the formulas of docs/evidence.md,
    in the shape of figures.json, and the rows of a CSV that disagree with another CSV."""
    bad: list[str] = []
    threshold = float((figures.get("parameters") or {}).get("complete_threshold", 0.95))
    per_device, link_use = _tag_sums(files, bad)
    devices: list[dict[str, Any]] = []
    for r in read_csv(files, "data/inventory.csv"):
        exp, credited, stored, good = per_device.get(r["device"], [0.0, 0.0, 0.0, 0.0])
        comp = ratio(credited, exp)
        devices.append(
            {
                "device": r["device"],
                "in_inventory": _yes(r["in_inventory"]),
                "production": _yes(r["production"]),
                "key_process": _yes(r["key_process"]),
                "networked_declared": _yes(r["networked_declared"]),
                "digital_declared": _yes(r["digital_declared"]),
                "samples_expected": int(exp) if r["device"] in per_device else None,
                "samples_stored": int(stored),
                "samples_good": int(good),
                "completeness": comp,
                "complete": comp is not None and comp >= threshold,
                "delivering": good > 0,
            }
        )
    present = any(d["in_inventory"] for d in devices)
    prod = [d for d in devices if d["in_inventory"] and d["production"]]
    key = [d for d in prod if d["key_process"]]
    inv = {
        "production_devices": len(prod),
        "networked_devices": sum(d["networked_declared"] for d in prod),
        "delivering_devices": sum(d["delivering"] for d in prod),
        "digital_devices": sum(d["digital_declared"] for d in prod),
        "key_process_devices": len(key),
        "key_process_complete": sum(d["complete"] for d in key),
        "unlisted_devices": [d["device"] for d in devices if not d["in_inventory"]] if present else [],
    }
    networking = ratio(inv["delivering_devices"], len(prod)) if present else None
    digital = ratio(inv["digital_devices"], len(prod)) if present else None
    counted = [d for d in devices if not d["in_inventory"] or d["production"]]
    expected = sum(d["samples_expected"] or 0 for d in counted)
    link_rows = read_csv(files, "data/business_links.csv")
    links: list[dict[str, Any]] = [
        {
            "key": r["link"],
            "collected": r["link"] in link_use,
            "devices": sorted(link_use.get(r["link"], (set(), 0))[0]),
            "tags": link_use.get(r["link"], (set(), 0))[1],
        }
        for r in link_rows
    ]
    recon = []
    rows = read_csv(files, "data/reconciliation.csv")
    for r in rows:  # the gateway's own balance (docs/evidence.md §13) holds exactly
        n = {
            k: _int(r[k]) or 0
            for k in ("read", "at_gateway_start", "at_gateway_end", "published", "dropped_total")
        }
        if n["read"] + n["at_gateway_start"] - n["at_gateway_end"] != n["published"] + n["dropped_total"]:
            bad.append(
                f"data/reconciliation.csv: {r['gateway']}/{r['device']} 网关计数不平衡 "
                f"read + at_gateway_start "
                f"− at_gateway_end ≠ published + dropped ({n})"
            )
    for total in (r for r in rows if r["device"] == "*"):
        mine = [r for r in rows if r["gateway"] == total["gateway"] and r["device"] != "*"]
        sums = {
            k: sum(_int(r[k]) or 0 for r in mine)
            for k in ("read", "published", "stored", "rejected", "read_errors", "skipped_polls")
        }
        recon.append({"gateway": total["gateway"], **sums})
        for k, v in sums.items():
            if _int(total[k]) != v:
                bad.append(
                    f"data/reconciliation.csv: {total['gateway']} 网关合计不符 {k} is {total[k]}, "
                    f"its devices add up to {v}"
                )
    out = {
        "inventory": inv,
        "networking_rate": networking,
        "networking_band": band(networking),
        "digitalization_rate": digital,
        "digitalization_band": band(digital),
        "key_process_rate": ratio(inv["key_process_complete"], len(key)) if present else None,
        "devices": [
            {
                k: d[k]
                for k in (
                    "device",
                    "samples_expected",
                    "samples_stored",
                    "samples_good",
                    "completeness",
                    "complete",
                    "delivering",
                )
            }
            for d in devices
        ],
        "rollups": {
            "enterprise": {
                "devices": len(counted),
                "delivering": sum(d["delivering"] for d in counted),
                "completeness": ratio(sum(per_device.get(d["device"], [0, 0])[1] for d in counted), expected),
                "samples_expected": expected,
                "samples_good": sum(d["samples_good"] for d in counted),
            }
        },
        "business_links": {
            "covered": sum(li["collected"] for li in links),
            "declared": sum(_yes(r["declared"]) for r in link_rows),
            "links": links,
        },
        "latency_ms": {
            "samples": sum(_int(r["n"]) or 0 for r in read_csv(files, "data/latency_histogram.csv"))
        },
        "reconciliation": recon,
    }
    bad += _check_rows(files, out)
    return out, bad


def _check_rows(files: dict[str, bytes], out: dict[str, Any]) -> list[str]:
    """devices.csv, gaps.csv and business_links.csv against what the other CSVs recompute to."""
    bad = []
    gaps: dict[str, list[float]] = {}
    for r in read_csv(files, "data/gaps.csv"):
        try:
            span = (datetime.fromisoformat(r["end"]) - datetime.fromisoformat(r["start"])).total_seconds()
        except ValueError as err:
            raise VerificationError(f"data/gaps.csv: 时间格式错误 bad time ({err})") from err
        if abs(span - float(r["duration_s"])) > 0.001:
            bad.append(
                f"data/gaps.csv: {r['device']} 缺口时长不符 the gap at {r['start']} lasts {span:g} s, "
                f"the row says {r['duration_s']}"
            )
        acc = gaps.setdefault(r["device"], [0.0, 0.0])
        acc[0], acc[1] = acc[0] + 1, acc[1] + float(r["duration_s"])
    want = {d["device"]: d for d in out["devices"]}
    for r in read_csv(files, "data/devices.csv"):
        d = {**want.get(r["device"], {}), "gap_count": 0, "gap_seconds": 0.0}
        d["gap_count"], d["gap_seconds"] = gaps.get(r["device"], [0, 0.0])
        for k in (
            "samples_expected",
            "samples_stored",
            "samples_good",
            "completeness",
            "gap_count",
            "gap_seconds",
        ):
            if not _close(d.get(k), _num(r[k])):
                bad.append(
                    f"data/devices.csv: {r['device']} 与明细不符 {k} is {r[k] or 'empty'}, "
                    f"data/tags.csv and data/gaps.csv give {d.get(k)}"
                )
        for k in ("complete", "delivering"):
            if d.get(k) != _yes(r[k]):
                bad.append(
                    f"data/devices.csv: {r['device']} 与明细不符 {k} is {r[k]}, recomputes to {d.get(k)}"
                )
    links = {li["key"]: li for li in out["business_links"]["links"]}
    for r in read_csv(files, "data/business_links.csv"):
        li = links[r["link"]]
        got = (_yes(r["collected"]), sorted(filter(None, r["devices"].split(";"))), _int(r["tags"]))
        if got != (li["collected"], li["devices"], li["tags"]):
            bad.append(
                f"data/business_links.csv: {r['link']} 与点位不符 collected/devices/tags are {got}, "
                f"data/tags.csv gives {(li['collected'], li['devices'], li['tags'])}"
            )
    return bad


def compare(recomputed: Any, claimed: Any, path: str) -> list[str]:
    """Where figures.json differs from what the CSVs recompute to, one line per figure."""
    if isinstance(recomputed, dict) and isinstance(claimed, dict):
        return [m for k, v in recomputed.items() for m in compare(v, claimed.get(k), f"{path}.{k}")]
    if isinstance(recomputed, list) and recomputed and isinstance(recomputed[0], dict):
        ident = next(k for k in ("device", "key", "gateway") if k in recomputed[0])
        theirs = {c.get(ident): c for c in claimed or [] if isinstance(c, dict)}
        return [
            m
            for item in recomputed
            for m in compare(item, theirs.get(item[ident], {}), f"{path}[{item[ident]}]")
        ]
    if isinstance(recomputed, list):
        same = list(recomputed) == list(claimed or [])
    else:
        same = _close(recomputed, claimed)
    if same:
        return []
    top = path.split(".")[1].split("[")[0]
    return [
        f"data/figures.json: 指标与 CSV 不符 {path[1:]} is {claimed!r}, "
        f"{SOURCE.get(top, 'the CSVs')} recompute(s) to {recomputed!r}"
    ]


def recompute_figures(files: dict[str, bytes], figures: dict[str, Any]) -> list[str]:
    """Recompute the headline figures from the CSVs and compare them with figures.json; one line
    per disagreement."""
    recomputed, bad = recompute(files, figures)
    return bad + compare(recomputed, figures, "")


def verify_package(
    files: dict[str, bytes],
    *,
    key: Ed25519PublicKey | None = None,
    previous: dict[str, bytes] | None = None,
    kept_checkpoint: bytes | None = None,
) -> Result:
    """Every check over a package given as {relative path: bytes}; nothing is read from outside."""
    res = Result()
    if ENVELOPE not in files:
        raise VerificationError(f"not an evidence package: {ENVELOPE} is missing")
    inner = res.check(
        PUBLIC_KEY,
        "public key read",
        lambda: load_public_key(files[PUBLIC_KEY]) if PUBLIC_KEY in files else _raise("missing"),
    )
    signer = inner
    if key is not None and inner is not None and key_id(key) != key_id(inner):
        # the reviewer trusts an earlier key: the package must show the rotation to its own
        res.notes.append(
            f"包内公钥与您给的不同 the package's key {key_id(inner)[:16]}… is not the one you "
            f"gave ({key_id(key)[:16]}…): accepted only with a rotation signed by yours"
        )
    elif key is not None:
        signer = key
    if signer is None:
        return res
    source = "the key you gave (--key)" if signer is key else "the key inside the package"
    res.notes.append(f"签名用的公钥 signature checked against {source}: fingerprint {key_id(signer)}")
    if key is None:
        res.notes.append("请向企业或平台方核对该指纹 compare this fingerprint with the one you were given")
    payload = res.check(ENVELOPE, "DSSE signature verifies", lambda: verify_envelope(files[ENVELOPE], signer))
    if payload is None:
        return res
    try:
        st = json.loads(payload)
        pred, subjects = st["predicate"], st["subject"]
        ok = st["_type"] == STATEMENT_TYPE and st["predicateType"] == PREDICATE_TYPE
    except (ValueError, KeyError, TypeError) as err:
        res.failed.append(f"{ENVELOPE}: the signed payload is not our in-toto statement ({err})")
        return res
    if not ok:
        res.failed.append(f"{ENVELOPE}: statement type or predicateType is not {PREDICATE_TYPE}")
        return res
    failures = check_subjects(files, subjects)
    res.failed += failures
    if not failures:
        res.passed.append(f"{len(subjects)} files: every sha256 matches the signed digest, no file unlisted")
    if key is not None and signer is not key:
        res.check(
            ENVELOPE,
            "the key you gave signed the rotation to the package's key",
            lambda: _check_rotation(key, signer, pred, whose="the key you trust (--key)"),
        )
    if pred.get("key_id") != key_id(signer):
        res.failed.append(f"{ENVELOPE}: predicate names key {pred.get('key_id')}, signed by {key_id(signer)}")
    if "data/figures.json" in files and not [f for f in failures if f.startswith("data/")]:

        def figures() -> None:
            claimed = load_json(files, "data/figures.json")
            if not isinstance(claimed, dict):
                raise VerificationError("data/figures.json is not a figures document")
            res.recomputed, bad = recompute(files, claimed)
            bad += compare(res.recomputed, claimed, "")
            if bad:
                raise VerificationError("; ".join(bad))

        res.check("data/", "figures recompute from the CSVs", figures)
    env_digest = hashlib.sha256(files[ENVELOPE]).hexdigest()
    _check_log(res, files, pred, env_digest, signer, kept_checkpoint)
    if previous is not None:
        _check_previous(res, previous, pred, signer)
    return res


def _raise(message: str) -> Any:
    raise VerificationError(message)


def _checkpoint(note: bytes, origin: str, *signers: Ed25519PublicKey) -> tuple[int, bytes]:
    """Signed by the first key, or (for checkpoints older than a key rotation) by another key of
    the keyring that this package's signed statement lists."""
    body, errors = None, []
    for key in signers:
        try:
            body = verify_note(note, origin, key)
            break
        except VerificationError as err:
            errors.append(str(err))
    if body is None:
        raise VerificationError(errors[0] if len(errors) == 1 else "signed by none of the keyring's keys")
    got, size, root = parse_checkpoint(body)
    if got != origin:
        raise VerificationError(f"checkpoint origin {got!r} is not this enterprise's log {origin!r}")
    return size, root


def _keyring_keys(files: dict[str, bytes]) -> list[Ed25519PublicKey]:
    """The earlier keys listed in keys/keyring.json (a signed file: the current key vouches for it)."""
    try:
        ring = json.loads(files.get(KEYRING) or b"{}")
        return [load_public_key(k["public_pem"].encode()) for k in ring.get("keys", [])]
    except (ValueError, KeyError, TypeError, VerificationError):
        return []


def _check_log(
    res: Result,
    files: dict[str, bytes],
    pred: dict[str, Any],
    env_digest: str,
    signer: Ed25519PublicKey,
    kept: bytes | None,
) -> None:
    origin, seq = (pred.get("log") or {}).get("origin", ""), pred.get("sequence")
    if not isinstance(seq, int) or seq < 1:
        res.failed.append(f"{ENVELOPE}: the predicate has no valid sequence number ({seq!r})")
        return
    head = res.check(
        "log/checkpoint.txt",
        "checkpoint signature verifies",
        lambda: _checkpoint(files.get("log/checkpoint.txt") or _raise("missing"), origin, signer),
    )
    if head is None:
        return
    size, root = head
    me = {
        "sequence": seq,
        "envelope_sha256": env_digest,
        "window": pred.get("window"),
        "previous_envelope_sha256": pred.get("previous_envelope_sha256"),
        "created_at": pred.get("created_at"),
        "key_id": pred.get("key_id"),
    }

    def inclusion() -> None:
        p = load_json(files, "log/inclusion-proof.json", canonical=True)
        if p["leaf_index"] != seq - 1:
            raise VerificationError(
                f"the log holds this package at position {p['leaf_index'] + 1}, "
                f"its sequence is {seq}: another package has this sequence"
            )
        if p["tree_size"] != size:
            raise VerificationError(f"proof is for size {p['tree_size']}, the checkpoint for {size}")
        verify_inclusion(
            p["leaf_index"], size, leaf_hash(log_entry(me)), [b64decode(h) for h in p["hashes"]], root
        )

    res.check("log/inclusion-proof.json", f"package {seq} is leaf {seq} of the log of size {size}", inclusion)

    def chain() -> None:
        entries = load_json(files, "log/chain.json", canonical=True)["entries"]
        if len(entries) != size:
            raise VerificationError(f"lists {len(entries)} packages, the checkpoint counts {size}")
        for i, e in enumerate(entries):
            if e["sequence"] != i + 1:
                raise VerificationError(f"entry {i + 1} has sequence {e['sequence']}")
            prev = entries[i - 1]["envelope_sha256"] if i else None
            if e["previous_envelope_sha256"] != prev:
                raise VerificationError(f"package {i + 1} does not link to package {i}")
        if root_from_leaves([leaf_hash(log_entry(e)) for e in entries]) != root:
            raise VerificationError("the listed packages do not hash to the checkpoint's root")
        if seq is None or not 1 <= seq <= size or log_entry(entries[seq - 1]) != log_entry(me):
            raise VerificationError(f"entry {seq} is not this package")

    res.check("log/chain.json", f"all {size} packages of the log recompute to the checkpoint", chain)

    def all_proofs() -> None:
        proofs = load_json(files, "log/consistency-proofs.json", canonical=True)
        entries = load_json(files, "log/chain.json", canonical=True)["entries"]
        leaves = [leaf_hash(log_entry(e)) for e in entries]
        if proofs["to_size"] != size or [p["from_size"] for p in proofs["proofs"]] != list(range(1, size)):
            raise VerificationError(f"does not hold one proof from each earlier size to {size}")
        for p in proofs["proofs"]:
            m = p["from_size"]
            verify_consistency(
                m, size, [b64decode(h) for h in p["hashes"]], root_from_leaves(leaves[:m]), root
            )

    res.check(
        "log/consistency-proofs.json", "every earlier size of the log is a prefix of this one", all_proofs
    )

    def consistency(name: str, note: bytes) -> None:
        old_size, old_root = _checkpoint(note, origin, signer, *_keyring_keys(files))
        if old_size == size:
            verify_consistency(old_size, size, [], old_root, root)
            return
        if old_size > size:
            raise VerificationError(
                f"the log shrank: the earlier checkpoint has size {old_size}, this one {size}"
            )
        proofs = load_json(files, "log/consistency-proofs.json", canonical=True)["proofs"]
        p = next((p for p in proofs if p["from_size"] == old_size), None)
        if p is None:
            raise VerificationError(f"log/consistency-proofs.json has no proof from size {old_size}")
        verify_consistency(old_size, size, [b64decode(h) for h in p["hashes"]], old_root, root)

    if "log/previous-checkpoint.txt" in files:
        res.check(
            "log/previous-checkpoint.txt",
            "the log only grew since the previous package",
            lambda: consistency("previous", files["log/previous-checkpoint.txt"]),
        )
    elif seq != 1:
        res.failed.append(f"log/previous-checkpoint.txt: missing, although this is package {seq}")
    if kept is not None:
        res.check(
            "--checkpoint",
            "the log only grew since the checkpoint you kept",
            lambda: consistency("kept", kept),
        )


def _check_previous(
    res: Result, prev: dict[str, bytes], pred: dict[str, Any], signer: Ed25519PublicKey
) -> None:
    def link() -> None:
        if ENVELOPE not in prev:
            raise VerificationError(f"not an evidence package: {ENVELOPE} is missing")
        prev_key = load_public_key(prev.get(PUBLIC_KEY) or _raise("keys/signing-key.pub missing"))
        if key_id(prev_key) != key_id(signer):
            _check_rotation(prev_key, signer, pred)
        p = json.loads(verify_envelope(prev[ENVELOPE], prev_key))["predicate"]
        if p["enterprise"].get("code") != pred["enterprise"].get("code"):
            raise VerificationError("the previous package is of another enterprise")
        if p["sequence"] != pred["sequence"] - 1:
            missing = ", ".join(str(s) for s in range(p["sequence"] + 1, pred["sequence"]))
            raise VerificationError(
                f"previous package has sequence {p['sequence']}, this one "
                f"{pred['sequence']}" + (f": package {missing} is missing" if missing else "")
            )
        if pred.get("previous_envelope_sha256") != hashlib.sha256(prev[ENVELOPE]).hexdigest():
            raise VerificationError(
                "the previous envelope's digest is not the one this package names: "
                "the previous package was replaced"
            )

    res.check("--previous", "sequence and previous digest link to the previous package", link)


def _check_rotation(
    old: Ed25519PublicKey, new: Ed25519PublicKey, pred: dict[str, Any], *, whose: str = "the previous package"
) -> None:
    """A change of key is accepted when the old key signed the rotation to the new one."""
    for r in pred.get("key_rotations") or []:
        if r.get("from_key_id") == key_id(old) and r.get("to_key_id") == key_id(new):
            body = verify_note(r["statement"].encode(), ROTATION_KEY_NAME, old)
            if f"to {key_id(new)}\n" in body:
                return
    raise VerificationError(
        f"signed by key {key_id(new)[:16]}…, {whose} by {key_id(old)[:16]}…, "
        "and no rotation signed by the trusted key names the new one: an unknown key"
    )


# what a failure means, in Chinese, by a phrase of its English message (first match wins)
ZH = (
    ("not an evidence package", "不是证据包"),
    ("is not a folder", "文件夹不存在"),
    ("sha256 differs from the signed digest", "文件内容与签名记录的摘要不符，文件被改动过"),
    ("listed in the signed statement but missing", "签名清单中的文件缺失"),
    ("is not listed in the signed statement", "包中多出未经签名的文件"),
    ("not in the canonical form", "文件被改动过"),
    ("an unknown key", "签名公钥不被信任：没有由已信任公钥签署的换钥声明"),
    ("no signature verifies with this key", "签名无效：不是该公钥签署的，或签名后被改动"),
    ("not a DSSE envelope", "签名信封格式错误"),
    ("is missing", "证据链断开：缺少中间的证据包，或文件缺失"),
    ("the previous package was replaced", "上一个证据包被替换"),
    ("another package has this sequence", "同一序号已有另一个证据包"),
    ("the log shrank", "日志变短了：有证据包被删除"),
    ("rewritten", "日志被改写"),
    ("consistency proof", "一致性证明不成立，日志被改写"),
    ("inclusion proof", "包含证明不成立"),
    ("does not link to package", "证据链断开"),
    ("do not hash to the checkpoint", "日志内容与检查点不符"),
    ("missing, although this is package", "缺少上一个检查点"),
    ("no proof from size", "缺少一致性证明"),
    ("of another enterprise", "上一个证据包属于另一家企业"),
    ("predicate names key", "声明的公钥与签名公钥不符"),
    ("does not verify", "签名无效"),
    ("no signature by", "检查点不是该公钥签署的"),
    ("signed by none of the keyring", "检查点不是已知公钥签署的"),
)


def bilingual(line: str, *, subject: bool = True) -> str:
    """``subject: English`` → ``subject: 中文 — English`` (lines with Chinese stay as they are)."""
    if any("\u4e00" <= ch <= "\u9fff" for ch in line):
        return line
    zh = next((z for phrase, z in ZH if phrase in line), "校验失败")
    name, sep, rest = line.partition(": ")
    return f"{name}: {zh} — {rest}" if sep and subject else f"{zh} — {line}"


def read_dir(path: Path) -> dict[str, bytes]:
    if not path.is_dir():
        raise VerificationError(f"{path} is not a folder")
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def main(argv: list[str] | None = None) -> int:
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")
    ap = argparse.ArgumentParser(description="校验数据贯通证据包 Verify an evidence package offline.")
    ap.add_argument("package", type=Path)
    ap.add_argument("--previous", type=Path, help="the package before this one")
    ap.add_argument("--checkpoint", type=Path, help="a log checkpoint you kept from an earlier package")
    ap.add_argument("--key", type=Path, help="the public key you trust (PEM or signed-note vkey)")
    ap.add_argument("--json", type=Path, help="also write the result and the recomputed figures here")
    args = ap.parse_args(argv)
    try:
        files = read_dir(args.package)
        key = load_public_key(args.key.read_bytes()) if args.key else None
        previous = read_dir(args.previous) if args.previous else None
        kept = args.checkpoint.read_bytes() if args.checkpoint else None
        res = verify_package(files, key=key, previous=previous, kept_checkpoint=kept)
    except (OSError, VerificationError) as err:
        print(f"错误 error: {bilingual(str(err), subject=False)}")
        return 2
    if args.json:
        report = {
            "verified": not res.failed,
            "passed": res.passed,
            "failed": [bilingual(line) for line in res.failed],
            "notes": res.notes,
            "recomputed": res.recomputed,
        }
        args.json.write_bytes(canonical_json(report))
    for line in res.notes:
        print(f"  {line}")
    for line in res.passed:
        print(f"[通过 OK]   {line}")
    for line in res.failed:
        print(f"[失败 FAIL] {bilingual(line)}")
    if res.failed:
        print(f"校验未通过 NOT VERIFIED: {len(res.failed)} check(s) failed")
        return 1
    print("校验通过 VERIFIED: signature, every file, the figures and the log check out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
