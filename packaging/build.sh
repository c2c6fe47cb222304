#!/usr/bin/env bash
# Build LabPBX's desktop packages. After `./dev setup` (the venv with the packaging extra):
#
#   packaging/build.sh deb [--force]   Linux: dist/labpbx_<version>_amd64.deb, checked with
#                                      desktop-file-validate, appstreamcli and lintian
#   packaging/build.sh bundle          only the PyInstaller onedir bundle (build/packaging/dist)
#                                      (what the Windows and macOS jobs package further)
#
# The .deb is rebuilt only when its inputs changed: a hash of the sources, the packaging files
# and the venv's package list is kept beside it (dist/.labpbx-deb.stamp); --force rebuilds.
# PyInstaller's and lintian's long output go to build/packaging/*.log; this prints a summary,
# and the log's tail when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${LABPBX_VENV:-.venv}
PY="$VENV/bin/python"
[ -x "$PY" ] || PY=${PYTHON:-python3}
WORK=build/packaging
DIST=dist
APP_ID=org.labpbx.LabPBX
mkdir -p "$WORK" "$DIST"

say() { printf '%s\n' "$*"; }
fail_with_log() {  # step, log file
    say "packaging: $1 failed; the last lines of $2:" >&2
    tail -n 40 "$2" >&2 || true
    exit 1
}

version() { "$PY" -c 'import labpbx; print(labpbx.__version__)'; }

inputs_hash() {
    # Everything the package is made of: sources, assets, packaging files, the Python packages.
    {
        git -C "$ROOT" ls-files -co --exclude-standard labpbx ui assets packaging pyproject.toml 2>/dev/null \
            | grep -v -E '(__pycache__|\.pyc$)' | LC_ALL=C sort | while read -r f; do
                [ -f "$f" ] && sha256sum "$f"
            done
        "$PY" -m pip freeze --all 2>/dev/null | grep -v -i '^-e\|^labpbx' || true
        "$PY" -c 'import sys; print(sys.version)'
    } | sha256sum | cut -d' ' -f1
}

translations() {
    # The window's catalogs, compiled from the .ts sources into the build directory.
    local out=$WORK/translations lrelease="$VENV/bin/pyside6-lrelease"
    [ -x "$lrelease" ] || lrelease=$(command -v pyside6-lrelease || true)  # Windows/macOS jobs
    rm -rf "$out" && mkdir -p "$out"
    if [ -n "$lrelease" ] && compgen -G "ui/translations/*.ts" >/dev/null; then
        for ts in ui/translations/*.ts; do
            "$lrelease" -silent "$ts" -qm "$out/$(basename "${ts%.ts}").qm" >>"$WORK/lrelease.log" 2>&1 \
                || fail_with_log "pyside6-lrelease $ts" "$WORK/lrelease.log"
        done
    fi
}

bundle() {
    "$PY" -c 'import PyInstaller' 2>/dev/null || {
        say "packaging: PyInstaller is not installed in $VENV. Fix: ./dev setup (installs the packaging extra)" >&2
        exit 1
    }
    translations
    "$PY" packaging/render_icon.py assets/icons/labpbx.svg "$WORK/icons" >/dev/null
    "$PY" -m labpbx.notices "$WORK/THIRD-PARTY-NOTICES.txt"
    local log=$WORK/pyinstaller.log start end
    start=$(date +%s)
    say "packaging: PyInstaller (log: $log) …"
    LABPBX_NOTICES="$ROOT/$WORK/THIRD-PARTY-NOTICES.txt" LABPBX_ICON_DIR="$ROOT/$WORK/icons" \
    LABPBX_TRANSLATIONS="$ROOT/$WORK/translations" \
        "$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
        --distpath "$WORK/dist" --workpath "$WORK/work" packaging/labpbx.spec >"$log" 2>&1 \
        || fail_with_log PyInstaller "$log"
    end=$(date +%s)
    say "packaging: bundle $WORK/dist/labpbx: $(du -sh "$WORK/dist/labpbx" | cut -f1), $((end - start)) s, $(grep -c WARNING "$log" || true) PyInstaller warning(s) in the log"
    if command -v dpkg >/dev/null 2>&1; then
        system_libraries >>"$WORK/dist/labpbx/_internal/licenses/THIRD-PARTY-NOTICES.txt"
    fi
}

system_libraries() {
    # PyInstaller copies the build machine's shared libraries that Qt and Python link: name
    # each with the Debian package it came from (licences: /usr/share/doc/<package>/copyright).
    printf '\nShared libraries copied from the build system (Debian packages; their licences are\nin /usr/share/doc/<package>/copyright on Debian):\n'
    find "$WORK/dist/labpbx/_internal" -maxdepth 1 -type f -name 'lib*.so*' ! -name 'libpython*' \
        -printf '%f\n' | LC_ALL=C sort \
        | while read -r lib; do
            local path pkg
            path=$(ldconfig -p | awk -v l="$lib" '$1 == l {print $NF; exit}' || true)
            pkg=""
            if [ -n "$path" ]; then
                pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n1 | cut -d: -f1 || true)
                [ -n "$pkg" ] || pkg=$(dpkg -S "$path" 2>/dev/null | head -n1 | cut -d: -f1 || true)
            fi
            printf '  %s: %s\n' "$lib" "${pkg:-not from a Debian package (a wheel)}"
        done
}

# What the bundle needs from the system. PortAudio: sounddevice loads the system's library with
# ctypes.util.find_library, which never looks inside the bundle. The X11/xcb libraries: Qt's
# xcb platform plugin (ui/platform_check.py lists them). EGL/GL/fontconfig/freetype/dbus/ALSA:
# Qt and PortAudio link them. glibc: the floor of the build machine's Python.
DEPENDS="libc6 (>= 2.35), libgcc-s1, libstdc++6, libportaudio2, libasound2, libegl1, libgl1, libopengl0, libfontconfig1, \
libfreetype6, libdbus-1-3, libglib2.0-0, libx11-6, libx11-xcb1, libxkbcommon0, libxkbcommon-x11-0, \
libxcb1, libxcb-cursor0, libxcb-icccm4, libxcb-image0, libxcb-keysyms1, libxcb-randr0, \
libxcb-render0, libxcb-render-util0, libxcb-shape0, libxcb-shm0, libxcb-sync1, libxcb-xfixes0, \
libxcb-xkb1, libxcb-util1, libxcb-glx0, libwayland-client0, libdrm2, zlib1g, libzstd1, liblzma5, \
libbz2-1.0, libbrotli1, libgssapi-krb5-2, libwayland-cursor0, libwayland-egl1"
RECOMMENDS="fonts-wqy-microhei"  # the window's Chinese translation needs a CJK font

stage_deb() {
    local ver=$1 root=$WORK/deb/root
    rm -rf "$WORK/deb" && mkdir -p "$root/DEBIAN"
    install -d "$root/opt" "$root/usr/bin" "$root/usr/share/applications" "$root/usr/share/metainfo" \
        "$root/usr/share/doc/labpbx" "$root/usr/share/man/man1" "$root/usr/share/lintian/overrides" \
        "$root/usr/share/icons/hicolor/scalable/apps"
    cp -a "$WORK/dist/labpbx" "$root/opt/labpbx"
    # Data files are read-only for everyone but root; the bundle writes nothing under /opt.
    find "$root/opt/labpbx" -type d -exec chmod 755 {} +
    find "$root/opt/labpbx" -type f -exec chmod 644 {} +
    chmod 755 "$root/opt/labpbx/labpbx"
    ln -s /opt/labpbx/labpbx "$root/usr/bin/labpbx"
    install -m 644 packaging/linux/$APP_ID.desktop "$root/usr/share/applications/"
    sed -e "s/@VERSION@/$ver/" -e "s/@DATE@/$(date -u -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}" +%F)/" \
        packaging/linux/$APP_ID.metainfo.xml >"$root/usr/share/metainfo/$APP_ID.metainfo.xml"
    chmod 644 "$root/usr/share/metainfo/$APP_ID.metainfo.xml"
    install -m 644 assets/icons/labpbx.svg "$root/usr/share/icons/hicolor/scalable/apps/$APP_ID.svg"
    for size in 16 32 48 64 128 256 512; do
        install -d "$root/usr/share/icons/hicolor/${size}x${size}/apps"
        install -m 644 "$WORK/icons/labpbx-$size.png" "$root/usr/share/icons/hicolor/${size}x${size}/apps/$APP_ID.png"
    done
    install -m 644 packaging/linux/copyright "$root/usr/share/doc/labpbx/copyright"
    sed "s/@VERSION@/$ver/" packaging/linux/labpbx.1 | gzip -9n >"$root/usr/share/man/man1/labpbx.1.gz"
    printf 'labpbx (%s) unstable; urgency=medium\n\n  * Release %s (see the project history).\n\n -- %s  %s\n' \
        "$ver" "$ver" "$MAINTAINER" "$(date -R -u -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")" \
        | gzip -9n >"$root/usr/share/doc/labpbx/changelog.gz"
    install -m 644 packaging/linux/lintian-overrides "$root/usr/share/lintian/overrides/labpbx"
    chmod 644 "$root/usr/share/doc/labpbx/changelog.gz" "$root/usr/share/man/man1/labpbx.1.gz"
    local size
    size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
    cat >"$root/DEBIAN/control" <<EOF
Package: labpbx
Version: $ver
Architecture: amd64
Maintainer: $MAINTAINER
Installed-Size: $size
Depends: $DEPENDS
Recommends: $RECOMMENDS
Section: comm
Priority: optional
Description: SIP call-forwarding lab on this computer
 LabPBX runs a SIP proxy with an OpenSIPS-style routing script, virtual phones
 and a voicemail box on 127.0.0.1, and shows every call in a window: the SIP
 ladder, the routing decisions, the voicemail messages. Made for classrooms and
 demonstrations. The program is a self-contained bundle under /opt/labpbx
 (Python, Qt, pjsip); "labpbx doctor" checks the machine for it.
EOF
}

deb() {
    local force=${1:-} ver name stamp hash
    ver=$(version)
    name="$DIST/labpbx_${ver}_amd64.deb"
    stamp="$DIST/.labpbx-deb.stamp"
    hash=$(inputs_hash)
    if [ "$force" != "--force" ] && [ -f "$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$hash" ]; then
        say "packaging: $name is up to date (inputs unchanged; --force rebuilds)"
        return 0
    fi
    for tool in dpkg-deb desktop-file-validate appstreamcli lintian; do
        command -v "$tool" >/dev/null || { say "packaging: $tool is missing. Fix: ./dev setup" >&2; exit 1; }
    done
    local t0 t1 t2
    t0=$(date +%s)
    bundle
    stage_deb "$ver"
    depends_check
    t1=$(date +%s)
    rm -f "$name" "$stamp"
    dpkg-deb --build --root-owner-group -Zxz "$WORK/deb/root" "$name" >"$WORK/dpkg-deb.log" 2>&1 \
        || fail_with_log dpkg-deb "$WORK/dpkg-deb.log"
    t2=$(date +%s)
    say "packaging: $name: $(du -h "$name" | cut -f1) (.deb), installed $(grep '^Installed-Size' "$WORK/deb/root/DEBIAN/control" | cut -d' ' -f2) KiB; dpkg-deb $((t2 - t1)) s"
    check "$name"
    echo "$hash" >"$stamp"
    say "packaging: built $name in $(( $(date +%s) - t0 )) s"
}

depends_check() {
    # Every library a file of the bundle links directly (ELF NEEDED) that is not in the bundle
    # must come from a package in Depends: a missing Depends is a program that does not start
    # on a fresh system. (Their own dependencies come with those packages.)
    local bundle=$ROOT/$WORK/deb/root/opt/labpbx needed name path pkg missing="" notfound="" wanted
    needed=$(find "$bundle" -type f \( -name '*.so*' -o -name labpbx \) -exec readelf -d {} + 2>/dev/null \
        | awk -F'[][]' '/\(NEEDED\)/ {print $2}' | sort -u)
    wanted=" $(printf '%s' "$DEPENDS" | tr ',' '\n' | awk '{print $1}' | tr '\n' ' ') "
    for name in $needed; do
        [ -n "$(find "$bundle" -name "$name" -print -quit)" ] && continue
        path=$(ldconfig -p | awk -v l="$name" '$1 == l && /x86-64/ {print $NF; exit}' || true)
        if [ -z "$path" ]; then notfound="$notfound $name"; continue; fi
        pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n1 | cut -d: -f1 || true)
        [ -n "$pkg" ] || pkg=$(dpkg -S "$path" 2>/dev/null | head -n1 | cut -d: -f1 || true)
        case "$wanted" in *" ${pkg:-?} "*) ;; *) missing="$missing ${pkg:-?}($name)" ;; esac
    done
    if [ -n "$missing" ]; then
        say "packaging: the bundle links libraries of packages missing from Depends:$missing" >&2
        exit 1
    fi
    say "packaging: Depends covers every library the bundle links${notfound:+ (not on this build machine:$notfound)}"
}

check() {
    local deb=$1 root=$WORK/deb/root log=$WORK/lintian.log
    desktop-file-validate "$root/usr/share/applications/$APP_ID.desktop"
    appstreamcli validate --no-net --explain "$root/usr/share/metainfo/$APP_ID.metainfo.xml" \
        >"$WORK/appstream.log" 2>&1 || fail_with_log "appstreamcli validate" "$WORK/appstream.log"
    say "packaging: desktop-file-validate and appstreamcli validate: clean"
    # Every tag lintian may still report is overridden with its reason in
    # packaging/linux/lintian-overrides (installed with the package); anything else fails.
    lintian --info --fail-on error,warning "$deb" >"$log" 2>&1 || fail_with_log lintian "$log"
    say "packaging: lintian: $(grep -c . "$log" || true) line(s) left ($(grep -c '^[EW]:' "$log" || true) errors/warnings), see $log"
}

MAINTAINER=${LABPBX_MAINTAINER:-"LabPBX developers <labpbx@example.org>"}
case "${1:-}" in
    deb) deb "${2:-}" ;;
    bundle) bundle ;;
    *) say "usage: packaging/build.sh deb [--force] | bundle" >&2; exit 2 ;;
esac
