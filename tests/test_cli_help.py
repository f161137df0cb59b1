"""Every command of the three command lines shows examples in its ``--help``, and the examples
name only commands and options that exist (so they cannot drift from the code)."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from cloud_ingest.cli import main as cloud_ingest
from edge_agent.cli import main as edge_agent
from simulators.cli import main as device_sim

ROOTS = {"edge-agent": edge_agent, "cloud-ingest": cloud_ingest, "device-sim": device_sim}


def _walk(cmd: click.Command, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, cmd
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd)
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            assert sub is not None, name
            yield from _walk(sub, (*path, name))


COMMANDS = [(path, cmd) for name, root in ROOTS.items() for path, cmd in _walk(root, (name,))]


def test_every_command_line_is_walked() -> None:
    names = {" ".join(p) for p, _ in COMMANDS}
    assert {"edge-agent discover", "cloud-ingest evidence build", "device-sim modbus"} <= names
    assert len(names) > 30


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_help_has_examples_that_exist(path: tuple[str, ...], cmd: click.Command) -> None:
    root = ROOTS[path[0]]
    result = CliRunner().invoke(root, [*path[1:], "--help"])
    assert result.exit_code == 0, result.output
    assert "示例 Examples:" in result.output, f"{' '.join(path)} --help shows no example"
    examples = result.output.split("示例 Examples:", 1)[1].strip().splitlines()
    assert examples
    for line in examples:
        words = shlex.split(line.split("  #", 1)[0])
        assert words[0] in ROOTS, line
        # the command path the example runs, then its options: each must be the command's own
        target: click.Command = ROOTS[words[0]]
        rest = words[1:]
        while isinstance(target, click.Group) and rest and not rest[0].startswith("-"):
            sub = target.get_command(click.Context(target), rest[0])
            assert sub is not None, f"{line}: no command {rest[0]!r}"
            target, rest = sub, rest[1:]
        known = {opt for p in target.params for opt in (*p.opts, *p.secondary_opts)}
        for word in rest:
            if word.startswith("-") and len(word) > 1:
                assert word.split("=", 1)[0] in known, f"{line}: {target.name} has no option {word}"
