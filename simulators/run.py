"""Run simulators in the foreground until interrupted, with the product's exit codes
(`common.cli`): 2 for a profile or argument that cannot be served, 1 when a simulator cannot
run (its port is taken, its serial device is missing). Used by ``device-sim`` and by each
protocol's own subcommand alike."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from common.cli import CommandFailed, ConfigInvalid
from common.config_files import ConfigError


def run_until_interrupted(main: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run(main)`` until Ctrl-C / SIGINT ends it."""
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main)
    except (ConfigError, ValueError) as err:
        raise ConfigInvalid(str(err)) from err
    except OSError as err:
        raise CommandFailed(str(err)) from err
