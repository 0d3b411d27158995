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
        local spec="."
        if [ -n "$extras" ]; then spec=".[$extras]"; fi
        .venv/bin/python -m pip install -q -e "$spec" >&2
        echo "$want" >> "$stamp"
    fi
}
