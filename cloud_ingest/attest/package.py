"""One evidence package as files, from the figures and the enterprise's log so far: pure
(no database, no clock, no disk), so the same inputs give the same bytes.

    evidence.dsse.json          DSSE v1 envelope: in-toto Statement v1 over every file below but log/
    data/figures.json, *.csv    the figures and the rows they recompute from
    report/report.html, .pdf    the report, Chinese first
    keys/                       the public key, its fingerprint, the keyring with rotations
    log/                        the log after this package: checkpoint, proofs, the whole chain
    README.txt                  how to verify, Chinese and English
    verify_package.py           the verifier (needs Python 3.11+ and cryptography only)

``log/`` cannot be signed by the envelope (it holds the envelope's own digest); its checkpoint
is a signed note and every other log file is checked against it, in canonical form.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cloud_ingest.attest import envelope, merkle, note, tables
from cloud_ingest.attest import verify_package as v
from cloud_ingest.attest.keys import Keyring, fingerprint, public_pem
from cloud_ingest.attest.readme import readme_text

GENERATOR = "shopfloor-gateway"


@dataclass(frozen=True, kw_only=True)
class LogState:
    """The enterprise's chain and log before this package (empty for the first)."""

    entries: tuple[dict[str, Any], ...] = ()
    checkpoint: bytes | None = None  # the signed checkpoint published with the previous package

    @property
    def previous_digest(self) -> str | None:
        return self.entries[-1]["envelope_sha256"] if self.entries else None


@dataclass(frozen=True, kw_only=True)
class PackageInput:
    figures: dict[str, Any]
    rows: dict[str, list[dict[str, Any]]]  # CSV rows by file stem (tables.tables(figures))
    enterprise: dict[str, Any]  # code, name, industry, district (the registry's)
    created_at: str
    log_origin: str
    generator_version: str


@dataclass(frozen=True, kw_only=True)
class Built:
    files: dict[str, bytes]
    entry: dict[str, Any]  # the chain record this package appended
    leaf_hash: bytes
    checkpoint: bytes
    envelope_sha256: str

    @property
    def sequence(self) -> int:
        return int(self.entry["sequence"])


def verifier_source() -> bytes:
    """The standalone verifier, copied from the product's own source."""
    return resources.files("cloud_ingest.attest").joinpath("verify_package.py").read_bytes()


def data_digest(files: dict[str, bytes]) -> str:
    """sha256 over `sha256sum`-style lines of data/, printed on the report's cover."""
    lines = "".join(
        f"{hashlib.sha256(b).hexdigest()}  {n}\n" for n, b in sorted(files.items()) if n.startswith("data/")
    )
    return hashlib.sha256(lines.encode()).hexdigest()


def summary(figures: dict[str, Any]) -> dict[str, Any]:
    """The headline figures the predicate carries (a reviewer reads them without opening data/)."""
    inv = figures.get("inventory") or {}
    devices = figures.get("devices") or []
    recon = figures.get("reconciliation") or []
    return {
        "production_devices": inv.get("production_devices"),
        "networked_devices": inv.get("networked_devices"),
        "delivering_devices": inv.get("delivering_devices"),
        "digital_devices": inv.get("digital_devices"),
        "networking_rate": figures.get("networking_rate"),
        "networking_band": figures.get("networking_band"),
        "digitalization_rate": figures.get("digitalization_rate"),
        "key_process_rate": figures.get("key_process_rate"),
        "key_process_devices": inv.get("key_process_devices"),
        "business_links_covered": (figures.get("business_links") or {}).get("covered"),
        "business_links_total": (figures.get("business_links") or {}).get("total"),
        "latency_ms": {k: (figures.get("latency_ms") or {}).get(k) for k in ("p50", "p95", "p99", "max")},
        "samples_expected": sum(int(d.get("samples_expected") or 0) for d in devices),
        "samples_stored": sum(int(d.get("samples_stored") or 0) for d in devices),
        "samples_good": sum(int(d.get("samples_good") or 0) for d in devices),
        "completeness": ((figures.get("rollups") or {}).get("enterprise") or {}).get("completeness"),
        "unexplained_loss": sum(int(r.get("unexplained") or 0) for r in recon),
        "no_data": not any(int(d.get("samples_stored") or 0) for d in devices),
    }


def build(
    inp: PackageInput, *, log: LogState, key: Ed25519PrivateKey, keyring: Keyring, render: Any
) -> Built:
    """``render(figures, cover) -> (html, pdf)`` makes the report (cloud_ingest.report)."""
    seq = len(log.entries) + 1
    kid = v.key_id(key.public_key())
    figures = inp.figures
    files: dict[str, bytes] = {"data/figures.json": v.canonical_json(figures)}
    for name, rows in inp.rows.items():
        files[f"data/{name}.csv"] = tables.to_csv(name, rows)
    files["keys/signing-key.pub"] = public_pem(key.public_key()).encode()
    files["keys/fingerprint.txt"] = (
        f"公钥指纹 key fingerprint (SHA-256 of the Ed25519 public "
        f"key):\n{fingerprint(kid)}\n"
        f"签名笔记验证密钥 signed-note verifier key of the log:\n"
        f"{v.vkey(inp.log_origin, v.raw_public(key.public_key()))}\n"
    ).encode()
    files["keys/keyring.json"] = v.canonical_json(keyring.to_json())
    cover = {
        "enterprise": inp.enterprise,
        "sequence": seq,
        "created_at": inp.created_at,
        "key_id": kid,
        "fingerprint": fingerprint(kid),
        "data_digest": data_digest(files),
        "log_origin": inp.log_origin,
        "previous_envelope_sha256": log.previous_digest,
        "generator_version": inp.generator_version,
    }
    html, pdf = render(figures, cover)
    files["report/report.html"], files["report/report.pdf"] = html, pdf
    files["README.txt"] = readme_text(
        enterprise=str(inp.enterprise["code"]), sequence=seq, fingerprint=fingerprint(kid)
    ).encode("utf-8")
    files["verify_package.py"] = verifier_source()
    predicate = {
        "enterprise": inp.enterprise,
        "window": figures["window"],
        "sequence": seq,
        "previous_envelope_sha256": log.previous_digest,
        "methodology_version": figures.get("methodology_version") or figures.get("schema_version"),
        "figures_schema_version": figures.get("schema_version"),
        "generator": {"name": GENERATOR, "version": inp.generator_version},
        "key_id": kid,
        "key_rotations": list(keyring.rotations),
        "created_at": inp.created_at,
        "log": {"origin": inp.log_origin, "leaf_index": seq - 1},
        "summary": summary(figures),
    }
    env = envelope.sign_envelope(envelope.statement(files, predicate), key=key)
    files[v.ENVELOPE] = env
    digest = hashlib.sha256(env).hexdigest()
    entry = {
        "sequence": seq,
        "envelope_sha256": digest,
        "previous_envelope_sha256": log.previous_digest,
        "window": figures["window"],
        "created_at": inp.created_at,
        "key_id": kid,
    }
    entries = [*log.entries, entry]
    leaves = [v.leaf_hash(v.log_entry(e)) for e in entries]
    root = merkle.root_from_leaves(leaves)
    cp = note.checkpoint(origin=inp.log_origin, size=len(leaves), root=root, key=key)
    b64 = lambda hs: [base64.b64encode(h).decode() for h in hs]  # noqa: E731
    files["log/checkpoint.txt"] = cp
    if log.checkpoint is not None:
        files["log/previous-checkpoint.txt"] = log.checkpoint
    files["log/inclusion-proof.json"] = v.canonical_json(
        {
            "leaf_index": seq - 1,
            "tree_size": len(leaves),
            "hashes": b64(merkle.inclusion_proof(leaves, seq - 1)),
        }
    )
    files["log/consistency-proofs.json"] = v.canonical_json(
        {
            "to_size": len(leaves),
            "proofs": [
                {"from_size": m, "hashes": b64(merkle.consistency_proof(leaves, m))}
                for m in range(1, len(leaves))
            ],
        }
    )
    files["log/chain.json"] = v.canonical_json({"origin": inp.log_origin, "entries": entries})
    return Built(files=files, entry=entry, leaf_hash=leaves[-1], checkpoint=cp, envelope_sha256=digest)
