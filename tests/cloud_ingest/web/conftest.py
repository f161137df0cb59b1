"""Browser tests run where Debian's chromium and Playwright are present; elsewhere they are
skipped with the reason, and the end of the run says so in one clear line. Under CI
(``CI=true``) a missing browser is a failure instead: CI installs it (scripts/services.sh), so a
green CI run never hides browser tests that did not run."""

from __future__ import annotations

import importlib.util
import os

import pytest

from tests.cloud_ingest.web.stack import chromium_path

_skipped: list[str] = []


def browser_missing() -> str | None:
    if chromium_path() is None:
        where = os.environ.get("SFG_CHROMIUM") or "/usr/bin/chromium"
        return (f"no usable chromium at {where}: "
                "run `bash scripts/services.sh` or `apt-get install -y chromium`")
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is missing: .venv/bin/pip install -e '.[test]'"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    browser_items = [i for i in items if i.get_closest_marker("browser")]
    if not browser_items:
        return
    why = browser_missing()
    if why is None:
        return
    if os.environ.get("CI") == "true":
        return  # they run, and the browser fixture fails them saying what is missing
    for item in browser_items:
        item.add_marker(pytest.mark.skip(reason=f"browser test skipped: {why}"))
        _skipped.append(item.nodeid)
    _skipped.insert(0, why)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _skipped:
        why, tests = _skipped[0], _skipped[1:]
        terminalreporter.write_sep("=", "browser tests skipped", yellow=True, bold=True)
        terminalreporter.write_line(f"{len(tests)} browser tests did NOT run: {why}")
