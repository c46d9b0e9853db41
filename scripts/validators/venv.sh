# Sourced by the validator scripts: creates or updates .venv-validators from the
# pinned requirements (only when they changed) and puts it first on PATH.
VENV=".venv-validators"
REQS="scripts/validators/requirements.txt"
STAMP="$VENV/.requirements.sha256"
want="$(sha256sum "$REQS" | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/python" || "$(cat "$STAMP" 2>/dev/null)" != "$want" ]]; then
  echo "==> installing pinned validators into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQS"
  echo "$want" > "$STAMP"
fi
export PATH="$PWD/$VENV/bin:$PATH"
