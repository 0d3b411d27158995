#!/usr/bin/env bash
# Wrap Polychrome.app (built by packaging/build.py on macOS) in a compressed disk image with an /Applications link.
#
#   packaging/macos/make_dmg.sh dist/coreml/Polychrome.app dist/coreml/Polychrome-0.1.0-macos-coreml.dmg 0.1.0
#
# Optional signing and notarisation (both skipped when the variables are unset; an unsigned app must be opened
# with right-click > Open the first time):
#   CODESIGN_IDENTITY="Developer ID Application: ..."   sign the app (hardened runtime) and the image
#   NOTARY_PROFILE=<keychain profile of 'xcrun notarytool store-credentials'>   notarise and staple
# NOT RUN in the development sandbox (Linux); run it on a Mac.
set -euo pipefail
app=${1:?usage: make_dmg.sh APP OUT.dmg [VERSION]}
out=${2:?usage: make_dmg.sh APP OUT.dmg [VERSION]}
version=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
[ -d "$app/Contents/MacOS" ] || { echo "not an app bundle: $app" >&2; exit 1; }

if [ -n "${CODESIGN_IDENTITY:-}" ]; then
    # PyInstaller has already ad-hoc signed every binary; re-sign with the real identity, inside out.
    codesign --force --deep --timestamp --options runtime \
        --entitlements "$here/entitlements.plist" --sign "$CODESIGN_IDENTITY" "$app"
    codesign --verify --deep --strict --verbose=2 "$app"
fi

staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
cp -R "$app" "$staging/"
ln -s /Applications "$staging/Applications"
rm -f "$out"
hdiutil create -volname "Polychrome${version:+ $version}" -srcfolder "$staging" -fs HFS+ -format UDZO \
    -imagekey zlib-level=9 -ov "$out"

if [ -n "${CODESIGN_IDENTITY:-}" ]; then
    codesign --force --timestamp --sign "$CODESIGN_IDENTITY" "$out"
    if [ -n "${NOTARY_PROFILE:-}" ]; then
        xcrun notarytool submit "$out" --keychain-profile "$NOTARY_PROFILE" --wait
        xcrun stapler staple "$out"
    fi
fi
echo "$out"
