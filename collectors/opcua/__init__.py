"""OPC UA collector: subscriptions or batched reads, security, reconnects, discovery.

Only the ``uaclient`` subpackage imports asyncua; importing this package does not.
"""

from collectors.opcua.errors import OptionsError, SecurityRejected, UntrustedServerCertificate
from collectors.opcua.pki import trust_certificate

__all__ = ["OptionsError", "SecurityRejected", "UntrustedServerCertificate", "trust_certificate"]
