"""`edge-agent`: run, check, status and discover, for the technician at the gateway.

Protocols come from the registry (`collectors.registry`): ``check`` validates each device's
options with its protocol's parser, ``discover`` picks the protocol by the URL's scheme.
Exit codes follow `common.cli`: 1 when what the command needed or checked failed (a device,
the buffer), 2 for bad usage or an invalid configuration; messages start with ``error:``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import signal
from pathlib import Path
from typing import Any

import click
import yaml

from collectors import CollectorError, make_collector
from collectors.plugin import DiscoverRequest
from collectors.registry import discover_examples, discoverer_for, plugin
from common.cli import CommandFailed, ConfigInvalid
from common.config_files import ConfigError
from edge_agent.agent import Agent
from edge_agent.birth import load_devices
from edge_agent.buffer import DiskBuffer
from edge_agent.config import load_gateway_config
from wire.sample import Quality, now_ms

config_option = click.option(
    "--config", "config_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
    help="gateway YAML (see examples/gateway.yaml)",
)


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
        raise ConfigInvalid(str(err)) from err

    async def _main() -> None:
        agent = Agent(cfg, config_path)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, agent.stop.set)
        await agent.run()

    try:
        asyncio.run(_main())
    except (ConfigError, ValueError) as err:
        raise ConfigInvalid(str(err)) from err


@main.command()
@config_option
def check(config_path: Path) -> None:
    """Validate the config, resolve profiles and read each device once."""
    try:
        cfg = load_gateway_config(config_path)
        devices = load_devices(cfg, config_path)
    except ConfigError as err:
        raise ConfigInvalid(str(err)) from err
    click.echo(f"config ok: gateway {cfg.gateway.id} of {cfg.gateway.enterprise.id}, "
               f"{len(devices)} devices")

    async def probe() -> int:
        failures = 0
        for dev, prof in devices:
            try:
                # options first, so a typo is named before anything connects
                plugin(prof.protocol).parse_options(dev)
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
    if failures:
        raise CommandFailed(f"{len(devices)} 台设备中 {failures} 台检查未通过（见上） / "
                            f"{failures} of {len(devices)} devices failed the check (see above)")


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def status(config_path: Path, as_json: bool) -> None:
    """Buffer depth, oldest unsent data and cumulative counters, read from the buffer file."""
    try:
        cfg = load_gateway_config(config_path)
    except ConfigError as err:
        raise ConfigInvalid(str(err)) from err
    path = Path(cfg.buffer.path)
    if not path.exists():
        raise CommandFailed(f"no buffer at {path}: has `edge-agent run` started here?")
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
    from collectors.opcua.pki import trust_certificate  # OPC UA's own trust store, not asyncua

    if pki_dir is None:
        pki_dir = cert.parent.parent if cert.parent.name == "rejected" else Path("var/pki")
    try:
        target = trust_certificate(pki_dir, cert)
    except ValueError as err:
        raise ConfigInvalid(str(err)) from err
    click.echo(f"trusted: {target} (the next reconnect uses it; no restart needed)")


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
    found = discoverer_for(url)
    if found is None or found.discover is None:
        scheme = url.split("://", 1)[0].lower()
        raise ConfigInvalid(f"URL scheme {scheme!r}: use {' or '.join(discover_examples())}")
    request = DiscoverRequest(url=url, depth=depth, name_filter=name_filter, start=start, count=count,
                              table=table)
    try:
        skeleton = asyncio.run(found.discover(request))
    except ImportError as err:
        raise CommandFailed(f"discovery for {url} is not available in this build: {err}") from err
    except (CollectorError, OSError, TimeoutError) as err:
        raise CommandFailed(str(err)) from err
    header = (f"# Profile skeleton discovered from {url} on "
              f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC.\n"
              "# Rename the tags, add units and descriptions, delete what you do not need.\n")
    text = header + yaml.safe_dump(skeleton, sort_keys=False, allow_unicode=True)
    if out is None:
        click.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out} ({len(skeleton.get('tags', []))} tags)")
