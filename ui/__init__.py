"""LabPBX's desktop window (PySide6). Only this package imports Qt; it uses labpbx's public API
(``labpbx.lab.Lab``, the state of ``labpbx.lab.state``, the events) and nothing under labpbx
imports it (tests/test_layering.py).

Modules: app (QApplication, ``run``), platform_check (what would make Qt abort on X11), bridge (the
lab off the GUI thread, batched to signals), main_window, extension_card, calls_view, ladder_view /
ladder_render / ladder_export / message_pane (a call's drawn ladder, its one painter for screen and
exports, its raw messages), log_view, compact_table (one-line rows that follow the zoom), text (the
words the views show, translatable), i18n (the language: English or Simplified Chinese, switched at
runtime; the catalogs in translations/, refreshed by ``python -m ui.translations.update``),
provisioning_view / provisioning_model / avp_dialog (the usr_preferences table and the proxy's
timers), voicemail_view / voicemail_model / greetings_panel (mailboxes, messages, greetings,
playback), keyed_rows (models updated row by row, so selections survive a reload).
"""
