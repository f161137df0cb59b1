"""Where the docs' commands run: a temporary root standing in for the machine's /etc and /var,
the product's venv for /opt/shopfloor/venv, the source tree for /opt/shopfloor/src, simulators
for the devices' addresses, a broker and a database of the test's own.

`Sandbox.map` rewrites a command or a file the way the page's last section says; `run` executes
one command by its rule (`rules`); the ``eq_*`` methods are the named equivalents of commands
that need root or systemd. Units are emulated from their own files: ExecStartPre and ExecStart
with the unit's EnvironmentFile and WorkingDirectory, output kept as journald would keep it.
"""

from __future__ import annotations

import configparser
import glob
import importlib.metadata
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.docs_check.blocks import Command, FileBlock
from tests.docs_check.rules import KnownBroken, Rule, known_broken, rule_for, unsudo
from tests.support import stop_process, wait_port

COMMAND_TIMEOUT_S = 90
READY_TIMEOUT_S = 30
PLACEHOLDER = re.compile(r"<(\w+)>")


IN_PROCESS = re.compile(r"\S*/?(edge-agent|cloud-ingest|device-sim) [^|&;<>$`()\\]*")


def _entry_points() -> dict[str, Any]:
    from cloud_ingest.cli import main as cloud
    from edge_agent.cli import main as edge
    from simulators.cli import main as sim

    return {"edge-agent": edge, "cloud-ingest": cloud, "device-sim": sim}


@dataclass
class Unit:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path


@dataclass
class Sandbox:
    root: Path  # stands for / (etc/, var/ below it)
    repo: Path
    dsn: str
    ports: dict[str, int]  # broker, api, metrics, and one per simulated device address
    addresses: dict[str, str]  # the pages' device address -> a simulator's host:port
    secrets: dict[str, str]
    databases: dict[str, str] = field(default_factory=dict)  # a page's database name -> the test's DSN
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    units: dict[str, Unit] = field(default_factory=dict)
    ran: list[tuple[Command, Rule]] = field(default_factory=list)
    broken: list[tuple[Command, KnownBroken]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    pages_done: list[str] = field(default_factory=list)
    _chain: Any = None

    def __post_init__(self) -> None:
        self.databases.setdefault("shopfloor", self.dsn)
        venv_bin = self.repo / ".venv" / "bin"
        self.env = {**os.environ, "PATH": f"{venv_bin}:{os.environ['PATH']}", "SFG_DATABASE_URL": self.dsn,
                    "PYTHONUNBUFFERED": "1", "LC_ALL": "C.UTF-8"}
        self.env.pop("SFG_EVIDENCE_KEY_FILE", None)
        self.cwd = self.root / "home"
        self.cwd.mkdir(parents=True, exist_ok=True)

    # --- mapping ---
    def map(self, text: str) -> str:
        """The page's paths, addresses, ports and database in this sandbox (the pages' last section)."""
        for address, local in self.addresses.items():
            text = text.replace(address, local)
        text = text.replace("/opt/shopfloor/src", str(self.repo))
        text = text.replace("/opt/shopfloor/venv", str(self.repo / ".venv"))
        text = re.sub(r"(?<![\w./])/(etc|var)(?=/|\s|$)", lambda m: f"{self.root}/{m.group(1)}", text)
        for name, dsn in self.databases.items():
            text = re.sub(rf"postgresql://shopfloor(:[^@\s]*)?@127\.0\.0\.1:5432/{name}(?![\w-])", dsn, text)
        text = text.replace("mqtt.example.cn", "127.0.0.1")
        for port_name, shown in (("broker", 1883), ("api", 8080), ("metrics", 9108)):
            text = re.sub(rf"(port: |127\.0\.0\.1:|localhost:){shown}\b",
                          lambda m, p=self.ports[port_name]: f"{m.group(1)}{p}", text)  # type: ignore[misc]
        return text

    def map_bat(self, text: str) -> str:
        text = re.sub(r"^cd /d ", "cd ", text)  # cmd's drive switch: one file system here
        text = text.replace("D:\\证据", str(self.root / "reviewer"))
        words = text.split()
        words = [{"python": sys.executable, "copy": "cp"}.get(w, w) for w in words[:1]] + words[1:]
        return " ".join(words).replace("\\", "/")

    def path(self, shown: str) -> Path:
        return Path(self.map(shown))

    # --- running ---
    def run(self, command: Command) -> None:
        rule = rule_for(command)
        if rule is None:
            raise AssertionError(f"no rule covers {command.where()} (add one to tests/docs_check/rules.py)")
        self.ran.append((command, rule))
        started = time.monotonic()
        try:
            self._dispatch(command, rule)
        finally:
            self.seconds[command.where()] = time.monotonic() - started

    def _dispatch(self, command: Command, rule: Rule) -> None:
        if rule.kind == "allowed":
            return
        if rule.kind == "equivalent":
            getattr(self, f"eq_{rule.check}")(command)
            return
        if command.shell == "bat":
            self._shell(command, self.map_bat(command.text))
            return
        text = unsudo(command.text)
        if text.startswith("install "):
            text = re.sub(r"\s-[og]\s+\S+", "", text)
        if (broken := known_broken(command)) is not None:
            done = self._shell(command, self.map(text), check=False)
            said = f"exit {done.returncode}\n{done.stdout}{done.stderr}"
            now = "works now: remove the entry" if done.returncode == 0 else "fails differently"
            assert done.returncode != 0 and broken.signature in said, (
                f"{command.where()}: listed in KNOWN_BROKEN ({broken.why}) but it {now}:\n{said[-3000:]}")
            self.broken.append((command, broken))
            getattr(self, f"eq_{broken.stand_in}")(command)
            return
        self._shell(command, self.map(text))

    def _shell(self, command: Command, text: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        text = self._placeholders(command, text)
        if m := re.fullmatch(r"cd (\S+)", text):
            target = (self.cwd or self.root) / m.group(1)
            assert target.is_dir(), f"{command.where()}: no folder {target}"
            self.cwd = target.resolve()
            return subprocess.CompletedProcess(text, 0, "", "")
        if m := re.fullmatch(r"export (\w+)=(.*)", text):
            self.env[m.group(1)] = os.path.expandvars(m.group(2).replace("$PATH", self.env["PATH"]))
            return subprocess.CompletedProcess(text, 0, "", "")
        if IN_PROCESS.fullmatch(text):
            done = self._in_process(text)
        else:
            done = subprocess.run(["bash", "-o", "pipefail", "-c", text], env=self.env, cwd=self.cwd,
                                  capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False)
        with (self.root / "transcript.txt").open("a") as log:  # for a reader of a failed run
            log.write(f"$ {text}\n{done.stdout}{done.stderr}[exit {done.returncode}]\n")
        if check and done.returncode != command.expected_exit:
            raise AssertionError(
                f"{command.where()}\n  ran: {text}\n  exit {done.returncode}, the page expects "
                f"{command.expected_exit}\n--- stdout\n{done.stdout[-3000:]}"
                f"\n--- stderr\n{done.stderr[-3000:]}")
        return done

    def _in_process(self, text: str) -> subprocess.CompletedProcess[str]:
        """A product command with no shell syntax, through its click entry point in this process
        (the same argv, environment and folder): one import instead of one per command keeps
        the pages within the test's minute."""
        from click.testing import CliRunner

        argv = shlex.split(text)
        main = _entry_points()[Path(argv[0]).name]
        saved = os.getcwd()
        os.chdir(self.cwd or self.root)
        try:
            result = CliRunner().invoke(main, argv[1:], env=self.env, catch_exceptions=True)
        finally:
            os.chdir(saved)
        err = "".join(__import__("traceback").format_exception(result.exception)) if (
            result.exception and not isinstance(result.exception, SystemExit)) else ""
        code = result.exit_code if not err else 99
        return subprocess.CompletedProcess(argv, code, result.stdout, result.stderr + err)

    def _placeholders(self, command: Command, text: str) -> str:
        """``<server>`` in a path: the one file the step before made there (e.g. the rejected
        certificate an OPC UA error names)."""
        words = []
        for word in text.split(" "):
            if PLACEHOLDER.search(word):
                found = glob.glob(PLACEHOLDER.sub("*", word))
                assert len(found) == 1, f"{command.where()}: {word} matches {found}, not exactly one file"
                word = found[0]
            words.append(word)
        return " ".join(words)

    # --- files shown on a page ---
    def write(self, block: FileBlock) -> Path:
        assert block.path is not None
        target = self.path(block.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.map(block.text), encoding="utf-8")
        if target.suffix == ".env":
            target.chmod(0o600)
        return target

    # --- equivalents ---
    def eq_noop(self, command: Command) -> None:
        """Nothing to do beyond what an earlier equivalent checked."""

    def eq_python(self, command: Command) -> None:
        assert sys.version_info >= (3, 11), f"{command.where()}: Python {sys.version} is older than 3.11"
        import venv  # noqa: F401  (python3-venv)

    def eq_venv(self, command: Command) -> None:
        assert sys.prefix != sys.base_prefix, "the tests do not run in a venv"
        assert (Path(sys.prefix) / "bin" / "pip").exists()

    def eq_installed(self, command: Command) -> None:
        meta = tomllib.loads((self.repo / "pyproject.toml").read_text())["project"]
        assert importlib.metadata.version(meta["name"]) == meta["version"]
        for script in meta["scripts"]:
            assert (Path(sys.prefix) / "bin" / script).exists(), f"{script} is not installed in the venv"

    def eq_cryptography(self, command: Command) -> None:
        import cryptography  # noqa: F401

    def eq_read_secret(self, command: Command) -> None:
        name = re.search(r"read -rs (\w+)", command.text)
        assert name is not None
        self.env[name.group(1)] = self.secrets[name.group(1)]

    def eq_fixture_package(self, command: Command) -> None:
        """Stand-in for a build the product cannot do yet: the same builder, report and signing
        key (the platform's, from cloud.yaml), figures from the attest tests' fixture."""
        from cloud_ingest.config import load_config
        from tests.cloud_ingest.attest.chain import Chain, write

        words = unsudo(command.text).split()
        cfg = load_config(self.path(words[words.index("--config") + 1]))
        if self._chain is None:
            self._chain = Chain(key_file=cfg.signing.key_path())
        built = self._chain.add()
        write(built.files, self.path(words[words.index("--out") + 1]))

    def eq_source_env(self, command: Command) -> None:
        m = re.search(r"\. (\S+)", command.text)
        assert m is not None
        for line in self.path(m.group(1)).read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                key, _, value = line.partition("=")
                self.env[key.strip()] = value.strip()

    def eq_basebackup(self, command: Command) -> None:
        done = subprocess.run(["pg_basebackup", "--version"], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr

    def _unit_file(self, name: str) -> Path:
        template = re.sub(r"@[^.]+$", "@", name)
        for candidate in (name, template):
            path = self.root / "etc/systemd/system" / f"{candidate}.service"
            if path.exists():
                return path
        raise AssertionError(f"unit {name} was not installed by an earlier command")

    def eq_install_unit(self, command: Command) -> None:
        source = Path(self.map(unsudo(command.text).split()[1]))
        target = self.root / "etc/systemd/system" / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.map(source.read_text()))
        check = target if "@." not in source.name else target.with_name(source.name.replace("@.", "@1."))
        if check != target:
            shutil.copy(target, check)
        done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(check)], capture_output=True,
                              text=True, check=False)
        if check != target:
            check.unlink()
        assert done.returncode == 0 and not done.stderr.strip() and not done.stdout.strip(), (
            f"{command.where()}: systemd-analyze verify:\n{done.stdout}{done.stderr}")

    def eq_unit_security(self, command: Command) -> None:
        unit = self._unit_file(command.text.split()[-1])
        done = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(unit)],
                              capture_output=True, text=True, check=False)
        level = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", done.stdout)
        assert level and level.group(2) in ("SAFE", "OK"), f"{command.where()}:\n{done.stdout[-2000:]}"

    def eq_start_units(self, command: Command) -> None:
        for name in unsudo(command.text).split()[3:]:
            self._start(name, command)

    def _start(self, name: str, command: Command) -> None:
        ini = configparser.ConfigParser(strict=False, interpolation=None)
        ini.optionxform = str  # type: ignore[assignment,method-assign]
        ini.read(self._unit_file(name))
        service = ini["Service"]
        instance = name.split("@", 1)[1] if "@" in name else ""
        env = dict(self.env)
        env_file = service.get("EnvironmentFile", "")
        if env_file:
            path = Path(env_file.lstrip("-"))
            if path.exists():
                for line in path.read_text().splitlines():
                    if line.strip() and not line.startswith("#"):
                        key, _, value = line.partition("=")
                        env[key.strip()] = value.strip()
            else:
                assert env_file.startswith("-"), f"{name}: EnvironmentFile {path} is missing"
        for assignment in shlex.split(service.get("Environment", "")):
            key, _, value = assignment.partition("=")
            env[key] = value
        if service.get("CacheDirectory"):
            (self.root / "var/cache" / service["CacheDirectory"]).mkdir(parents=True, exist_ok=True)
        workdir = Path(service.get("WorkingDirectory", str(self.root)))
        workdir.mkdir(parents=True, exist_ok=True)
        log = self.root / "journal" / f"{name}.log"
        log.parent.mkdir(exist_ok=True)
        pre = service.get("ExecStartPre")
        if pre:
            done = subprocess.run(shlex.split(pre.replace("%i", instance)), env=env, cwd=workdir,
                                  capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False)
            assert done.returncode == 0, f"{name}: ExecStartPre failed:\n{done.stdout}{done.stderr}"
        argv = shlex.split(service["ExecStart"].replace("%i", instance))
        with log.open("wb") as out:
            proc = subprocess.Popen(argv, env=env, cwd=workdir, stdout=out, stderr=subprocess.STDOUT)
        self.units[name] = Unit(name=name, proc=proc, log=log)
        self._ready(self.units[name], argv, command)

    def _ready(self, unit: Unit, argv: list[str], command: Command) -> None:
        """A unit is ready when a technician would see it work: the agent has its buffer file,
        the ingest is consuming (and answers HTTP when it serves the API)."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            assert unit.proc.poll() is None, (
                f"{unit.name} ended (exit {unit.proc.returncode}):\n{unit.log.read_text()}")
            text = unit.log.read_text(errors="replace")
            if "edge-agent" in argv[0]:
                from edge_agent.config import load_gateway_config

                config = load_gateway_config(argv[argv.index("--config") + 1])
                if Path(config.buffer.path).exists() and "connected" in text:
                    return
            elif "consuming" in text:
                if "--no-api" in argv:
                    return
                wait_port("127.0.0.1", self.ports["api"], timeout=READY_TIMEOUT_S)
                return
            assert time.monotonic() < deadline, f"{command.where()}: {unit.name} not ready:\n{text[-3000:]}"
            time.sleep(0.2)

    def eq_unit_alive(self, command: Command) -> None:
        unit = self.units[command.text.split()[-1]]
        assert unit.proc.poll() is None, f"{unit.name} is not running:\n{unit.log.read_text()}"

    def eq_unit_log(self, command: Command) -> None:
        unit = self.units[command.text.split()[2]]
        assert unit.log.read_text().strip(), f"{unit.name} logged nothing"

    def close(self) -> dict[str, int | None]:
        """Stop every unit as systemd would (SIGTERM); their exit codes."""
        return {name: stop_process(unit.proc, timeout=30) for name, unit in reversed(self.units.items())}
