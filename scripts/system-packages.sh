#!/usr/bin/env bash
# System libraries the Qt GUI (PySide6-Essentials wheels) needs to start, including with
# QT_QPA_PLATFORM=offscreen in CI. Installs them when run as root on a system with apt-get and
# when any is missing; otherwise does nothing.
set -euo pipefail

PACKAGES=(libegl1 libgl1 libx11-6 libxkbcommon0 libfontconfig1 libfreetype6 libdbus-1-3 libglib2.0-0 libzstd1)

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
