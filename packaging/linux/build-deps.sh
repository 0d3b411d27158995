#!/usr/bin/env bash
# System libraries a Linux build machine needs so that PyInstaller can bundle Qt's xcb (X11) platform plugin
# completely (Debian/Ubuntu names). Without them the build still succeeds, with "Library not found" warnings, and
# the bundle then relies on the user's system having them. Run as root.
set -euo pipefail
apt-get install -y --no-install-recommends \
    libegl1 libgl1 libx11-6 libx11-xcb1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libfreetype6 libdbus-1-3 \
    libglib2.0-0 libzstd1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 \
    libxcb-render-util0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 libwayland-client0 libwayland-cursor0 libwayland-egl1
