"""Signing C2SP signed notes (signed-note.md) and tlog checkpoints (tlog-checkpoint.md).

Verification lives in ``verify_package`` (the one file reviewers run); this is the signing half.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cloud_ingest.attest import verify_package as v


def sign_note(text: str, *, name: str, key: Ed25519PrivateKey) -> bytes:
    """``text`` (ending in a newline) followed by a blank line and one Ed25519 signature line."""
    if not text.endswith("\n") or not name or any(ch.isspace() or ch == "+" for ch in name):
        raise ValueError("a note text ends in a newline and a key name has no spaces or '+'")
    key_id = v.note_key_id(name, v.raw_public(key.public_key()))
    sig = key.sign(text.encode("utf-8"))
    return f"{text}\n— {name} {base64.b64encode(key_id + sig).decode()}\n".encode()


def checkpoint(*, origin: str, size: int, root: bytes, key: Ed25519PrivateKey) -> bytes:
    """The log's tree head at ``size`` as a signed checkpoint; the key name is the origin."""
    text = f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"
    return sign_note(text, name=origin, key=key)
