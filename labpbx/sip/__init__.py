"""Pure SIP: messages (RFC 3261 §7, §20, §25) and transactions (§17). No I/O in this package."""
