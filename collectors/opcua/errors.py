"""OPC UA specific failures, as subclasses of the collector error tree in ``collectors.base``::

    CollectorError
    ├── DeviceUnreachable
    │   ├── SecurityRejected          server refused our policy, certificate or user token
    │   └── UntrustedServerCertificate  the server's certificate is not in our trust store
    └── ReadFailed
    ├── OptionsError (also ValueError)  a device's ``options:`` block is invalid
    └── NothingDiscovered (also ValueError)  discover found no variable to put in a profile

Security failures are DeviceUnreachable so the agent keeps retrying with backoff: once a
technician trusts the certificate or fixes the password, the next attempt succeeds without
restarting the agent.
"""

from __future__ import annotations

from pathlib import Path

from collectors.base import CollectorError, DeviceUnreachable


class OptionsError(CollectorError, ValueError):
    """A device's OPC UA options are invalid; the message names the device and field."""


class NothingDiscovered(CollectorError, ValueError):
    """Browsing found no usable variable within the depth and filter given."""


class SecurityRejected(DeviceUnreachable):
    pass


class UntrustedServerCertificate(DeviceUnreachable):
    def __init__(self, message: str, *, path: Path, thumbprint: str) -> None:
        super().__init__(message)
        self.path = path
        self.thumbprint = thumbprint
