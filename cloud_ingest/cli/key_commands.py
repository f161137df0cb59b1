"""``cloud-ingest keys init|show|rotate``: the evidence signing key (cloud_ingest/attest/keys.py)."""

from __future__ import annotations

from pathlib import Path

import click

from cloud_ingest.attest import keys as k
from cloud_ingest.cli.options import config_option, load
from common.cli import CommandFailed

key_file_option = click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="private key file; wins over SFG_EVIDENCE_KEY_FILE and signing.key_file",
)


def _key_file(config_path: Path | None, key_file: Path | None) -> Path:
    return key_file or load(config_path, None).signing.key_path()


def _show(info: k.PublicKeyInfo) -> None:
    until = info.valid_until or "现用 current"
    click.echo(f"  指纹 fingerprint: {k.fingerprint(info.key_id)}")
    click.echo(f"  有效期 valid: {info.valid_from} → {until}")


@click.command("init")
@config_option
@key_file_option
def init_cmd(config_path: Path | None, key_file: Path | None) -> None:
    """创建签名密钥 Create the Ed25519 signing key (file mode 0600) and its public keyring."""
    path = _key_file(config_path, key_file)
    try:
        info = k.init_key(path)
    except k.SigningKeyError as err:
        raise CommandFailed(str(err)) from err
    click.echo(f"已创建签名密钥 signing key created: {path} (0600); 公钥清单 keyring: {k.keyring_path(path)}")
    _show(info)
    click.echo("请备份私钥文件并妥善保管 back the private key up and keep it safe")


@click.command("show")
@config_option
@key_file_option
def show_cmd(config_path: Path | None, key_file: Path | None) -> None:
    """显示公钥 Show the public keys, fingerprints and validity (the private key is checked, not shown)."""
    path = _key_file(config_path, key_file)
    try:
        k.load_signer(path)
        ring = k.load_keyring(path)
    except k.SigningKeyError as err:
        raise CommandFailed(str(err)) from err
    for info in ring.keys:
        click.echo(f"密钥 key {info.key_id}")
        _show(info)
        click.echo(info.public_pem.rstrip())
    if ring.rotations:
        click.echo(f"轮换记录 rotations: {len(ring.rotations)}")
        for r in ring.rotations:
            click.echo(f"  {r['at']}: {r['from_key_id'][:16]}… → {r['to_key_id'][:16]}…")
    click.echo(
        "每个企业日志的签名笔记验证密钥见证据包 keys/fingerprint.txt "
        "the signed-note verifier key of each enterprise's log is in its packages' "
        "keys/fingerprint.txt"
    )


@click.command("rotate")
@config_option
@key_file_option
def rotate_cmd(config_path: Path | None, key_file: Path | None) -> None:
    """轮换签名密钥 Replace the signing key; the old public key stays listed so old packages still verify."""
    path = _key_file(config_path, key_file)
    try:
        old, new = k.rotate_key(path)
    except k.SigningKeyError as err:
        raise CommandFailed(str(err)) from err
    click.echo(f"已轮换 rotated: 旧密钥 old {old.key_id[:16]}… 有效至 valid until {old.valid_until}")
    click.echo(f"新密钥 new key {new.key_id}")
    _show(new)
    click.echo(
        "下一个证据包会带上由旧密钥签名的轮换声明 the next package carries the rotation signed by the old key"
    )


COMMANDS = (init_cmd, show_cmd, rotate_cmd)
