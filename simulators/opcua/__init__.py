"""OPC UA device simulator: profile-defined nodes, generators, security modes, faults."""
