"""The stateful SIP proxy: RFC 3261 §16 with OpenSIPS tm semantics, driven by the routing script."""
