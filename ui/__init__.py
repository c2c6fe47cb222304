"""LabPBX's desktop window (PySide6). Only this package imports Qt; it uses labpbx's public API
(``labpbx.lab.Lab``, the state of ``labpbx.lab.state``, the events) and nothing under labpbx
imports it (tests/test_layering.py).

Modules: app (QApplication, ``run``), platform_check (what would make Qt abort on X11),
bridge (the lab off the GUI thread, batched to signals), main_window, extension_card,
calls_view, log_view, compact_table (one-line rows that follow the zoom), text (the words the
views show, translatable).
"""
