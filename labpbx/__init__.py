"""LabPBX: a SIP call-forwarding lab (stateful proxy, extensions, voicemail) on loopback."""

__version__ = "0.1.0"
