"""The shared TLS fixtures (tests/tls/fixtures.py) for the agent's TLS tests."""

from tests.tls.fixtures import pki, tls_broker

__all__ = ["pki", "tls_broker"]
