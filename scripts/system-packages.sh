#!/usr/bin/env bash
# System libraries the Qt GUI (PySide6-Essentials wheels) needs to start on a desktop (the xcb platform plugin
# and its X11/xcb libraries) and offscreen in CI, plus Xvfb so CI can start the app on a real X server.
# Installs them when run as root on a system with apt-get and when any is missing; otherwise does nothing.
#
# The list is what `objdump -p` names as NEEDED by PySide6/Qt/plugins/platforms/libqxcb.so,
# Qt/lib/libQt6XcbQpa.so.6, the xcbglintegrations plugins and QtCore/Gui/Widgets/DBus/OpenGL, minus what the
# wheel bundles (ICU, Qt): check with `ldd .venv/lib/python3*/site-packages/PySide6/Qt/plugins/platforms/libqxcb.so
# | grep "not found"` (tests/test_gui_xcb.py does, and starts the app under Xvfb with QT_QPA_PLATFORM=xcb).
set -euo pipefail

PACKAGES=(
    # OpenGL / EGL, fonts, D-Bus, GLib, compression (QtGui, QtCore, QtDBus)
    libegl1 libgl1 libfontconfig1 libfreetype6 fonts-dejavu-core libdbus-1-3 libglib2.0-0 libzstd1 zlib1g
    # X11 and the xcb platform plugin (libqxcb.so, libQt6XcbQpa.so.6, xcbglintegrations)
    libx11-6 libx11-xcb1 libxcb1 libxkbcommon0 libxkbcommon-x11-0
    libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render0 libxcb-render-util0
    libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-util1 libxcb-xfixes0 libxcb-xkb1 libxcb-glx0
    # a virtual X server for CI's start of the real app (xvfb-run needs xauth; xwininfo checks the window)
    xvfb xauth x11-utils
)

if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ "${#missing[@]}" -eq 0 ] && exit 0

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
