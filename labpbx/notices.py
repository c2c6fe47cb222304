"""Licences: what the binary package is under, and the third-party notice of what it bundles.

Rules of this module:
- LabPBX's own code is MIT. The installers (the .deb, the Windows installer, the macOS .app)
  bundle pjproject (GPL-2.0-or-later, inside pjsua2-python) and Qt (LGPL-3.0, inside PySide6):
  the binary package as a whole is distributed under GPL-3.0-or-later (the one licence both
  allow together: LGPL-3.0 code may be combined into a GPLv3 work, and pjproject's "or later"
  admits version 3). ``BINARY_LICENCE`` says so in one place for the About box and the README.
- The notice lists the Python distributions the program runs with, found from the installed
  distributions' metadata (importlib.metadata: names, versions, licences, home pages), plus the
  native components that metadata does not show (Python itself, Qt, ICU, pjproject, OpenSSL,
  PortAudio). The build writes it into the bundle (``python -m labpbx.notices FILE``), because a
  frozen program has no distribution metadata; from source it is generated on the fly.
- ``licenses_dir`` is the one place that knows where the licence texts are: the bundle's
  ``licenses/`` when frozen, packaging/licenses in a source checkout.
"""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from labpbx import __version__
from labpbx.frozen import bundle_root

NOTICE_FILE = "THIRD-PARTY-NOTICES.txt"
WIDTH = 78
OWN_LICENCE = "MIT"
BINARY_LICENCE = "GPL-3.0-or-later"
BINARY_LICENCE_TEXT = (
    "LabPBX's own source code is under the MIT licence. This binary package also contains "
    "pjproject (GPL-2.0-or-later) and Qt (LGPL-3.0), so the package as a whole is distributed "
    "under the GNU General Public License version 3 or later (GPL-3.0-or-later). Its source is "
    "LabPBX's repository plus the components listed below, each at the version listed; Qt's "
    "libraries are separate files in the installation folder and can be replaced.")
SOURCE_RUN_TEXT = (
    "This is LabPBX run from source: it is under the MIT licence, and the libraries it uses are "
    "installed separately, each under its own licence (listed below from this Python's "
    "installed packages).")

# What the wheels' metadata does not say (pjsua2-python has no licence field) or hides inside
# a wheel: native components, with their licences.
LICENCE_OVERRIDES = {"pjsua2-python": "GPL-2.0-or-later (pjproject)"}
NATIVE_COMPONENTS: tuple[tuple[str, str, str, str], ...] = (
    ("CPython", "the Python interpreter and standard library", "PSF-2.0",
     "https://www.python.org/"),
    ("Qt", "inside PySide6-Essentials: QtCore, QtGui, QtWidgets, QtNetwork, QtSvg and plugins",
     "LGPL-3.0-only", "https://www.qt.io/"),
    ("ICU", "inside PySide6-Essentials (Linux)", "Unicode-3.0", "https://icu.unicode.org/"),
    ("pjproject (pjsip)", "inside pjsua2-python", "GPL-2.0-or-later", "https://www.pjsip.org/"),
    ("OpenSSL 1.0.2k", "inside pjsua2-python's Linux wheel (pjproject links it; LabPBX uses no TLS)",
     "OpenSSL", "https://www.openssl.org/"),
    ("PortAudio", "the Debian package libportaudio2 on Linux; inside sounddevice on Windows and "
     "macOS", "MIT", "https://www.portaudio.com/"),
)

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA = re.compile(r"\bextra\s*==")


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    version: str
    licence: str
    url: str = ""
    note: str = ""


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _field(meta: metadata.PackageMetadata, name: str) -> str:
    values = meta.get_all(name) or []
    return str(values[0]) if values else ""


def _licence(meta: metadata.PackageMetadata) -> str:
    expression = _field(meta, "License-Expression")
    if expression:
        return expression
    text = _field(meta, "License").strip()
    if text and "\n" not in text and len(text) < 80:
        return text
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or []
                   if c.startswith("License ::")]
    return " / ".join(classifiers) or "see the distribution"


def _url(meta: metadata.PackageMetadata) -> str:
    home = _field(meta, "Home-page")
    if home:
        return home
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = str(entry).partition(",")
        if label.strip().lower() in ("homepage", "home", "source", "repository", "github"):
            return url.strip()
    return ""


def runtime_requirements(requires: Iterable[str]) -> list[str]:
    """The distribution names of ``requires`` that are not behind an extra (pure)."""
    names = []
    for requirement in requires:
        if _EXTRA.search(requirement):
            continue
        match = _NAME.match(requirement)
        if match:
            names.append(match.group(1))
    return names


def runtime_distributions(root: str = "labpbx") -> list[Component]:
    """``root`` and every distribution it needs at run time that is installed here."""
    seen: dict[str, Component] = {}
    queue = [root]
    while queue:
        name = queue.pop()
        key = _normalise(name)
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a platform-only requirement (uvloop on Windows)
        meta = dist.metadata
        dist_name = _field(meta, "Name") or name
        licence = LICENCE_OVERRIDES.get(dist_name, _licence(meta))
        seen[key] = Component(dist_name, dist.version, licence, _url(meta))
        queue.extend(runtime_requirements(dist.requires or []))
    return sorted(seen.values(), key=lambda c: c.name.lower())


def native_components() -> list[Component]:
    return [Component(name, "", licence, url, note)
            for name, note, licence, url in NATIVE_COMPONENTS]


def notice_text(python_packages: Iterable[Component], native: Iterable[Component],
                *, bundled: bool = True, python_version: str = "") -> str:
    """The notice, as plain text (pure)."""
    lines = [f"LabPBX {__version__}: third-party notices", "",
             textwrap.fill(BINARY_LICENCE_TEXT if bundled else SOURCE_RUN_TEXT, WIDTH), "",
             textwrap.fill("The licence texts: GPL-2.0.txt, GPL-3.0.txt, LGPL-3.0.txt beside "
                           "this file (and /usr/share/common-licenses on Debian).", WIDTH), "",
             "Python packages (from their installed metadata):"]
    for comp in python_packages:
        lines.append(f"  {comp.name} {comp.version}: {comp.licence}"
                     + (f"  <{comp.url}>" if comp.url else ""))
    lines += ["", "Native components inside those packages:"]
    for comp in native:
        version = python_version if comp.name == "CPython" and python_version else comp.version
        head = f"  {comp.name}{' ' + version if version else ''}: {comp.licence}"
        lines.append(head + (f"  <{comp.url}>" if comp.url else ""))
        if comp.note:
            lines.append(f"      {comp.note}")
    return "\n".join(lines) + "\n"


def licenses_dir() -> Path | None:
    """Where the licence texts (and, in a bundle, the notice) are; None when nowhere."""
    root = bundle_root()
    if root is not None:
        return root / "licenses"
    source = Path(__file__).resolve().parent.parent / "packaging" / "licenses"
    return source if source.is_dir() else None


def generate_notice(bundled: bool) -> str:
    return notice_text(runtime_distributions(), native_components(), bundled=bundled,
                       python_version=".".join(map(str, sys.version_info[:3])))


def load_notice() -> tuple[str, bool]:
    """The notice to show and whether this is the installed bundle's (else a source run's,
    generated now from this Python's installed distributions)."""
    directory = licenses_dir()
    if bundle_root() is not None and directory is not None:
        try:
            return (directory / NOTICE_FILE).read_text(encoding="utf-8"), True
        except OSError:
            pass
    return generate_notice(bundled=False), False


def main(argv: list[str] | None = None) -> int:
    """``python -m labpbx.notices FILE``: write the bundle's notice (the build runs it)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m labpbx.notices OUTPUT_FILE", file=sys.stderr)
        return 2
    target = Path(args[0])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(generate_notice(bundled=True), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
