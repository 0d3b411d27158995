#!/usr/bin/env bash
# Wrap a built Linux bundle (dist/<flavour>/Polychrome) as an AppImage.
#
#   packaging/linux/make_appimage.sh [BUNDLE_DIR] [OUT.AppImage]
#
# Needs appimagetool (https://github.com/AppImage/appimagetool/releases: appimagetool-x86_64.AppImage) on PATH or
# in $APPIMAGETOOL. NOT RUN in the development sandbox (no appimagetool offline); the tarball is the tested format.
# Build on the oldest distribution you support: the bundle needs the build machine's glibc version or newer.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bundle=${1:-$root/dist/cpu/Polychrome}
version=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$root/app/polychrome/__init__.py")
arch=$(uname -m)
out=${2:-$(dirname "$bundle")/Polychrome-$version-$arch.AppImage}
tool=${APPIMAGETOOL:-$(command -v appimagetool || command -v appimagetool-x86_64.AppImage || true)}
[ -x "$bundle/polychrome-gui" ] || { echo "no bundle at $bundle (run packaging/build.py first)" >&2; exit 1; }
[ -n "$tool" ] || { echo "appimagetool not found (set APPIMAGETOOL)" >&2; exit 1; }

appdir=$(mktemp -d)/Polychrome.AppDir
trap 'rm -rf "$(dirname "$appdir")"' EXIT
mkdir -p "$appdir/usr/lib" "$appdir/usr/share/applications" "$appdir/usr/share/icons/hicolor/256x256/apps"
cp -a "$bundle" "$appdir/usr/lib/polychrome"
install -m 755 "$here/AppRun" "$appdir/AppRun"
cp "$here/polychrome.desktop" "$appdir/polychrome.desktop"
cp "$here/polychrome.desktop" "$appdir/usr/share/applications/polychrome.desktop"
cp "$root/resources/icon.png" "$appdir/polychrome.png"
cp "$root/resources/icon.png" "$appdir/usr/share/icons/hicolor/256x256/apps/polychrome.png"
ln -s polychrome.png "$appdir/.DirIcon"
ARCH=$arch "$tool" "$appdir" "$out"
echo "$out"
