"""``broker.tls`` of the gateway config: the shared `common.tls` settings, port 8883 by default."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from edge_agent.config import BrokerConfig


def test_tls_defaults_to_the_mqtt_over_tls_port() -> None:
    assert BrokerConfig.model_validate({"tls": {"ca_file": "/etc/ca.crt"}}).port == 8883
    assert BrokerConfig.model_validate({"tls": {}, "port": 18883}).port == 18883
    assert BrokerConfig.model_validate({}).port == 1883 and BrokerConfig().tls is None


def test_a_key_without_its_certificate_is_refused() -> None:
    with pytest.raises(ValidationError, match="key_file needs cert_file"):
        BrokerConfig.model_validate({"tls": {"key_file": "/etc/gw.key"}})
