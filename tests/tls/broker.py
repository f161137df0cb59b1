"""A Mosquitto of the test's own with TLS, per-client certificates and the shipped ACL.

Two listeners, as a real deployment would have them (``per_listener_settings``):

- ``mtls_port``: mutual TLS, ``require_certificate`` and ``use_identity_as_username`` (a
  client's MQTT username is its certificate's CN), the ACL of ``examples/mosquitto/``;
- ``password_port``: TLS with server verification only, username and password from a
  ``mosquitto_passwd`` file, the same ACL.

The ACL is the example file the product ships, so these tests also prove that file works.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support import ROOT, Mosquitto, free_port
from tests.tls.pki import Issued, TestCA

EXAMPLE_ACL = ROOT / "examples" / "mosquitto" / "shopfloor.acl"


class TlsMosquitto(Mosquitto):
    def __init__(self, ca: TestCA, server: Issued, *, users: dict[str, str] | None = None,
                 acl: Path = EXAMPLE_ACL) -> None:
        super().__init__()
        self.mtls_port = self.port
        self.password_port = free_port()
        # mosquitto drops root for its own user: it must be able to read what it serves
        for f in (server.cert, server.key, ca.cert):
            shutil.copy(f, self.dir / f.name)
            (self.dir / f.name).chmod(0o644)
        shutil.copy(acl, self.dir / "shopfloor.acl")
        passwd = self.dir / "passwd"
        passwd.write_text("")
        for user, password in (users or {}).items():
            subprocess.run([shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd", "-b",
                            str(passwd), user, password], check=True, capture_output=True)
        for f in (passwd, self.dir / "shopfloor.acl"):
            f.chmod(0o644)
        tls = (f"cafile {self.dir / ca.cert.name}\ncertfile {self.dir / server.cert.name}\n"
               f"keyfile {self.dir / server.key.name}\n")
        self.log = self.dir / "mosquitto.log"
        self.conf.write_text(
            "per_listener_settings true\npersistence false\nmax_queued_messages 100000\n"
            f"log_dest file {self.log}\nlog_type error\nlog_type warning\nlog_type notice\n"
            f"listener {self.mtls_port} 127.0.0.1\n{tls}require_certificate true\n"
            f"use_identity_as_username true\nallow_anonymous false\nacl_file {self.dir}/shopfloor.acl\n"
            f"listener {self.password_port} 127.0.0.1\n{tls}allow_anonymous false\n"
            f"password_file {passwd}\nacl_file {self.dir}/shopfloor.acl\n"
        )

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
