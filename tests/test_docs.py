"""The user docs stay true: every shell command the three install/review pages show is run, or
checked by a named equivalent, or allowed with a reason (tests/docs_check/rules.py), and every
config file they show is validated by what reads it (tests/docs_check/files.py).

The pages run in order in one sandbox, as on a real rollout: the cloud first
(docs/install-cloud.md: database, units, keys, tokens, packages), then a gateway publishing to
it (docs/install-gateway.md, against simulators of the devices the page names), then the
reviewer verifying the packages the cloud built (docs/reviewer-guide.md). How paths, addresses
and ports are mapped is said at the end of each page and done by `Sandbox.map`.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import click
import psycopg
import pytest
from click.testing import CliRunner

from tests.docs_check import blocks, files, rules
from tests.docs_check.sandbox import Sandbox
from tests.support import Mosquitto, eventually, free_port, fresh_database, stop_process, wait_port

REPO = Path(__file__).resolve().parent.parent
PAGES = ("install-cloud.md", "install-gateway.md", "reviewer-guide.md")
PLC_PASSWORD = "the-plc-password"  # what docs/install-gateway.md puts in edge-agent.env


def page(name: str) -> blocks.Page:
    return blocks.parse(REPO / "docs" / name)


def test_every_command_and_file_on_the_pages_is_covered() -> None:
    uncovered = [c.where() for name in PAGES for c in page(name).commands if rules.rule_for(c) is None]
    assert not uncovered, "commands no rule in tests/docs_check/rules.py covers:\n" + "\n".join(uncovered)
    for name in PAGES:
        assert page(name).commands, f"{name} shows no command"


def test_a_command_no_rule_covers_fails(tmp_path: Path) -> None:
    doc = tmp_path / "new.md"
    doc.write_text("```bash\nedge-agent --help\nrm -rf /var/lib/shopfloor/buffer   # a new step\n```\n")
    new = blocks.parse(doc)
    assert [rules.rule_for(c) is None for c in new.commands] == [False, True]
    box = Sandbox(root=tmp_path / "root", repo=REPO, dsn="postgresql://unused", ports={"broker": 1, "api": 2,
                  "metrics": 3}, addresses={}, secrets={})
    with pytest.raises(AssertionError, match=r"no rule covers new\.md:3: rm -rf"):
        box.run(new.commands[1])


def test_the_page_parser_reads_continuations_comments_files_and_exit_notes(tmp_path: Path) -> None:
    doc = tmp_path / "p.md"
    doc.write_text("```bash\nedge-agent discover opc.tcp://x:4840 \\\n  --depth 4   # fails (exit 1)\n```\n"
                   "```yaml\n# /etc/shopfloor/gateway.yaml\ngateway: {}\n```\n"
                   "```yaml\n# fragment: broker\nport: 8883\n```\n```text\nnot a command\n```\n")
    p = blocks.parse(doc)
    (cmd,) = p.commands
    assert (cmd.text, cmd.expected_exit, cmd.line) == ("edge-agent discover opc.tcp://x:4840 --depth 4", 1, 2)
    assert [(f.path, f.fragment) for f in p.files] == [
        ("/etc/shopfloor/gateway.yaml", None), (None, "broker")]
    assert p.files[1].text == "port: 8883\n"


def _product_commands() -> dict[str, click.Group]:
    from cloud_ingest.cli import main as cloud
    from edge_agent.cli import main as edge
    from simulators.cli import main as sim

    return {"edge-agent": edge, "cloud-ingest": cloud, "device-sim": sim}


def test_every_product_command_named_has_help() -> None:
    mains = _product_commands()
    seen: set[tuple[str, ...]] = set()
    for name in PAGES:
        for c in page(name).commands:
            words = blocks.words(c) if c.shell == "bash" else []
            words = words[words.index("sudo") + 1:] if words[:1] == ["sudo"] else words
            if not words or Path(words[0]).name not in mains:
                continue
            group: click.Command = mains[Path(words[0]).name]
            path: list[str] = []
            for w in words[1:]:
                if not isinstance(group, click.Group) or w.startswith("-"):
                    break
                sub = group.get_command(click.Context(group), w)
                if sub is None:
                    break
                group, path = sub, [*path, w]
            key = (Path(words[0]).name, *path)
            if key in seen:
                continue
            seen.add(key)
            result = CliRunner().invoke(mains[key[0]], [*path, "--help"])
            assert result.exit_code == 0 and "Usage:" in result.output, (
                f"{' '.join(key)} --help:\n{result.output}")
    assert len(seen) >= 15, sorted(seen)


def test_readme_links_the_three_docs() -> None:
    readme = (REPO / "README.md").read_text()
    for name in PAGES:
        assert f"(docs/{name})" in readme, f"README.md does not link docs/{name}"


def _quiet(argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    root = tmp_path_factory.mktemp("docs-root")
    broker = Mosquitto()
    broker.start()
    ports = {"broker": broker.port, "api": free_port(), "metrics": free_port()}
    meter, retort, filler = free_port(), free_port(), free_port()
    sim = [str(REPO / ".venv/bin/device-sim")]
    sims = [
        _quiet([*sim, "modbus", "--profile", "energy_meter_3ph", "--port", str(meter)]),
        _quiet([*sim, "modbus", "--profile", "retort_temp_controller", "--port", str(retort),
                "--unit", "3", "--framing", "rtu"]),
        _quiet([*sim, "opcua", "--profile", "filling_line", "--port", str(filler),
                "--security", "Basic256Sha256_SignAndEncrypt", "--user", f"gateway:{PLC_PASSWORD}",
                "--pki-dir", str(root / "simulator-pki")]),
    ]
    try:
        for port in (meter, retort, filler):
            wait_port("127.0.0.1", port, timeout=30)
        with fresh_database("sfg_docs") as dsn, fresh_database("sfg_docs_restore") as restore:
            sandbox = Sandbox(
                root=root, repo=REPO, dsn=dsn, ports=ports, secrets={"PLC_PASSWORD": PLC_PASSWORD},
                databases={"shopfloor": dsn, "shopfloor_restore": restore},
                addresses={"192.168.1.20:502": f"127.0.0.1:{meter}",
                           "192.168.1.40:4001": f"127.0.0.1:{retort}",
                           "192.168.1.30:4840": f"127.0.0.1:{filler}"})
            try:
                yield sandbox
            finally:
                sandbox.close()
                slow = sorted(sandbox.seconds.items(), key=lambda kv: -kv[1])[:8]
                print("\nslowest doc commands:\n" + "\n".join(f"  {s:5.1f} s  {w[:100]}" for w, s in slow))
    finally:
        for proc in sims:
            stop_process(proc)
        broker.close()


def _run_page(box: Sandbox, name: str) -> None:
    """Run ``name`` after the pages before it (run first if this test runs alone)."""
    for earlier in PAGES[: PAGES.index(name)]:
        if earlier not in box.pages_done:
            _run_page(box, earlier)
    box.pages_done.append(name)
    p = page(name)
    for item in p.items:
        if isinstance(item, blocks.Command):
            box.run(item)
        elif item.path is not None:
            box.write(item)
    for block in p.files:
        if block.path is not None:
            files.check_file(box, block)
        else:
            files.check_fragment(box, block)


def test_install_cloud(box: Sandbox) -> None:
    _run_page(box, "install-cloud.md")


def test_install_gateway(box: Sandbox) -> None:
    _run_page(box, "install-gateway.md")


def test_reviewer_guide(box: Sandbox) -> None:
    """The reviewer gets the packages the cloud built (a USB stick: a copy), and the platform's
    public key through another channel."""
    for earlier in PAGES[:2]:
        if earlier not in box.pages_done:
            _run_page(box, earlier)
    packages = box.root / "var/lib/shopfloor/packages"
    reviewer = box.root / "reviewer"
    shutil.copytree(packages, reviewer, dirs_exist_ok=True)
    (reviewer / "公钥").mkdir()
    shutil.copy(packages / "ent-saihan-dairy-2026-10/keys/signing-key.pub", reviewer / "公钥/signing-key.pub")
    _run_page(box, "reviewer-guide.md")


def test_the_installed_gateway_reached_the_installed_cloud(box: Sandbox) -> None:
    """What the two install pages promise together: the registered gateway's data is stored
    by the workers the cloud page started, none of it a dead letter."""
    with psycopg.connect(box.dsn) as conn:
        def stored() -> int:
            row = conn.execute("SELECT count(*) FROM batches b JOIN gateways g ON g.id = b.gateway_id"
                               " WHERE g.code = 'gw-dairy-01'").fetchone()
            conn.commit()
            return int(row[0]) if row else 0

        eventually(lambda: stored() > 0, timeout=60, what="batches of gw-dairy-01 stored in the cloud")
        dead = conn.execute("SELECT reason, count(*) FROM dead_letters GROUP BY reason").fetchall()
    assert dead == [], dead


def test_units_stop_cleanly(box: Sandbox) -> None:
    """`systemctl stop`: SIGTERM, every service ends with exit 0, and both ingest workers
    reported themselves and left cleanly (the rows `cloud-ingest status` lists)."""
    codes = box.close()
    assert codes and all(code == 0 for code in codes.values()), codes
    with psycopg.connect(box.dsn) as conn:
        workers = conn.execute(
            "SELECT worker, stopped_at IS NOT NULL FROM ingest_workers ORDER BY 1").fetchall()
    assert workers == [("cloud-ingest-1", True), ("cloud-ingest-2", True)], workers
