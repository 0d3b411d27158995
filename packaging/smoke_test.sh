#!/usr/bin/env bash
# Build the Linux bundle and prove that the frozen app works: `polychrome self-test` colorizes the sample photo
# with a model (exit 0), the GUI starts offscreen and quits by itself (exit 0), the bundle holds what it must and
# none of what it must not. Reports the bundle size, the archive size and the GUI's cold-start time.
#
#   packaging/smoke_test.sh                   # CPU flavour into build/smoke/ (git-ignored)
#   packaging/smoke_test.sh --with-training   # the training flavour (adds a 2-step training run)
#   packaging/smoke_test.sh --fresh           # make the build environment again from nothing
#   SMOKE_OUT=/tmp/pc-smoke packaging/smoke_test.sh        # build somewhere else
#   SMOKE_SKIP_BUILD=1 packaging/smoke_test.sh             # test the bundle that is already there
#
# Runs everything under `nice -n 15` (training jobs have priority). Needs python3 ≥ 3.10 with venv and, to make a
# test model when models/ has none, the dev environment .venv (onnx; override with DEV_PYTHON).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
NICE=(nice -n 15)
T_START=$(date +%s.%N)

flavour=cpu
build_args=()
tag=cpu
for arg in "$@"; do
    case "$arg" in
        --with-training) build_args+=(--with-training); tag=cpu-train ;;
        --fresh) build_args+=(--fresh) ;;
        *) echo "unknown option: $arg" >&2; exit 2 ;;
    esac
done
OUT=${SMOKE_OUT:-$ROOT/build/smoke}
DIST="$OUT/dist-$tag"
BUNDLE="$DIST/Polychrome"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok:   $*"; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }

# -- build ---------------------------------------------------------------------------------------------------------
if [ "${SMOKE_SKIP_BUILD:-0}" != "1" ]; then
    t0=$(date +%s.%N)
    "${NICE[@]}" python3 packaging/build.py --flavour "$flavour" "${build_args[@]}" --package \
        --venv "$ROOT/build/venv-$tag" --dist "$DIST" --work "$OUT/work-$tag"
    echo "build: $(secs "$t0" "$(date +%s.%N)") s"
fi
[ -x "$BUNDLE/polychrome" ] && [ -x "$BUNDLE/polychrome-gui" ] || { echo "no bundle at $BUNDLE" >&2; exit 1; }

# -- contents --------------------------------------------------------------------------------------------------------
INTERNAL="$BUNDLE/_internal"
for must in resources/sample.jpg resources/icon.png models/README.md licenses/Polychrome-LICENSE.txt \
            licenses/third-party BUILD-INFO.json PySide6/Qt/plugins/platforms/libqxcb.so \
            PySide6/Qt/plugins/platforms/libqoffscreen.so onnxruntime/capi; do
    [ -e "$INTERNAL/$must" ] && ok "bundle has $must" || fail "bundle lacks $must"
done
for ort in onnxruntime_gpu onnxruntime_directml; do
    ls -d "$INTERNAL"/${ort}* >/dev/null 2>&1 && fail "a second onnxruntime flavour: $ort"
done
# what must stay out (torch only without --with-training)
banned=(tkinter _tkinter.*.so PyQt5 PyQt6 PySide2 PySide6/QtQml.*.so PySide6/QtQuick.*.so PySide6/QtNetwork.*.so
        'PySide6/Qt/lib/libQt6Qml*' 'PySide6/Qt/lib/libQt6Quick*' 'PySide6/Qt/lib/libQt6WebEngine*'
        'PySide6/Qt/lib/libQt63D*' 'PySide6/Qt/lib/libQt6Multimedia*' PySide6/Qt/qml PySide6/Qt/translations)
[ "$tag" = cpu ] && banned+=(torch onnx sympy)
for b in "${banned[@]}"; do
    # shellcheck disable=SC2086
    if compgen -G "$INTERNAL/$b" >/dev/null; then fail "bundle has $b"; fi
done
if [ "$tag" = cpu-train ]; then
    [ -d "$INTERNAL/torch" ] && ok "bundle has torch" || fail "training bundle lacks torch"
fi
nbad=$(python3 - "$INTERNAL/BUILD-INFO.json" <<'EOF'
import json, sys
info = json.load(open(sys.argv[1]))
pk = {k.lower() for k in info["packages"]}
print(sum(x in pk for x in ("onnxruntime-gpu", "onnxruntime-directml")) + ("onnxruntime" not in pk))
EOF
)
[ "$nbad" = 0 ] && ok "BUILD-INFO: exactly one onnxruntime (onnxruntime)" || fail "BUILD-INFO lists the wrong onnxruntime"

# -- a model -----------------------------------------------------------------------------------------------------------
export POLYCHROME_USER_MODELS="$TMP/user-models"   # never the real per-user folder
export XDG_CONFIG_HOME="$TMP/config"               # the GUI's settings
unset POLYCHROME_DEFAULT_MODEL PYTHONPATH
if compgen -G "models/*.onnx" >/dev/null; then
    echo "using the shipped model(s): $(ls models/*.onnx | xargs -n1 basename | tr '\n' ' ')"
    unset POLYCHROME_MODEL_PATH
else
    DEV_PYTHON=${DEV_PYTHON:-$ROOT/.venv/bin/python}
    mkdir -p "$TMP/models"
    PYTHONPATH="$ROOT/app:$ROOT/tests" "${NICE[@]}" "$DEV_PYTHON" - "$TMP/models/smoke-test.onnx" <<'EOF'
import sys
from pathlib import Path
from polychrome.core.bins import in_gamut_bins
from onnx_models import conv_model
conv_model(Path(sys.argv[1]), in_gamut_bins(), name="smoke-test", input_size=256)
EOF
    export POLYCHROME_MODEL_PATH="$TMP/models"
    echo "models/ has no .onnx: using a generated test model ($POLYCHROME_MODEL_PATH/smoke-test.onnx)"
fi

# -- the frozen command line ------------------------------------------------------------------------------------------
cd "$TMP"   # nothing may come from the checkout
if "${NICE[@]}" "$BUNDLE/polychrome" self-test --require-model --out "$TMP/sample_color.png" > "$TMP/selftest.log" 2>&1; then
    ok "frozen 'polychrome self-test --require-model' exited 0"
else
    fail "frozen self-test exited $?"
fi
sed 's/^/      /' "$TMP/selftest.log"
grep -q "colorize sample.jpg" "$TMP/selftest.log" && ok "self-test colorized the bundled sample.jpg" \
    || fail "self-test did not colorize the bundled sample.jpg"
[ -s "$TMP/sample_color.png" ] && ok "self-test wrote a colorized PNG" || fail "no colorized PNG"
"${NICE[@]}" "$BUNDLE/polychrome" --version | grep -q "polychrome $(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$ROOT/app/polychrome/__init__.py")" \
    && ok "polychrome --version" || fail "polychrome --version"
if "${NICE[@]}" "$BUNDLE/polychrome" colorize "$INTERNAL/resources/sample.jpg" -o "$TMP/out" --no-progress > "$TMP/colorize.log" 2>&1 \
    && compgen -G "$TMP/out/*" >/dev/null; then
    ok "frozen 'polychrome colorize' wrote $(ls "$TMP/out")"
else
    fail "frozen colorize"; cat "$TMP/colorize.log"
fi
if [ "$tag" = cpu-train ]; then
    mkdir -p "$TMP/photos"
    for i in 1 2 3 4; do cp "$INTERNAL/resources/sample.jpg" "$TMP/photos/p$i.jpg"; done
    if "${NICE[@]}" "$BUNDLE/polychrome" train "$TMP/photos" --out smoke-trained --size 64 --epochs 1 --checkpoint-dir "$TMP/ckpt" \
        --batch-size 2 --max-steps 2 --output "$TMP/trained.onnx" > "$TMP/train.log" 2>&1 && [ -s "$TMP/trained.onnx" ]; then
        ok "frozen 'polychrome train' (2 steps) exported $TMP/trained.onnx"
    else
        fail "frozen train"; tail -20 "$TMP/train.log"
    fi
fi

# -- the frozen GUI, offscreen ------------------------------------------------------------------------------------------
# Run 1 is a cold start: the bundle's files are first dropped from the page cache (posix_fadvise DONTNEED on each
# file: only this bundle, nothing else of the machine's cache). Runs 2 and 3 are warm.
evict() {
    python3 - "$BUNDLE" <<'EOF'
import os, sys
n = 0
for d, _, files in os.walk(sys.argv[1]):
    for f in files:
        try:
            fd = os.open(os.path.join(d, f), os.O_RDONLY)
        except OSError:
            continue
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            n += 1
        finally:
            os.close(fd)
print(f"evicted {n} bundle files from the page cache")
EOF
}
starts=()
for run in 1 2 3; do
    [ "$run" = 1 ] && { sync; evict; }
    t0=$(date +%s.%N)
    if POLYCHROME_STARTUP_TIMING=$t0 QT_QPA_PLATFORM=offscreen "${NICE[@]}" "$BUNDLE/polychrome-gui" --quit-after 3000 \
        > "$TMP/gui$run.log" 2>&1; then
        rc=0
    else
        rc=$?
    fi
    line=$(grep "startup:" "$TMP/gui$run.log" || true)
    if [ "$rc" = 0 ] && [ -n "$line" ] && ! grep -q "Traceback" "$TMP/gui$run.log"; then
        ok "GUI run $run (offscreen, --quit-after 3000) exited 0 after $(secs "$t0" "$(date +%s.%N)") s: ${line#*startup: }"
        starts+=("$(sed -n 's/.*first paint \([0-9.]*\) s.*/\1/p' <<<"$line")")
    else
        fail "GUI run $run exited $rc"; cat "$TMP/gui$run.log"
    fi
done
if command -v xvfb-run >/dev/null 2>&1; then  # the real X11 (xcb) platform plugin, on a virtual screen
    if QT_QPA_PLATFORM=xcb "${NICE[@]}" xvfb-run -a -s "-screen 0 1280x800x24" "$BUNDLE/polychrome-gui" --quit-after 3000 \
        > "$TMP/gui-xcb.log" 2>&1 && ! grep -q "Traceback" "$TMP/gui-xcb.log"; then
        ok "GUI on X11 (xcb plugin, Xvfb) exited 0"
    else
        fail "GUI on X11 (xcb, Xvfb)"; cat "$TMP/gui-xcb.log"
    fi
else
    echo "skip: xvfb-run not installed (the xcb platform plugin was not tried)"
fi

# -- report ---------------------------------------------------------------------------------------------------------------
echo
echo "bundle:      $BUNDLE"
echo "size:        $(du -sm "$BUNDLE" | cut -f1) MiB on disk, $(find "$BUNDLE" -type f | wc -l) files"
for f in "$DIST"/*.tar.gz; do [ -f "$f" ] && echo "archive:     $f ($(du -m "$f" | cut -f1) MiB)"; done
[ "${#starts[@]}" -gt 0 ] && echo "start-up:    first paint of the main window after launch: ${starts[*]} s (run 1 cold: bundle not in the page cache; runs 2-3 warm)"
echo "smoke test:  $(secs "$T_START" "$(date +%s.%N)") s in all"
if [ "$failures" -gt 0 ]; then
    echo "SMOKE TEST FAILED ($failures)"
    exit 1
fi
echo "SMOKE TEST PASSED"
