"""Evidence packages over the API: the signing keys (public), each enterprise's packages, and
one package as a zip. Roles as everywhere: admin and reviewer read all, an enterprise token its
own enterprise only (another's answers 404, as if it did not exist)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel

from cloud_ingest.api.auth import User, check_enterprise
from cloud_ingest.api.db import Db
from cloud_ingest.attest import keys as k
from cloud_ingest.attest import store

router = APIRouter(tags=["evidence packages"])


class KeyOut(BaseModel):
    key_id: str
    fingerprint: str
    public_key_pem: str
    valid_from: str
    valid_until: str | None


class KeysOut(BaseModel):
    keys: list[KeyOut]
    rotations: list[dict[str, str]]


class PackageOut(BaseModel):
    sequence: int
    window_start: datetime
    window_end: datetime
    created_at: datetime
    envelope_sha256: str
    previous_envelope_sha256: str | None
    key_id: str
    archive_bytes: int


@router.get("/evidence/keys", response_model=KeysOut)
def signing_keys(request: Request, _user: User) -> dict[str, Any]:
    """Every public key packages were signed with, with its validity and the signed rotations."""
    key_file: Path = request.app.state.signing_key_file
    try:
        ring = k.load_keyring(key_file)
    except k.SigningKeyError as err:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "no signing key yet: run `cloud-ingest keys init`"
        ) from err
    return {
        "keys": [
            {
                "key_id": i.key_id,
                "fingerprint": k.fingerprint(i.key_id),
                "public_key_pem": i.public_pem,
                "valid_from": i.valid_from,
                "valid_until": i.valid_until,
            }
            for i in ring.keys
        ],
        "rotations": list(ring.rotations),
    }


def _enterprise(db: Db, user: User, code: str) -> store.Enterprise:
    check_enterprise(user, code)
    ent = store.enterprise(db, code)
    if ent is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"enterprise {code!r} not found")
    return ent


@router.get("/enterprises/{enterprise}/evidence/packages", response_model=list[PackageOut])
def list_packages(enterprise: str, db: Db, user: User) -> list[dict[str, Any]]:
    return store.packages(db, _enterprise(db, user, enterprise))


@router.get(
    "/enterprises/{enterprise}/evidence/packages/{sequence}",
    responses={200: {"content": {"application/zip": {}}}},
)
def download_package(enterprise: str, sequence: int, db: Db, user: User) -> Response:
    ent = _enterprise(db, user, enterprise)
    data = store.archive(db, ent, sequence)
    if data is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"enterprise {enterprise!r} has no package {sequence}")
    name = f"{ent.code}-{sequence:04d}.zip"
    return Response(
        data, media_type="application/zip", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
