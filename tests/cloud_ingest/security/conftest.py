"""The shared TLS fixtures (tests/tls/fixtures.py) for the security tests of this folder."""

from tests.tls.fixtures import pki, tls_broker

__all__ = ["pki", "tls_broker"]
