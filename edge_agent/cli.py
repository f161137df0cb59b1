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
import types
from functools import cache
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import click
import yaml
from pydantic import ValidationError

from collectors import CollectorError, DeviceUnreachable, make_collector
from collectors.plugin import CollectorPlugin, DiscoverRequest
from collectors.registry import discover_examples, discoverer_for, plugin
from common import event_loop
from common.cli import CommandFailed, ConfigInvalid, attach_examples
from common.config_files import ConfigError, describe_errors
from common.event_loop import EventLoopUnavailable
from device_profiles.protocols import PROTOCOLS
from edge_agent import mqtt
from edge_agent.agent import Agent
from edge_agent.birth import load_devices
from edge_agent.buffer import DiskBuffer
from edge_agent.config import load_gateway_config
from edge_agent.help_examples import EXAMPLES
from edge_agent.mqtt import MqttError
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
        event_loop.run(_main(), kind=cfg.event_loop)
    except EventLoopUnavailable as err:
        raise ConfigInvalid(str(err)) from err
    except (ConfigError, ValueError) as err:
        raise ConfigInvalid(str(err)) from err
    except MqttError as err:  # the broker settings cannot be used (e.g. its password is unset)
        raise ConfigInvalid(str(err)) from err


@main.command()
@config_option
def check(config_path: Path) -> None:
    """Validate the config, resolve profiles, connect to the broker once and read each device once.

    A device passes when it answers and at least one tag is not bad; one that cannot be
    reached (refused, silent, or a Modbus gateway answering for it with exception 10/11) or
    whose every tag is bad fails, and the command exits 1 naming the failed devices."""
    try:
        cfg = load_gateway_config(config_path)
        devices = load_devices(cfg, config_path)
    except ConfigError as err:
        raise ConfigInvalid(str(err)) from err
    click.echo(f"配置正确 / config ok: 网关 / gateway {cfg.gateway.id} of {cfg.gateway.enterprise.id}, "
               f"{len(devices)} 台设备 / devices")
    broker_error = mqtt.probe(cfg.broker, client_id=f"{cfg.broker.client_id or cfg.gateway.id}-check",
                              timeout_s=cfg.broker.connect_timeout_s)
    where = f"{cfg.broker.host}:{cfg.broker.port}"
    click.echo(f"  {'broker 代理':<28} " + (f"FAIL {broker_error}" if broker_error else f"ok  {where}"))

    async def probe() -> list[str]:
        failed: list[str] = []
        for dev, prof in devices:
            where = f"({dev.endpoint})"
            try:
                # options first, so a typo is named before anything connects
                plugin(prof.protocol).parse_options(dev)
                collector = make_collector(dev, prof)
            except (CollectorError, ValueError) as err:
                failed.append(dev.id)
                click.echo(f"  {dev.id:<28} FAIL 配置错误 / invalid config: {err}  {where}")
                continue
            try:
                async with collector as col:
                    samples = await col.read()
            except DeviceUnreachable as err:
                failed.append(dev.id)
                click.echo(f"  {dev.id:<28} FAIL 设备不可达 / unreachable: {err}  {where}; "
                           "检查设备电源、网线和地址 check its power, cable and endpoint")
                continue
            except (CollectorError, OSError, TimeoutError, ValueError) as err:
                failed.append(dev.id)
                click.echo(f"  {dev.id:<28} FAIL 读取失败 / read failed: {err}  {where}")
                continue
            good = sum(1 for s in samples if s.quality == Quality.GOOD)
            if samples and all(s.quality == Quality.BAD for s in samples):
                failed.append(dev.id)
                click.echo(f"  {dev.id:<28} FAIL 没有可读的标签 / no tag could be read: "
                           f"{good}/{len(samples)}  {where}")
            else:
                click.echo(f"  {dev.id:<28} ok   {good}/{len(samples)} 个标签正常 / tags good  {where}")
            for s in samples:
                if s.quality != Quality.GOOD:
                    click.echo(f"      {s.tag}: {s.quality.label}: {s.reason}")
        return failed

    failed = asyncio.run(probe())
    if failed:
        names = ", ".join(failed)
        raise CommandFailed(f"{len(devices)} 台设备中 {len(failed)} 台检查未通过（见上）: {names} / "
                            f"{len(failed)} of {len(devices)} devices failed the check (see above): {names}")
    if broker_error:
        raise CommandFailed(f"代理检查未通过（见上）the broker check failed (see above): {broker_error}")


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
    click.echo(f"{'device':<28}{'read':>10}{'published':>11}{'errors':>8}{'skipped':>9}  dropped")
    for dev, c in report["counters"]["devices"].items():
        click.echo(f"{dev:<28}{c['read']:>10}{c['published']:>11}{c['read_errors']:>8}"
                   f"{c['skipped_polls']:>9}  {c['dropped'] or '-'}")


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


class _DiscoverCommand(click.Command):
    """`discover`, plus each protocol's device options as flags (`_option_flags`). They are
    made when the command line is parsed or its help shown, not at import, so that starting
    `edge-agent run` loads no protocol package it does not use."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params: list[click.Parameter] = [*self.params, *_option_flags().values()]
        help_option = self.get_help_option(ctx)
        return [*params, help_option] if help_option is not None else params


def _flag_name(option: str) -> str:
    return "--" + option.replace("_", "-")


@cache
def _option_flags() -> dict[str, click.Option]:
    """One flag per device option a protocol's discoverer takes (`CollectorPlugin.
    discover_options`), typed and described by that protocol's options model, so the flags
    cannot drift from what a device's ``options:`` accepts."""
    flags: dict[str, click.Option] = {}
    for name, spec in PROTOCOLS.items():
        offered = plugin(name).discover_options
        if offered is None:
            continue
        for option in offered.names:
            if option in flags:  # two protocols with the same option: one flag serves both
                continue
            info = offered.model.model_fields[option]
            default = info.get_default()
            shown = f" (default {default})" if default is not None else ""
            flags[option] = click.Option(
                [_flag_name(option), option], type=_click_type(option, info.annotation), default=None,
                help=f"{spec.label}: {info.description or option.replace('_', ' ')}{shown}")
    return flags


def _click_type(option: str, annotation: Any) -> click.ParamType:
    """The click type of an options-model field: Literal choices, paths, text, numbers."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (Union, types.UnionType) and len(args) == 1:
        annotation = args[0]
    if get_origin(annotation) is Literal:
        return click.Choice([str(a) for a in get_args(annotation)])
    simple: dict[Any, click.ParamType] = {Path: click.Path(path_type=Path), str: click.STRING,
                                          float: click.FLOAT, int: click.INT}
    if annotation in simple:
        return simple[annotation]
    raise TypeError(f"discover option {option}: no command-line flag for type {annotation!r}")


def _discover_options(url: str, found: CollectorPlugin, flags: dict[str, Any]) -> dict[str, Any]:
    """The device options given as flags, checked against the URL's protocol and its model
    before anything connects (exit 2 naming the flag)."""
    given = {k: v for k, v in flags.items() if v is not None}
    offered = found.discover_options
    stray = [_flag_name(k) for k in given if offered is None or k not in offered.names]
    if stray:
        scheme = url.split("://", 1)[0].lower()
        raise ConfigInvalid(f"{', '.join(stray)}: 不适用于 / not an option for {scheme}:// "
                            f"(see edge-agent discover --help)")
    if offered is not None:
        try:
            offered.model.model_validate(given)
        except ValidationError as err:
            problems = []
            for line in describe_errors(err, noun="option"):
                option, _, why = line.partition(": ")
                problems.append(f"{_flag_name(option)}: {why}" if option in given else
                                line.removeprefix("(top level): "))
            raise ConfigInvalid(f"discover {url}: " + "; ".join(problems)) from None
    return given


@main.command(cls=_DiscoverCommand)
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
             count: int, table: str, **options: Any) -> None:
    """Probe modbus://host:port?unit=N or browse opc.tcp://host:port and write a profile skeleton.

    A secured OPC UA server takes the options a device has under options: in the gateway
    config (security policy and mode; a user name with the password from an environment
    variable or a file, or a user certificate), for example:

    \b
      edge-agent discover opc.tcp://10.0.0.5:4840 --security-policy Basic256Sha256 \\
        --security-mode SignAndEncrypt --auth username --username operator \\
        --password-env PLC_PASSWORD
    """
    found = discoverer_for(url)
    if found is None or found.discover is None:
        scheme = url.split("://", 1)[0].lower()
        raise ConfigInvalid(f"URL scheme {scheme!r}: use {' or '.join(discover_examples())}")
    request = DiscoverRequest(url=url, depth=depth, name_filter=name_filter, start=start, count=count,
                              table=table, options=_discover_options(url, found, options))
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


attach_examples(main, EXAMPLES)
