"""The window's language: English (the source strings) or Simplified Chinese, chosen at start and
switchable at runtime.

Rules of this module:
- The compiled catalogs (``labpbx_<language>.qm``) are found through ``translations_dir()`` and
  nowhere else: the ``translations`` directory next to this module, which a wheel carries as
  package data and a PyInstaller bundle keeps when that directory is collected as data.
  Qt's own catalog (``qtbase_zh_CN.qm``: the standard dialogs' buttons) comes from PySide6's
  translations directory (``QLibraryInfo.path(TranslationsPath)``).
- The language is, in order: the explicit choice (``--lang``), the remembered one (QSettings
  ``ui/language``), the system's preferred UI languages (any Simplified-Chinese locale —
  zh_CN, zh_SG, zh-Hans… — is zh_CN; Traditional Chinese and every other language fall back to
  English, the source language).
- ``set_language`` swaps the QTranslators installed on the application. Qt then sends
  ``LanguageChange`` to every widget, whose ``retranslate_ui()`` sets its texts again.
- English installs a catalog too: it carries only the plural forms (``%n call(s)`` → "1 call",
  "2 calls"); every other English string is its own source.
- SIP text, script text, xlog lines, URIs and numbers are never put through a translator.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QSettings, QTranslator

ENGLISH, CHINESE = "en", "zh_CN"
# Each language is named in its own language: a user who cannot read the current one can still
# find theirs. Never translated.
LANGUAGES: dict[str, str] = {ENGLISH: "English", CHINESE: "简体中文"}
SETTINGS_KEY = "ui/language"
CATALOG = "labpbx"  # labpbx_<language>.qm
QT_CATALOGS = ("qtbase",)  # Qt's own strings (QDialogButtonBox, QFileDialog, QLineEdit menu …)

_installed: list[QTranslator] = []
_current = ENGLISH


def translations_dir() -> Path:
    """Where the .ts sources and the compiled .qm catalogs are (the one place that knows)."""
    return Path(__file__).resolve().parent / "translations"


def catalog_path(language: str) -> Path:
    return translations_dir() / f"{CATALOG}_{language}.qm"


def language_for(ui_languages: Iterable[str]) -> str:
    """The first of the user's preferred languages (BCP 47 or POSIX names, best first) that the
    window speaks; English when none is."""
    for name in ui_languages:
        locale = QLocale(name)
        if locale.language() == QLocale.Language.Chinese:
            if locale.script() == QLocale.Script.SimplifiedHanScript:
                return CHINESE
            continue  # Traditional Chinese: a later preference may still match
        if locale.language() == QLocale.Language.English:
            return ENGLISH
    return ENGLISH


def system_language() -> str:
    # uiLanguages follows LANGUAGE, LC_ALL, LC_MESSAGES and LANG on Unix, the user's display
    # languages on Windows and macOS.
    return language_for(QLocale.system().uiLanguages())


def choose_language(explicit: str | None = None, settings: QSettings | None = None) -> str:
    """``--lang``, else the remembered choice, else the system's."""
    if explicit in LANGUAGES:
        return str(explicit)
    if settings is not None:
        remembered = str(settings.value(SETTINGS_KEY, "") or "")
        if remembered in LANGUAGES:
            return remembered
    return system_language()


def remember_language(settings: QSettings, language: str) -> None:
    settings.setValue(SETTINGS_KEY, language)
    settings.sync()


def current_language() -> str:
    return _current


def set_language(language: str) -> bool:
    """Install ``language``'s catalogs on the running application (removing the previous
    ones), so every widget gets LanguageChange. False when the window's catalog is missing (the
    window then shows English)."""
    global _current
    app = QCoreApplication.instance()
    if app is None:
        raise RuntimeError("set_language needs a QApplication")
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}: one of {', '.join(LANGUAGES)}")
    found = True
    wanted: list[QTranslator] = []
    own = QTranslator(app)
    if own.load(str(catalog_path(language))):
        wanted.append(own)
    else:
        found = False
    if language != ENGLISH:
        qt_dir = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
        for name in QT_CATALOGS:
            qt = QTranslator(app)
            if qt.load(f"{name}_{language}", qt_dir):
                wanted.append(qt)
    for old in _installed:
        QCoreApplication.removeTranslator(old)
        old.deleteLater()
    _installed.clear()
    for translator in wanted:
        QCoreApplication.installTranslator(translator)
        _installed.append(translator)
    _current = language
    return found
