"""The event loop a process runs on (common/event_loop.py) and the agent's ``event_loop`` setting:
uvloop where it imports, asyncio's own loop where it does not, a clear error when uvloop is
asked for and missing."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from common import event_loop
from common.event_loop import EventLoop, EventLoopUnavailable, chosen, running
from edge_agent.config import GatewayConfig

BIN = Path(sys.executable).parent


async def _which() -> tuple[str, str]:
    await asyncio.sleep(0)
    return running(), type(asyncio.get_running_loop()).__module__


def _uvloop_installed() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def test_asyncio_is_asyncios_own_loop() -> None:
    kind, module = event_loop.run(_which(), kind="asyncio")
    assert kind == "asyncio" and module.startswith("asyncio"), module


@pytest.mark.skipif(not _uvloop_installed(), reason="uvloop has no wheel for this machine")
def test_auto_and_uvloop_run_on_uvloop_where_it_is_installed() -> None:
    kinds: tuple[EventLoop, ...] = ("auto", "uvloop")
    for kind in kinds:
        assert chosen(kind) == "uvloop"
        ran, module = event_loop.run(_which(), kind=kind)
        assert ran == "uvloop" and module.startswith("uvloop"), module


def test_without_uvloop_auto_falls_back_and_uvloop_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_loop, "_uvloop", lambda: None)
    assert chosen("auto") == "asyncio"
    assert event_loop.run(_which(), kind="auto")[0] == "asyncio"
    main = _which()
    with pytest.raises(EventLoopUnavailable, match=r"event_loop: uvloop .*cannot be imported.*auto"):
        event_loop.run(main, kind="uvloop")
    assert inspect.getcoroutinestate(main) == inspect.CORO_CLOSED  # no "never awaited" warning


def test_the_setting_is_checked_and_names_what_it_takes() -> None:
    base = {"gateway": {"id": "gw", "enterprise": {"id": "e"}},
            "devices": [{"id": "m1", "profile": "energy_meter_3ph", "endpoint": "tcp://h:502"}]}
    assert GatewayConfig.model_validate(base).event_loop == "auto"
    with pytest.raises(ValidationError, match="event_loop") as err:
        GatewayConfig.model_validate({**base, "event_loop": "tokio"})
    assert "'auto', 'asyncio' or 'uvloop'" in str(err.value)


def test_run_asking_for_uvloop_where_it_cannot_be_imported_is_exit_2(tmp_path: Path) -> None:
    # a uvloop that fails to import, ahead of the installed one: as on a machine without it
    fake = tmp_path / "site" / "uvloop"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('no uvloop on this machine')\n")
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(yaml.safe_dump({
        "gateway": {"id": "gw", "enterprise": {"id": "e"}}, "event_loop": "uvloop",
        "buffer": {"path": str(tmp_path / "buf.sqlite")},
        "devices": [{"id": "m1", "profile": "energy_meter_3ph", "endpoint": "tcp://127.0.0.1:1"}]}))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(fake.parent)}
    out = subprocess.run([str(BIN / "edge-agent"), "run", "--config", str(cfg)], capture_output=True,
                         text=True, timeout=120, env=env)
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.startswith("error: ") and "Traceback" not in out.stderr, out.stderr
    assert "event_loop: uvloop" in out.stderr and "event_loop: auto" in out.stderr, out.stderr
