"""Every tamper case of issue 12 item 4 against real packages (real signatures, real report):
one byte of each file changed in turn, a file added, a file deleted, a package replaced by a
re-signed one with the same sequence, the middle package of three deleted, the log truncated —
each caught with a message naming the file and the check; untouched packages verify."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from cloud_ingest.attest import keys
from cloud_ingest.attest import verify_package as v
from cloud_ingest.attest.package import LogState
from tests.cloud_ingest.attest.chain import Chain, write
from tests.cloud_ingest.attest.figures_fixture import make_figures


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Chain:
    key_file = tmp_path_factory.mktemp("key") / "signing.key"
    keys.init_key(key_file)
    c = Chain(key_file=key_file)
    for _ in range(3):
        c.add()
    return c


def _flip(data: bytes, at: int | None = None) -> bytes:
    i = len(data) // 2 if at is None else at
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]


def _verify(files: dict[str, bytes], **kw: object) -> v.Result:
    return v.verify_package(files, **kw)  # type: ignore[arg-type]


def test_untouched_packages_verify_alone_with_previous_and_with_kept_checkpoints(chain: Chain) -> None:
    b1, b2, b3 = chain.built
    for b in chain.built:
        assert _verify(b.files).failed == []
    r = _verify(b3.files, previous=b2.files, kept_checkpoint=b1.checkpoint)
    assert r.failed == []
    assert any("--previous" in p for p in r.passed) and any("--checkpoint" in p for p in r.passed)
    assert any("the key inside the package" in n for n in r.notes)


def test_one_byte_changed_in_any_file_is_caught_and_named(chain: Chain) -> None:
    files = chain.built[2].files
    for name in sorted(files):
        for at in (None, 0, len(files[name]) - 2):
            r = _verify({**files, name: _flip(files[name], at)})
            assert r.failed, f"{name}: a changed byte at {at} went unnoticed"
            named = name if name != "keys/signing-key.pub" else "keys/"
            assert any(f.startswith(named) or f.startswith(v.ENVELOPE) for f in r.failed), (name, r.failed)


def test_the_exact_messages(chain: Chain) -> None:
    files = chain.built[2].files
    r = _verify({**files, "data/gaps.csv": files["data/gaps.csv"] + b"x"})
    assert "data/gaps.csv: sha256 differs from the signed digest" in r.failed
    r = _verify({**files, "data/extra.csv": b"device\n"})
    assert r.failed == ["data/extra.csv: file is not listed in the signed statement"]
    r = _verify({k: b for k, b in files.items() if k != "report/report.pdf"})
    assert "report/report.pdf: listed in the signed statement but missing from the package" in r.failed
    r = _verify({**files, v.ENVELOPE: files[v.ENVELOPE].replace(b'"sig": "', b'"sig": "AAAA')})
    assert any(f.startswith("evidence.dsse.json: ") for f in r.failed)
    r = _verify({**files, "log/checkpoint.txt": files["log/checkpoint.txt"].replace(b"\n3\n", b"\n4\n")})
    assert "log/checkpoint.txt: signature by sfg.test/evidence/ent-demo does not verify" in r.failed


def test_an_edited_figure_is_caught_by_signature_and_by_recomputation(chain: Chain) -> None:
    """A figure changed in figures.json and re-listed (as a careless forger would) still fails to
    recompute from the CSVs, besides the signature."""
    files = chain.built[2].files
    claimed = json.loads(files["data/figures.json"])
    rate = claimed["networking_rate"]
    claimed["networking_rate"] = 0.95
    claimed["devices"][0]["completeness"] = 0.5
    figures = v.canonical_json(claimed)
    bad = v.recompute_figures({**files, "data/figures.json": figures}, claimed)
    assert any(f"networking_rate is 0.95, data/inventory.csv recompute(s) to {rate}" in b for b in bad), bad
    assert any(f"devices[{claimed['devices'][0]['device']}].completeness is 0.5" in b for b in bad), bad
    assert all("指标与 CSV 不符" in b for b in bad)
    r = _verify({**files, "data/figures.json": figures})
    assert "data/figures.json: sha256 differs from the signed digest" in r.failed


def test_a_package_replaced_by_a_resigned_one_with_the_same_sequence(chain: Chain) -> None:
    b1, b2, b3 = chain.built
    forged = chain.add(
        figures=make_figures(devices=6, tags=3, seed=99),
        log=LogState(entries=(b1.entry,), checkpoint=b1.checkpoint),
    )
    assert forged.sequence == 2 and forged.files[v.ENVELOPE] != b2.files[v.ENVELOPE]
    assert _verify(forged.files).failed == []  # alone it looks fine: that is why checkpoints are kept
    r = _verify(forged.files, kept_checkpoint=b2.checkpoint)
    assert r.failed == ["--checkpoint: two different roots for the same size 2: the log was rewritten"]
    r = _verify(forged.files, kept_checkpoint=b3.checkpoint)
    assert r.failed == ["--checkpoint: the log shrank: the earlier checkpoint has size 3, this one 2"]
    r = _verify(b3.files, previous=forged.files)
    assert any(
        "--previous: the previous envelope's digest is not the one this package names" in f for f in r.failed
    )


def test_a_resigned_package_appended_with_a_taken_sequence_is_caught_by_its_position(chain: Chain) -> None:
    b3 = chain.built[2]
    full = LogState(entries=tuple(b.entry for b in chain.built), checkpoint=b3.checkpoint)
    again = chain.add(log=full)
    assert again.sequence == 4
    # a forger who rewrites the sequence inside the log files cannot keep them consistent
    files = {
        **again.files,
        "log/inclusion-proof.json": again.files["log/inclusion-proof.json"].replace(
            b'"leaf_index": 3', b'"leaf_index": 1'
        ),
    }
    r = _verify(files)
    assert any(
        f.startswith("log/inclusion-proof.json: the log holds this package at position 2") for f in r.failed
    )


def test_the_middle_package_of_three_deleted(chain: Chain) -> None:
    b1, _b2, b3 = chain.built
    r = _verify(b3.files, previous=b1.files)
    assert "--previous: previous package has sequence 1, this one 3: package 2 is missing" in r.failed
    # the chain inside package 3 still lists package 2, so its digest is known
    assert hashlib.sha256(_b2.files[v.ENVELOPE]).hexdigest().encode() in b3.files["log/chain.json"]


def test_a_truncated_log(chain: Chain) -> None:
    _b1, b2, b3 = chain.built
    restarted = chain.add(log=LogState())  # the log emptied and started again
    assert restarted.sequence == 1
    r = _verify(restarted.files, kept_checkpoint=b3.checkpoint)
    assert r.failed == ["--checkpoint: the log shrank: the earlier checkpoint has size 3, this one 1"]
    r = _verify(restarted.files, previous=b2.files)
    assert any(f.startswith("--previous: previous package has sequence 2, this one 1") for f in r.failed)
    cut = b3.files["log/chain.json"][: len(b3.files["log/chain.json"]) // 2]
    r = _verify({**b3.files, "log/chain.json": cut})
    assert any(f.startswith("log/chain.json: not valid JSON") for f in r.failed)


def test_key_rotation_keeps_the_chain_verifiable(tmp_path: Path) -> None:
    key_file = tmp_path / "signing.key"
    keys.init_key(key_file)
    c = Chain(key_file=key_file)
    first = c.add()
    old_pem = first.files["keys/signing-key.pub"]
    keys.rotate_key(key_file)
    second = c.add()
    assert second.files["keys/signing-key.pub"] != old_pem
    assert _verify(second.files, previous=first.files).failed == []
    r = _verify(second.files, key=v.load_public_key(old_pem))
    assert r.failed == [] and any("accepted only with a rotation signed by yours" in n for n in r.notes)
    assert _verify(first.files, key=v.load_public_key(old_pem)).failed == []  # old packages still verify
    # a key swapped in without a rotation signed by the previous key is refused
    other = tmp_path / "other.key"
    keys.init_key(other)
    c.key_file = other
    third = c.add()
    r = _verify(third.files, previous=second.files)
    assert any("the trusted key names the new one: an unknown key" in f for f in r.failed)
    r = _verify(third.files, key=v.load_public_key(second.files["keys/signing-key.pub"]))
    assert r.failed


def test_a_folder_that_is_not_a_package(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write({"notes.txt": b"hello"}, tmp_path / "nopkg")
    assert v.main([str(tmp_path / "nopkg")]) == 2
    assert "not an evidence package: evidence.dsse.json is missing" in capsys.readouterr().out
    assert v.main([str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().out


def test_main_prints_each_failure_and_exits_1(
    chain: Chain, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write(chain.built[2].files, tmp_path / "p3")
    assert v.main([str(folder)]) == 0
    assert "校验通过 VERIFIED" in capsys.readouterr().out
    (folder / "data" / "gaps.csv").write_bytes(_flip((folder / "data" / "gaps.csv").read_bytes()))
    assert v.main([str(folder)]) == 1
    out = capsys.readouterr().out
    assert "[失败 FAIL] data/gaps.csv: 文件内容与签名记录的摘要不符，文件被改动过 — sha256 differs" in out
    assert "校验未通过 NOT VERIFIED" in out
