# Shared by scripts/run and scripts/test: create .venv and install the project (editable) with extras.
# Re-installs only when pyproject.toml or the requested extras changed.
polychrome_setup() {
    local extras="$1"
    local py="${PYTHON:-python3}"
    if [ ! -x .venv/bin/python ]; then
        "$py" -m venv .venv
    fi
    local stamp=".venv/.polychrome-installed"
    local want
    want="$(cat pyproject.toml | sha1sum | cut -c1-16) [$extras]"
    if [ ! -f "$stamp" ] || ! grep -qxF -- "$want" "$stamp"; then
        .venv/bin/python -m pip install -q --upgrade pip >&2
        if [[ "$extras" == *train* ]] && ! .venv/bin/python -c "import torch" 2>/dev/null; then
            # The CPU build first, so that the 'train' extra's torch requirement is already satisfied
            # (a plain 'torch' would pull the CUDA build). Override with TORCH_SPEC / TORCH_INDEX_URL.
            local torch_args=("${TORCH_SPEC:-torch==2.13.0}")
            if [ -n "${TORCH_INDEX_URL:-}" ]; then torch_args+=(--index-url "$TORCH_INDEX_URL"); fi
            .venv/bin/python -m pip install -q "${torch_args[@]}" >&2
        fi
        local spec="."
        if [ -n "$extras" ]; then spec=".[$extras]"; fi
        .venv/bin/python -m pip install -q -e "$spec" >&2
        echo "$want" >> "$stamp"
    fi
}
