"""DSSE and signed notes against their specifications' own test vectors, and round trips."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cloud_ingest.attest import envelope, note
from cloud_ingest.attest import verify_package as v


def test_pae_matches_the_dsse_vector_and_its_signature_verifies() -> None:
    """protocol.md's vector is ECDSA P-256; its signature over our PAE bytes proves the PAE."""
    body, ptype = b"hello world", "http://example.com/HelloWorld"
    assert v.pae(ptype, body) == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    x = 46950820868899156662930047687818585632848591499744589407958293238635476079160
    y = 5640078356564379163099075877009565129882514886557779369047442380624545832820
    pub = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    raw = base64.b64decode(
        "A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA=="
    )
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    pub.verify(der, v.pae(ptype, body), ec.ECDSA(hashes.SHA256()))


def test_pae_counts_bytes_not_characters() -> None:
    assert v.pae("类型", "数据".encode()) == "DSSEv1 6 类型 6 数据".encode()


def test_envelope_round_trip_and_tampering() -> None:
    key = Ed25519PrivateKey.generate()
    payload = json.dumps({"a": 1}).encode()
    env = envelope.sign_envelope(payload, key=key)
    assert v.verify_envelope(env, key.public_key()) == payload
    doc = json.loads(env)
    doc["payload"] = base64.urlsafe_b64encode(payload).decode()  # verifiers accept either alphabet
    assert v.verify_envelope(json.dumps(doc).encode(), key.public_key()) == payload
    doc["payload"] = base64.b64encode(payload.replace(b"1", b"2")).decode()
    with pytest.raises(v.VerificationError, match="no signature verifies"):
        v.verify_envelope(json.dumps(doc).encode(), key.public_key())
    with pytest.raises(v.VerificationError, match="no signature verifies"):
        v.verify_envelope(env, Ed25519PrivateKey.generate().public_key())
    with pytest.raises(v.VerificationError, match="not a DSSE envelope"):
        v.verify_envelope(b"{}", key.public_key())


def test_signed_note_vector_from_the_spec() -> None:
    """signed-note.md's example: vkey example.com/foo+530d903a+… verifies its note."""
    vkey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
    text = (
        "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONnc"
        "AlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
    )
    pub = v.load_public_key(vkey.encode())
    assert v.vkey("example.com/foo", v.raw_public(pub)) == vkey
    assert v.verify_note(text.encode(), "example.com/foo", pub) == "This is an example message.\n"
    with pytest.raises(v.VerificationError, match="does not verify"):
        v.verify_note(text.replace("example message", "exemple message").encode(), "example.com/foo", pub)


def test_checkpoint_round_trip_and_unknown_signers_are_ignored() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    cp = note.checkpoint(origin="sfg.example/evidence/ent1", size=3, root=b"\x07" * 32, key=key)
    cosigned = cp + note.sign_note("x\n", name="witness.example", key=other).split(b"\n\n")[1]
    for data in (cp, cosigned):
        body = v.verify_note(data, "sfg.example/evidence/ent1", key.public_key())
        assert v.parse_checkpoint(body) == ("sfg.example/evidence/ent1", 3, b"\x07" * 32)
    with pytest.raises(v.VerificationError, match="no signature by"):
        v.verify_note(cp, "sfg.example/evidence/ent1", other.public_key())
    assert isinstance(
        v.load_public_key(v.vkey("n", v.raw_public(key.public_key())).encode()), Ed25519PublicKey
    )


def test_a_verifier_key_whose_base64_holds_a_plus_is_read() -> None:
    """Base64 keys often hold "+": the key is what follows the second "+", not the last."""
    for seed in range(256):
        key = Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
        line = v.vkey("sfg.example/evidence/ent1", v.raw_public(key.public_key()))
        if line.count("+") > 2:
            break
    else:
        raise AssertionError("no key with a '+' in its base64 among 256 seeds")
    assert v.raw_public(v.load_public_key(line.encode())) == v.raw_public(key.public_key())
    _, key_hash, rest = line.split("+", 2)
    with pytest.raises(v.VerificationError, match="hash does not match"):
        v.load_public_key(f"other.example+{key_hash}+{rest}".encode())
