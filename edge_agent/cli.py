"""`edge-agent`: run, check, status and discover, for the technician at the gateway."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
import yaml

from collectors import CollectorError, make_collector
from common.config_files import ConfigError
from device_profiles.device import DeviceConfig
from edge_agent.agent import Agent
from edge_agent.birth import load_devices
from edge_agent.buffer import DiskBuffer
from edge_agent.config import load_gateway_config
from wire.sample import Quality, now_ms

config_option = click.option(
    "--config", "config_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
    help="gateway YAML (see examples/gateway.yaml)",
)


def _fail(err: Exception, code: int = 2) -> NoReturn:
    click.echo(f"error: {err}", err=True)
    sys.exit(code)


@click.group()
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
def main(log_level: str) -> None:
    """Edge agent: read devices, buffer to disk, publish to MQTT, lose nothing."""
    logging.basicConfig(level=log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("pymodbus", "asyncua"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@main.command()
@config_option
def run(config_path: Path) -> None:
    """Poll every device and publish until SIGTERM/SIGINT."""
    try:
        cfg = load_gateway_config(config_path)
    except ConfigError as err:
        _fail(err)

    async def _main() -> None:
        agent = Agent(cfg, config_path)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, agent.stop.set)
        await agent.run()

    try:
        asyncio.run(_main())
    except (ConfigError, ValueError) as err:
        _fail(err)


@main.command()
@config_option
def check(config_path: Path) -> None:
    """Validate the config, resolve profiles and read each device once."""
    try:
        cfg = load_gateway_config(config_path)
        devices = load_devices(cfg, config_path)
    except ConfigError as err:
        _fail(err)
    click.echo(f"config ok: gateway {cfg.gateway.id} of {cfg.gateway.enterprise.id}, "
               f"{len(devices)} devices")

    async def probe() -> int:
        failures = 0
        for dev, prof in devices:
            try:
                _check_options(dev, prof.protocol)
                async with make_collector(dev, prof) as col:
                    samples = await col.read()
                good = sum(1 for s in samples if s.quality == Quality.GOOD)
                click.echo(f"  {dev.id:<28} ok   {good}/{len(samples)} tags good  ({dev.endpoint})")
                for s in samples:
                    if s.quality != Quality.GOOD:
                        click.echo(f"      {s.tag}: {s.quality.label}: {s.reason}")
            except (CollectorError, OSError, TimeoutError, ValueError) as err:
                failures += 1
                click.echo(f"  {dev.id:<28} FAIL {err}  ({dev.endpoint})")
        return failures

    failures = asyncio.run(probe())
    sys.exit(1 if failures else 0)


def _check_options(dev: DeviceConfig, protocol: str) -> None:
    """A device's protocol options, validated before anything connects (errors name the field)."""
    module = importlib.import_module(f"collectors.{protocol}.config")
    module.parse_options(dev)


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def status(config_path: Path, as_json: bool) -> None:
    """Buffer depth, oldest unsent data and cumulative counters, read from the buffer file."""
    try:
        cfg = load_gateway_config(config_path)
    except ConfigError as err:
        _fail(err)
    path = Path(cfg.buffer.path)
    if not path.exists():
        _fail(FileNotFoundError(f"no buffer at {path}: has `edge-agent run` started here?"), 1)
    buf = DiskBuffer(path, max_bytes=cfg.buffer.max_bytes, full_policy=cfg.buffer.full_policy)
    try:
        pending, batches = buf.depth()
        oldest = buf.oldest_ms()
        report: dict[str, Any] = {
            "gateway": cfg.gateway.id,
            "buffer": str(path),
            "buffer_bytes": buf.used_bytes(),
            "pending_samples": pending,
            "unsent_batches": batches,
            "backlog_samples": buf.backlog_samples(),
            "oldest_unsent_age_s": None if oldest is None else round((now_ms() - oldest) / 1000, 1),
            "next_seq": buf.next_seq,
            "counters": buf.counters().model_dump(),
        }
    finally:
        buf.close()
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    for key, value in report.items():
        if key != "counters":
            click.echo(f"{key:<22} {value}")
    click.echo(f"{'device':<28}{'read':>10}{'published':>11}{'errors':>8}  dropped")
    for dev, c in report["counters"]["devices"].items():
        click.echo(f"{dev:<28}{c['read']:>10}{c['published']:>11}{c['read_errors']:>8}  "
                   f"{c['dropped'] or '-'}")


@main.command("trust-cert")
@click.argument("cert", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--pki-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="the gateway's OPC UA trust store (default: the one the certificate was "
                   "rejected into, else var/pki)")
def trust_cert(cert: Path, pki_dir: Path | None) -> None:
    """Trust an OPC UA server certificate (as named in an 'is not trusted' error)."""
    from collectors.opcua import trust_certificate

    if pki_dir is None:
        pki_dir = cert.parent.parent if cert.parent.name == "rejected" else Path("var/pki")
    try:
        target = trust_certificate(pki_dir, cert)
    except ValueError as err:
        _fail(err)
    click.echo(f"trusted: {target} (the next reconnect uses it; no restart needed)")


_DISCOVERERS = {"modbus": "collectors.modbus.discover", "opc.tcp": "collectors.opcua.discover"}


@main.command()
@click.argument("url")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="write the profile skeleton here (default: print it)")
@click.option("--depth", type=int, default=3, show_default=True, help="OPC UA: browse depth")
@click.option("--filter", "name_filter", default=None, help="OPC UA: only names containing this")
@click.option("--start", type=int, default=0, show_default=True, help="Modbus: first address")
@click.option("--count", type=int, default=100, show_default=True, help="Modbus: addresses to probe")
@click.option("--table", default="holding", show_default=True,
              type=click.Choice(["holding", "input", "coil", "discrete_input"]), help="Modbus table")
def discover(url: str, out: Path | None, depth: int, name_filter: str | None, start: int,
             count: int, table: str) -> None:
    """Probe modbus://host:port?unit=N or browse opc.tcp://host:port and write a profile skeleton."""
    scheme = url.split("://", 1)[0].lower()
    if scheme not in _DISCOVERERS:
        _fail(click.BadParameter(f"URL scheme {scheme!r}: use modbus://host:port?unit=N or opc.tcp://…"))
    try:
        module = importlib.import_module(_DISCOVERERS[scheme])
    except ImportError:
        _fail(RuntimeError(f"discovery for {scheme} is not available in this build"), 1)
    kwargs: dict[str, Any] = (
        {"start": start, "count": count, "table": table} if scheme == "modbus"
        else {"depth": depth, "filter": name_filter}
    )
    try:
        skeleton = asyncio.run(module.discover(url, **kwargs))
    except (CollectorError, OSError, TimeoutError) as err:
        _fail(err, 1)
    header = (f"# Profile skeleton discovered from {url} on "
              f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC.\n"
              "# Rename the tags, add units and descriptions, delete what you do not need.\n")
    text = header + yaml.safe_dump(skeleton, sort_keys=False, allow_unicode=True)
    if out is None:
        click.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out} ({len(skeleton.get('tags', []))} tags)")
