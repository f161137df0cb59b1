"""The signed part of a package: an in-toto Statement v1 (in-toto/attestation spec/v1) whose
subjects are the package's files, wrapped in a DSSE v1 envelope signed with Ed25519.

The predicate is ours, versioned by its ``predicateType`` URI (``verify_package.PREDICATE_TYPE``);
docs/evidence-package.md lists its fields. Plain JSON: no library is needed to read it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cloud_ingest.attest import verify_package as v


def statement(files: dict[str, bytes], predicate: dict[str, Any]) -> bytes:
    """Every file a subject with its sha256, sorted by name so the bytes are deterministic."""
    subjects = [
        {"name": name, "digest": {"sha256": hashlib.sha256(data).hexdigest()}}
        for name, data in sorted(files.items())
    ]
    body = {
        "_type": v.STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": v.PREDICATE_TYPE,
        "predicate": predicate,
    }
    return json.dumps(body, sort_keys=True, indent=1, ensure_ascii=False).encode("utf-8")


def sign_envelope(payload: bytes, *, key: Ed25519PrivateKey) -> bytes:
    """A DSSE v1 envelope over ``payload``; the keyid is the signing key's id (a hint only)."""
    sig = key.sign(v.pae(v.PAYLOAD_TYPE, payload))
    env = {
        "payloadType": v.PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": v.key_id(key.public_key()), "sig": base64.b64encode(sig).decode()}],
    }
    return (json.dumps(env, indent=2) + "\n").encode()
