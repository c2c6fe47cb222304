"""Interoperability with third-party SIP software (Kamailio, baresip) on 127.0.0.1.

These tests run the real programs from Debian (`./dev setup` installs them); they are skipped,
with the reason, on a machine where the program is missing.
"""
