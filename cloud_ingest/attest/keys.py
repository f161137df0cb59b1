"""The evidence signing key: one Ed25519 private key in a 0600 file, and beside it a public
keyring listing every key this deployment ever signed with and when each was valid.

Rotation writes a new private key and keeps the old public key in the keyring with the end of
its validity, so packages signed before still verify; the old key signs a short rotation
statement (a C2SP signed note) naming the new key, which the next package carries, so a reviewer
who trusted the old key can follow the change without asking us. The old private key is not
kept: a rotation is often made because a key is no longer trusted.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cloud_ingest.attest import verify_package as v
from cloud_ingest.attest.note import sign_note
from common.secrets import SecretError, check_private


class SigningKeyError(Exception):
    """The signing key is missing, unsafe or unreadable; the message says how to fix it."""


@dataclass(frozen=True, kw_only=True)
class PublicKeyInfo:
    key_id: str
    public_pem: str
    valid_from: str
    valid_until: str | None

    def key(self) -> Ed25519PublicKey:
        return v.load_public_key(self.public_pem.encode())


@dataclass(frozen=True, kw_only=True)
class Keyring:
    keys: tuple[PublicKeyInfo, ...]
    rotations: tuple[dict[str, str], ...]

    def current(self) -> PublicKeyInfo | None:
        return next((k for k in self.keys if k.valid_until is None), None)

    def to_json(self) -> dict[str, Any]:
        return {"keys": [k.__dict__ for k in self.keys], "rotations": list(self.rotations)}


def keyring_path(key_file: Path) -> Path:
    return key_file.with_name(key_file.stem + ".keyring.json")


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def fingerprint(key_id: str) -> str:
    """The key id (SHA-256 of the raw public key) in groups of four, as the report prints it."""
    return " ".join(key_id[i : i + 4] for i in range(0, len(key_id), 4))


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_private(path: Path, key: Ed25519PrivateKey) -> None:
    """Atomically, created 0600 from the start (never briefly readable by others)."""
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-")
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _write_keyring(path: Path, ring: Keyring) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(ring.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def load_keyring(key_file: Path) -> Keyring:
    path = keyring_path(key_file)
    if not path.exists():
        raise SigningKeyError(
            f"密钥清单不存在 no keyring at {path}: create the key with `cloud-ingest keys init`"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Keyring(
            keys=tuple(PublicKeyInfo(**k) for k in data["keys"]), rotations=tuple(data.get("rotations", []))
        )
    except (ValueError, KeyError, TypeError) as err:
        raise SigningKeyError(
            f"密钥清单无法读取 keyring {path} is damaged ({err}); restore it from a backup"
        ) from err


def load_private(key_file: Path) -> Ed25519PrivateKey:
    """The signing key, refused when missing or readable by others (with the command that fixes it)."""
    if not key_file.exists():
        raise SigningKeyError(
            f"签名密钥不存在 no signing key at {key_file}: create one with `cloud-ingest "
            f"keys init` "
            "(or set signing.key_file in the cloud config)"
        )
    try:
        check_private(key_file, what="signing key")
    except SecretError as err:
        raise SigningKeyError(f"签名密钥权限不安全 {err}") from err
    try:
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except (ValueError, TypeError, OSError) as err:
        raise SigningKeyError(f"签名密钥无法读取 cannot read the signing key {key_file}: {err}") from err
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"签名密钥类型错误 {key_file} is not an Ed25519 key")
    return key


def init_key(key_file: Path) -> PublicKeyInfo:
    if key_file.exists() or keyring_path(key_file).exists():
        raise SigningKeyError(
            f"签名密钥已存在 a signing key already exists at {key_file}; "
            "use `cloud-ingest keys rotate` to replace it"
        )
    key = Ed25519PrivateKey.generate()
    info = PublicKeyInfo(
        key_id=v.key_id(key.public_key()),
        public_pem=public_pem(key.public_key()),
        valid_from=now_iso(),
        valid_until=None,
    )
    _write_private(key_file, key)
    _write_keyring(keyring_path(key_file), Keyring(keys=(info,), rotations=()))
    return info


def rotate_key(key_file: Path) -> tuple[PublicKeyInfo, PublicKeyInfo]:
    """(old, new): the old key signs the rotation statement, then the new key replaces it."""
    old_key = load_private(key_file)
    ring = load_keyring(key_file)
    old_id = v.key_id(old_key.public_key())
    current = ring.current()
    if current is None or current.key_id != old_id:
        raise SigningKeyError(
            f"密钥与清单不符 the key in {key_file} is not the current key of "
            f"{keyring_path(key_file)}; restore the matching pair from a backup"
        )
    new_key = Ed25519PrivateKey.generate()
    at = now_iso()
    new_id = v.key_id(new_key.public_key())
    text = (
        f"shopfloor-gateway evidence key rotation\nfrom {old_id}\nto {new_id}\n"
        f"new-key {base64.b64encode(v.raw_public(new_key.public_key())).decode()}\nat {at}\n"
    )
    statement = sign_note(text, name=v.ROTATION_KEY_NAME, key=old_key).decode()
    new = PublicKeyInfo(
        key_id=new_id, public_pem=public_pem(new_key.public_key()), valid_from=at, valid_until=None
    )
    retired = PublicKeyInfo(
        key_id=current.key_id, public_pem=current.public_pem, valid_from=current.valid_from, valid_until=at
    )
    keys = (*(retired if k.key_id == old_id else k for k in ring.keys), new)
    rotation = {"from_key_id": old_id, "to_key_id": new_id, "at": at, "statement": statement}
    _write_keyring(keyring_path(key_file), Keyring(keys=keys, rotations=(*ring.rotations, rotation)))
    _write_private(key_file, new_key)
    return retired, new


def load_signer(key_file: Path) -> tuple[Ed25519PrivateKey, Keyring]:
    """The private key and its keyring, checked to belong together."""
    key = load_private(key_file)
    ring = load_keyring(key_file)
    current = ring.current()
    if current is None or current.key_id != v.key_id(key.public_key()):
        raise SigningKeyError(
            f"密钥与清单不符 the key in {key_file} is not the current key of "
            f"{keyring_path(key_file)}; restore the matching pair from a backup"
        )
    return key, ring
