#!/bin/sh
# Put Polychrome in the desktop's application menu and the polychrome command on PATH, for the current user.
# Run it from the unpacked tarball: ./install-desktop-entry.sh   (./install-desktop-entry.sh --remove undoes it)
# It writes ~/.local/share/applications/polychrome.desktop, the icon under ~/.local/share/icons and a link
# ~/.local/bin/polychrome; the program stays where it was unpacked.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
apps="$data/applications"
icons="$data/icons/hicolor/256x256/apps"
bin="$HOME/.local/bin"
if [ "${1:-}" = "--remove" ]; then
    rm -f "$apps/polychrome.desktop" "$icons/polychrome.png"
    [ -L "$bin/polychrome" ] && rm -f "$bin/polychrome"
    echo "removed the desktop entry and $bin/polychrome"
    exit 0
fi
[ -x "$here/polychrome-gui" ] || { echo "run this script from the unpacked Polychrome folder" >&2; exit 1; }
mkdir -p "$apps" "$icons" "$bin"
cp "$here/_internal/resources/icon.png" "$icons/polychrome.png"
sed -e "s|^Exec=.*|Exec=\"$here/polychrome-gui\" %F|" -e "s|^Icon=.*|Icon=$icons/polychrome.png|" \
    "$here/polychrome.desktop" > "$apps/polychrome.desktop"
ln -sf "$here/polychrome" "$bin/polychrome"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$apps" 2>/dev/null || true
echo "Polychrome is in the application menu; the command line is $bin/polychrome"
