"""``python -m demo``: the sample pilot city (what `make demo` runs); ``python -m demo stop``
ends what a previous run left up (what `make demo-stop` runs)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from rich.console import Console

from common.cli import CommandFailed
from demo import services
from demo.run import run, stop_previous

ROOT = Path.cwd()


@click.group(invoke_without_command=True)
@click.option("--duration", type=float, default=None,
              help="run length in seconds (default: DEMO_SECONDS, else 180)")
@click.option("--exit", "exit_at_end", is_flag=True,
              help="stop the cloud and the services at the end instead of leaving them up")
@click.pass_context
def main(ctx: click.Context, duration: float | None, exit_at_end: bool) -> None:
    """示范城市 The sample pilot city: six enterprises, their gateways and the cloud, with faults.

    \b
    Example:
      python -m demo --duration 60 --exit
      DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres MQTT_URL=mqtt://127.0.0.1:1883 python -m demo
    """
    if ctx.invoked_subcommand is not None:
        return
    seconds = duration if duration is not None else float(os.environ.get("DEMO_SECONDS", "180"))
    try:
        code = run(root=ROOT, duration_s=seconds, database_url=os.environ.get("DATABASE_URL") or None,
                   mqtt_url=os.environ.get("MQTT_URL") or None, exit_at_end=exit_at_end,
                   # a log or a pipe gets the summary table at full width, not rich's 80 columns
                   console=Console() if sys.stdout.isatty() else Console(width=160))
    except services.ServiceError as err:
        raise CommandFailed(str(err)) from err
    ctx.exit(code)


@main.command("stop")
def stop() -> None:
    """停止 End the cloud and the services a previous demo left running."""
    stop_previous(ROOT / "var" / "demo")
    click.echo("demo: 已停止 stopped (no demo process or port left)")


if __name__ == "__main__":
    main()
