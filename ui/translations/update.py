"""Refresh the window's translations: extract every string of ui/ into the .ts sources, report
what is unfinished, compile the .qm catalogs the window loads.

    .venv/bin/python -m ui.translations.update              # lupdate + lrelease + report
    .venv/bin/python -m ui.translations.update --unfinished # the unfinished strings as JSON
    .venv/bin/python -m ui.translations.update --fill zh.json  # write translations, rebuild
    ./dev translations [same options]

Rules of this tool:
- The .ts files in this directory are the translations' only source (what a translator edits,
  with Qt Linguist or a text editor, and what git keeps). ``--fill`` writes into them from a
  throw-away JSON file ``{"context": {"source": "translation"}}`` (the shape ``--unfinished``
  prints, each with "" or, for a string that changed, the old translation as a draft to check);
  nothing else keeps a second copy.
- labpbx_zh_CN.ts holds every string; labpbx_en.ts only the plural forms (``%n call(s)``), which
  English needs spelled out. They are filled here: a source that marks the plural as
  ``(s)``/``(es)`` gets "%n call" / "%n calls"; any other ("✉ %n new") is the same in both forms.
  A person may correct them in the .ts: a finished translation is never overwritten.
- lupdate drops strings that vanished from the code (-no-obsolete); a changed string comes back
  unfinished, with the old translation as a starting point.
- Exit code 1 while any string is unfinished (an unfinished string shows in English).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
UI = HERE.parent
# (language, lupdate options): the English catalog carries only plural forms.
CATALOGS = (("zh_CN", ()), ("en", ("-pluralonly",)))
PLURAL_MARK = re.compile(r"\((e?s)\)")


def ts_path(language: str) -> Path:
    return HERE / f"labpbx_{language}.ts"


def qm_path(language: str) -> Path:
    return HERE / f"labpbx_{language}.qm"


def sources() -> list[Path]:
    """Every Python file of the window (this tool's directory aside)."""
    return sorted(p for p in UI.rglob("*.py") if HERE not in p.parents)


def tool(name: str) -> str:
    """pyside6-lupdate / pyside6-lrelease of this Python's PySide6."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: install PySide6 into this Python")
    return found


def lupdate(ts: Path, options: tuple[str, ...] = (), files: list[Path] | None = None) -> None:
    files = sources() if files is None else files
    subprocess.run([tool("pyside6-lupdate"), *options, "-no-obsolete", "-locations", "absolute",
                    *map(str, files), "-ts", str(ts)], check=True, capture_output=True, text=True)


def lrelease(ts: Path, qm: Path) -> None:
    subprocess.run([tool("pyside6-lrelease"), "-silent", str(ts), "-qm", str(qm)], check=True,
                   capture_output=True, text=True)


def unfinished(ts: Path) -> dict[str, dict[str, str]]:
    """{context: {source: draft}} for every message without a finished translation; the draft
    is "" or, for a string that changed, lupdate's carry-over of the old translation."""
    result: dict[str, dict[str, str]] = {}
    for context in ET.parse(ts).getroot().iter("context"):
        name = context.findtext("name") or ""
        for message in context.iter("message"):
            translation = message.find("translation")
            kind = "" if translation is None else translation.get("type", "")
            if kind in ("vanished", "obsolete"):
                continue
            if translation is None or kind == "unfinished" or not _has_text(translation):
                draft = "" if translation is None else (
                    translation.findtext("numerusform") or translation.text or "").strip()
                result.setdefault(name, {})[message.findtext("source") or ""] = draft
    return result


def _has_text(translation: ET.Element) -> bool:
    forms = translation.findall("numerusform")
    if forms:
        return all((f.text or "").strip() for f in forms)
    return bool((translation.text or "").strip())


def fill(ts: Path, texts: dict[str, dict[str, str | list[str]]]) -> int:
    """Write ``texts`` (context → source → translation; a list for plural forms) into ``ts``,
    marking them finished. Returns how many messages it filled."""
    tree = ET.parse(ts)
    filled = 0
    for context in tree.getroot().iter("context"):
        wanted = texts.get(context.findtext("name") or "", {})
        for message in context.iter("message"):
            text = wanted.get(message.findtext("source") or "")
            if not text:
                continue
            translation = message.find("translation")
            if translation is None:
                translation = ET.SubElement(message, "translation")
            translation.attrib.pop("type", None)
            for child in list(translation):
                translation.remove(child)
            if message.get("numerus") == "yes":
                translation.text = None
                for form in [text] if isinstance(text, str) else text:
                    ET.SubElement(translation, "numerusform").text = form
            else:
                translation.text = text if isinstance(text, str) else text[0]
            filled += 1
    tree.write(ts, encoding="utf-8", xml_declaration=True)
    return filled


def english_plurals(ts: Path) -> int:
    """Spell out "%n call(s)" as "%n call" / "%n calls" (a source without the mark: the same
    text in both forms)."""
    texts: dict[str, dict[str, str | list[str]]] = {}
    for context, messages in unfinished(ts).items():
        for source in messages:
            texts.setdefault(context, {})[source] = [PLURAL_MARK.sub("", source),
                                                     PLURAL_MARK.sub(r"\1", source)]
    return fill(ts, texts) if texts else 0


def update(fill_from: Path | None = None) -> dict[str, dict[str, dict[str, str]]]:
    """lupdate every catalog, fill what can be filled, lrelease; the unfinished strings."""
    files = sources()
    left: dict[str, dict[str, dict[str, str]]] = {}
    for language, options in CATALOGS:
        ts = ts_path(language)
        lupdate(ts, options, files)
        changed = 0
        if language == "en":
            changed += english_plurals(ts)
        elif fill_from is not None:
            changed += fill(ts, json.loads(fill_from.read_text(encoding="utf-8")))
        if changed:
            lupdate(ts, options, files)  # back into lupdate's own layout
        lrelease(ts, qm_path(language))
        left[language] = unfinished(ts)
    return left


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ui.translations.update", description=__doc__.split("\n")[0])
    parser.add_argument("--unfinished", action="store_true",
                        help="print the unfinished strings of zh_CN as JSON (to fill and pass to --fill)")
    parser.add_argument("--fill", type=Path, metavar="JSON",
                        help="write these translations into labpbx_zh_CN.ts before compiling")
    options = parser.parse_args(argv)
    left = update(options.fill)
    if options.unfinished:
        json.dump(left["zh_CN"], sys.stdout, ensure_ascii=False, indent=1)
        print()
    for language, messages in left.items():
        total = sum(len(m) for m in messages.values())
        print(f"{ts_path(language).name}: {total} unfinished", file=sys.stderr)
        if not options.unfinished:
            for context, sources_ in messages.items():
                for source in sources_:
                    print(f"  {context}: {source!r}", file=sys.stderr)
    return 1 if any(left.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
