"""The window in English and Simplified Chinese: choosing the language (``--lang``, the
remembered choice, the system's locale), switching at runtime from the Language menu (every
widget's texts change, SIP words and numbers do not), and the translation files: every string of
ui/ is in the .ts, every message is finished, the shipped .qm is compiled from the .ts as it is.

The window tests use a lab that is never started (the texts do not depend on it), except the
``--lang zh_CN --screenshot`` run, which is the real command.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QSettings, Qt, QTranslator
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from labpbx.lab import LabConfig
from labpbx.lab.state import ExtensionState
from ui import i18n
from ui.bridge import LabBridge
from ui.main_window import MainWindow
from ui.translations import update

ROOT = Path(__file__).resolve().parents[2]
WAIT_MS = 20_000


@pytest.fixture
def english(qapp: QApplication) -> Iterator[None]:
    """The test starts and ends in English, whatever it switched to."""
    i18n.set_language(i18n.ENGLISH)
    yield
    i18n.set_language(i18n.ENGLISH)


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, english: None) -> Iterator[MainWindow]:
    settings = QSettings(str(tmp_path / "labpbx.ini"), QSettings.Format.IniFormat)
    win = MainWindow(LabBridge(LabConfig(data_dir=tmp_path / "lab")), settings=settings)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()
    qtbot.waitUntil(win.isHidden, timeout=WAIT_MS)


def choose_from_menu(qtbot: QtBot, win: MainWindow, language: str) -> None:
    """Open the Language menu and click the language, as a user does."""
    menu = win.language_menu
    bar = win.menuBar()
    title = bar.actionGeometry(menu.menuAction()).center()
    qtbot.mouseMove(bar, title)  # after a menu closed, the bar takes a click once the mouse moved
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=title)
    qtbot.waitUntil(menu.isVisible)
    action = win.language_actions[language]
    qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())
    qtbot.waitUntil(lambda: not menu.isVisible())
    # Qt posts LanguageChange to the windows: wait until the window has worded itself again.
    qtbot.waitUntil(lambda: i18n.current_language() == language and win.lab_menu.title()
                    == QCoreApplication.translate("MainWindow", "&Lab"), timeout=WAIT_MS)


def texts(win: MainWindow) -> dict[str, str]:
    """Visible texts of each kind: menu titles, tab names, a card's buttons and lines, a model
    header, a filter's choices."""
    card = win.cards["1000"]
    log = win.log.model
    return {
        "title": win.windowTitle(),
        "lab menu": win.lab_menu.title(),
        "view menu": win.view_menu.title(),
        "language menu": win.language_menu.title(),
        "quit": win.quit_action.text(),
        "calls tab": win.tabs.tabText(win.tabs.indexOf(win.calls)),
        "log tab": win.tabs.tabText(win.tabs.indexOf(win.log)),
        "call button": card.call_button.text(),
        "call name": card.call_button.accessibleName(),
        "busy button": card.busy_button.text(),
        "registration": card.registration.text(),
        "activity": card.activity.text(),
        "policy": card.policy.currentText(),
        "forwarding": card.forwarding.text(),
        "log header": str(log.headerData(0, Qt.Orientation.Horizontal)),
        "header shown": win.log.table.horizontalHeader().model().headerData(
            4, Qt.Orientation.Horizontal),
        "all calls": win.log.call.itemText(0),
        "levels": win.log.level.itemText(1),
        "status": win.status.text(),
    }


def test_switching_to_chinese_changes_the_texts_and_back(qtbot: QtBot, window: MainWindow,
                                                         tmp_path: Path) -> None:
    english = texts(window)
    assert english["lab menu"] == "&Lab" and english["call button"] == "Call"
    assert window.language_actions["en"].isChecked()

    choose_from_menu(qtbot, window, "zh_CN")
    chinese = texts(window)
    assert i18n.current_language() == "zh_CN"
    assert window.language_actions["zh_CN"].isChecked()
    assert not window.language_actions["en"].isChecked()
    unchanged = [key for key in english if chinese[key] == english[key] and key != "title"]
    assert not unchanged, f"still in English: {unchanged}"
    assert chinese["lab menu"] == "实验环境(&L)"
    assert chinese["calls tab"] == "呼叫(&C)"
    assert chinese["call button"] == "呼叫"
    assert chinese["call name"] == "从 1000 发起呼叫"  # the number is never translated
    assert chinese["log header"] == "时间"
    assert chinese["registration"] == "○ 未注册"
    assert window.cards["1000"].title.text() == "1000"
    # The language names are each in their own language, whatever the current one.
    assert [a.text() for a in window.language_menu.actions()] == ["English", "简体中文"]
    # The choice is remembered for the next start.
    assert QSettings(str(tmp_path / "labpbx.ini"), QSettings.Format.IniFormat).value(
        i18n.SETTINGS_KEY) == "zh_CN"

    choose_from_menu(qtbot, window, "en")
    assert texts(window) == english
    assert window.language_actions["en"].isChecked()


def test_a_cards_state_words_follow_the_language(qtbot: QtBot, window: MainWindow) -> None:
    card = window.cards["1001"]
    state = ExtensionState("1001", registered=True, contact="sip:1001@127.0.0.1:15062",
                           new_messages=3)
    card.show_state(state)
    assert card.mwi.text() == "✉ 3 new"
    choose_from_menu(qtbot, window, "zh_CN")
    assert card.mwi.text() == "✉ 3 条新留言"  # a plural form (%n)
    assert card.registration.text() == "● 已注册 — sip:1001@127.0.0.1:15062"  # the URI as it is


def test_the_language_is_the_explicit_then_the_remembered_then_the_systems(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = QSettings(str(tmp_path / "labpbx.ini"), QSettings.Format.IniFormat)
    monkeypatch.setattr(i18n, "system_language", lambda: "zh_CN")
    assert i18n.choose_language(None, settings) == "zh_CN"
    assert i18n.choose_language("en", settings) == "en"
    i18n.remember_language(settings, "en")
    assert i18n.choose_language(None, settings) == "en"
    assert i18n.choose_language("zh_CN", settings) == "zh_CN"
    monkeypatch.setattr(i18n, "system_language", lambda: "en")
    settings.setValue(i18n.SETTINGS_KEY, "klingon")  # not one the window speaks: ignored
    assert i18n.choose_language(None, settings) == "en"


@pytest.mark.parametrize(("preferred", "language"), [
    (["zh-Hans-CN", "zh-CN", "zh-Hans"], "zh_CN"),
    (["zh_CN"], "zh_CN"),
    (["zh_SG"], "zh_CN"),
    (["zh-Hans-HK"], "zh_CN"),
    (["zh"], "zh_CN"),
    (["zh_TW"], "en"),  # Traditional Chinese: English, not Simplified
    (["zh-Hant-HK", "zh-Hans"], "zh_CN"),
    (["de-DE", "zh-CN"], "zh_CN"),  # a later preference the window speaks
    (["en-US", "zh-CN"], "en"),
    (["fr-FR"], "en"),
    (["C"], "en"),
    ([], "en"),
])
def test_the_system_locale_chooses(preferred: list[str], language: str) -> None:
    assert i18n.language_for(preferred) == language


def test_the_command_line_takes_lang() -> None:
    from labpbx.cli import build_parser

    assert build_parser().parse_args(["gui", "--lang", "zh_CN"]).lang == "zh_CN"
    assert build_parser().parse_args(["gui"]).lang is None
    with pytest.raises(SystemExit):
        build_parser().parse_args(["gui", "--lang", "fr"])


def test_qts_own_buttons_are_translated_too(english: None) -> None:
    assert i18n.set_language("zh_CN")
    # A QDialogButtonBox's Cancel button: qtbase_zh_CN.qm from PySide6's translations.
    assert QCoreApplication.translate("QPlatformTheme", "Cancel") == "取消"
    i18n.set_language("en")
    assert QCoreApplication.translate("QPlatformTheme", "Cancel") == "Cancel"


# ============================================================== the translation files

def test_ladder_lanes_and_log_levels_follow_the_language(english: None) -> None:
    from ui.ladder_render import lane_title
    from ui.log_view import LogModel

    model = LogModel()
    assert lane_title("caller 1000") == "caller 1000"
    assert i18n.set_language("zh_CN")
    try:
        assert lane_title("caller 1000") == "主叫 1000"
        assert lane_title("voicemail 2345678") == "语音信箱 2345678"
        assert model._level_word("decision") == "决策"
        assert model._level_word("L_INFO") == "L_INFO"  # xlog's own level names stay
    finally:
        i18n.set_language("en")


def messages(ts: Path) -> set[tuple[str, str, bool]]:
    """(context, source, plural) of every current message of a .ts file."""
    found = set()
    for context in ET.parse(ts).getroot().iter("context"):
        for message in context.iter("message"):
            translation = message.find("translation")
            if translation is not None and translation.get("type") in ("vanished", "obsolete"):
                continue
            found.add((context.findtext("name") or "", message.findtext("source") or "",
                       message.get("numerus") == "yes"))
    return found


@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_the_ts_has_every_string_of_the_window(tmp_path: Path, language: str) -> None:
    kept = update.ts_path(language)
    fresh = tmp_path / kept.name
    shutil.copy(kept, fresh)
    update.lupdate(fresh, dict(update.CATALOGS)[language])
    new = messages(fresh) - messages(kept)
    gone = messages(kept) - messages(fresh)
    assert not new and not gone, (
        f"{kept.name} is out of date (new: {sorted(new)}, gone: {sorted(gone)}): "
        "run `./dev translations` and translate what it lists")


@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_every_message_is_translated(language: str) -> None:
    left = update.unfinished(update.ts_path(language))
    assert not left, f"unfinished in {update.ts_path(language).name}: {left}"


@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_the_shipped_qm_is_compiled_from_the_ts(tmp_path: Path, language: str) -> None:
    built = tmp_path / "built.qm"
    update.lrelease(update.ts_path(language), built)
    shipped = i18n.catalog_path(language)
    assert shipped.exists() and shipped.parent == i18n.translations_dir()
    assert shipped.read_bytes() == built.read_bytes(), (
        f"{shipped.name} is stale: run `./dev translations`")


def test_the_tool_spells_out_english_plurals(tmp_path: Path, qapp: QApplication) -> None:
    source = tmp_path / "widget.py"
    source.write_text("class Sample(QWidget):\n"
                      "    def f(self, n):\n"
                      "        self.tr('%n call(s)', '', n)\n"
                      "        self.tr('%n box(es) left', '', n)\n"
                      "        self.tr('✉ %n new', '', n)\n"
                      "        self.tr('Not a plural')\n", encoding="utf-8")
    ts, qm = tmp_path / "sample_en.ts", tmp_path / "sample_en.qm"
    update.lupdate(ts, ("-pluralonly",), [source])
    assert len(update.unfinished(ts)["Sample"]) == 3  # the plural forms only
    assert update.english_plurals(ts) == 3
    assert update.unfinished(ts) == {}
    update.lrelease(ts, qm)
    translator = QTranslator()
    assert translator.load(str(qm))
    QCoreApplication.installTranslator(translator)
    try:
        said = [QCoreApplication.translate("Sample", "%n call(s)", "", n) for n in (1, 2)]
        assert said == ["1 call", "2 calls"]
        assert QCoreApplication.translate("Sample", "%n box(es) left", "", 3) == "3 boxes left"
        assert QCoreApplication.translate("Sample", "✉ %n new", "", 2) == "✉ 2 new"
    finally:
        QCoreApplication.removeTranslator(translator)


def test_fill_writes_translations_into_the_ts(tmp_path: Path) -> None:
    source = tmp_path / "widget.py"
    source.write_text("class Sample(QWidget):\n"
                      "    def f(self, n):\n"
                      "        self.tr('Hang up')\n"
                      "        self.tr('%n call(s)', '', n)\n", encoding="utf-8")
    ts = tmp_path / "sample_zh_CN.ts"
    update.lupdate(ts, (), [source])
    assert update.fill(ts, {"Sample": {"Hang up": "挂断", "%n call(s)": ["%n 个呼叫"]}}) == 2
    assert update.unfinished(ts) == {}
    update.lupdate(ts, (), [source])  # lupdate keeps what was filled
    assert update.unfinished(ts) == {}
    source.write_text(source.read_text(encoding="utf-8").replace("Hang up", "Hang up now"),
                      encoding="utf-8")
    update.lupdate(ts, (), [source])  # a changed string: unfinished, the old words as a draft
    assert update.unfinished(ts) == {"Sample": {"Hang up now": "挂断"}}


# ============================================================== the real command

@pytest.mark.integration
def test_lang_zh_cn_screenshot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("pjsua2", reason="pjsua2-python is not installed: phones need it")
    shot = tmp_path / "window-zh_CN.png"
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # not this user's QSettings
    done = subprocess.run([sys.executable, "-m", "ui", "--data", str(tmp_path / "lab"), "gui",
                           "--port", "0", "--lang", "zh_CN", "--screenshot", str(shot)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    image = QImage(str(shot))
    assert not image.isNull()
    assert image.width() >= 800 and image.height() >= 600
    assert shot.stat().st_size > 20_000  # a window with text, not an empty frame
    # --lang is for this run: it is not remembered.
    assert not list((tmp_path / "config").rglob("*.conf")) or "zh_CN" not in "".join(
        p.read_text() for p in (tmp_path / "config").rglob("*.conf"))

