"""Which doc commands really run, which are checked by a named equivalent, and which are only
allowed, each with its reason. A command no rule covers fails the docs test: a page cannot gain
a command nobody checks.

Rules are tried in order on the command as a technician types it, with a leading ``sudo`` (or
``sudo -u USER``) taken off: what sudo adds is the permission, not the command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from tests.docs_check.blocks import Command

Kind = Literal["run", "equivalent", "allowed"]
SUDO = re.compile(r"(^|(?<=\|)\s*|(?<=&&)\s*)sudo(\s+-u\s+\S+)?\s+")


@dataclass(frozen=True)
class Rule:
    pattern: str
    kind: Kind
    why: str
    check: str = ""  # the sandbox method an equivalent calls (Sandbox.eq_<check>)
    shell: str = "bash"

    def matches(self, command: Command) -> bool:
        return command.shell == self.shell and any(
            re.search(self.pattern, text) for text in (command.text, unsudo(command.text)))


def unsudo(text: str) -> str:
    """The command without ``sudo`` / ``sudo -u USER`` at its start or after a ``|`` or ``&&``."""
    return SUDO.sub(lambda m: m.group(1) and " ", text).strip()


PRODUCT = r"(edge-agent|cloud-ingest|device-sim)"

RULES: tuple[Rule, ...] = (
    # --- installing: root and the package manager ---
    Rule(r"^apt-get install -y python3 python3-venv$", "equivalent",
         "needs root and the network: the test's own Python is 3.11 or newer and has venv", "python"),
    Rule(r"^apt-get install ", "allowed",
         "installs a system package (root, network); what it serves is used by the commands after it"),
    Rule(r"^(useradd|usermod) ", "allowed",
         "creates the system user (root); the units' User=/SupplementaryGroups= pass systemd-analyze verify"),
    Rule(r"^python3 -m venv /opt/shopfloor/venv$", "equivalent",
         "the test itself runs in such a venv (.venv, `make venv`)", "venv"),
    Rule(r"^/opt/shopfloor/venv/bin/pip install /opt/shopfloor/src$", "equivalent",
         "the project is installed in that venv at pyproject's version, with its package data", "installed"),
    # --- systemd and journald: emulated from the unit files themselves ---
    Rule(r"^cp /opt/shopfloor/src/examples/systemd/\S+\.service /etc/systemd/system/$", "equivalent",
         "the unit is copied and passes `systemd-analyze verify` with its paths mapped", "install_unit"),
    Rule(r"^systemctl daemon-reload$", "equivalent", "nothing to reload: units were verified when copied",
         "noop"),
    Rule(r"^systemctl enable --now \S+", "equivalent",
         "each named unit's ExecStartPre and ExecStart run with its EnvironmentFile and WorkingDirectory "
         "until it is ready", "start_units"),
    Rule(r"^systemctl status \S+$", "equivalent", "the unit's process is still running", "unit_alive"),
    Rule(r"^systemd-analyze security \S+$", "equivalent",
         "`systemd-analyze security --offline=yes` of the unit file rates it OK or SAFE", "unit_security"),
    Rule(r"^journalctl -u \S+( --since \S+| -f)*$", "equivalent",
         "the unit's stderr, which journald would keep, has its start-up lines", "unit_log"),
    Rule(r"^journalctl --vacuum-size=\S+$", "allowed", "trims the system journal (root, journald)"),
    Rule(r"^systemctl (restart|reload) (systemd-journald|mosquitto|postgresql)$", "allowed",
         "restarts a system service (root); its config file shown on the page is checked"),
    # --- PostgreSQL administration on the production server ---
    Rule(r"^(createuser|createdb) ", "allowed",
         "makes the production role and database; the test uses a fresh database of its own"),
    Rule(r"^psql -d shopfloor -c 'CREATE EXTENSION IF NOT EXISTS timescaledb'$", "allowed",
         "TimescaleDB is not packaged for these machines (DESIGN.md); migrate's flavour check covers it"),
    Rule(r"^pg_basebackup ", "equivalent",
         "a base backup copies the whole cluster and needs a replication role: pg_basebackup --version "
         "runs, and the WAL archiving settings shown exist in pg_settings", "basebackup"),
    # --- interactive shells and input ---
    Rule(r"^sudo -u \S+ -s$", "equivalent",
         "`sudo -u shopfloor -s` opens a shell as that user: the test runs as one user throughout", "noop"),
    Rule(r"^exit$", "equivalent", "leaves that shell: nothing to leave here", "noop"),
    Rule(r"^read -rs (\w+) && export \1$", "equivalent",
         "interactive: the variable is set to the simulator's password", "read_secret"),
    # --- everything else runs for real ---
    Rule(r"^set -a && \. (\S+) && set \+a$", "equivalent",
         "the environment file's variables are set for the commands after it", "source_env"),
    Rule(r"^export \w+=", "run", "sets the variable for the commands after it"),
    Rule(r"^\w+=\$\(", "run", "a variable from a command, then the command using it"),
    Rule(r"^cd \S+$", "run", "changes the folder for the commands after it"),
    Rule(rf"^(/opt/shopfloor/venv/bin/)?{PRODUCT}( |$)", "run", "the product's command"),
    Rule(r"^install ", "run", "owner and group options dropped: there is no shopfloor user here"),
    Rule(r"^(df|du|curl|pg_dump|pg_restore|tar|cp|mkdir|python3?|echo|sed) ", "run", "a standard tool"),
    # --- the reviewer's Windows command prompt ---
    Rule(r"^pip download --only-binary :all: --platform win_amd64 .* cryptography$", "equivalent",
         "needs the network: the verifier's one dependency is importable in the test's Python",
         "cryptography"),
    Rule(r"^py -m pip install (--no-index --find-links \S+ )?cryptography$", "equivalent",
         "needs the network: the verifier's one dependency is importable in the test's Python",
         "cryptography", shell="bat"),
    Rule(r"^(cd|python|copy|mkdir) ", "run",
         "run with / for \\, python for python, cp for copy", shell="bat"),
)


@dataclass(frozen=True)
class KnownBroken:
    """A command that fails today because of a product bug another change is fixing: it must
    still fail with ``signature`` (so the entry goes when the fix lands), and ``stand_in`` (a
    Sandbox method) makes what it would have made, so the pages after it still run."""

    pattern: str
    signature: str
    why: str
    stand_in: str


KNOWN_BROKEN: tuple[KnownBroken, ...] = ()


def known_broken(command: Command) -> KnownBroken | None:
    return next((k for k in KNOWN_BROKEN if re.search(k.pattern, unsudo(command.text))), None)


def rule_for(command: Command) -> Rule | None:
    return next((r for r in RULES if r.matches(command)), None)
