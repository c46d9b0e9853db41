# Sourced by scripts/check-iam and scripts/compare-policy-sentry: makes .venv-validators
# match scripts/validators/requirements.txt (re-installed when the pins change).
VENV=".venv-validators"
REQS="scripts/validators/requirements.txt"
ensure_validators_venv() {
  local stamp="$VENV/.requirements.sha256"
  local want
  want="$(sha256sum "$REQS" | cut -d' ' -f1)"
  if [[ ! -x "$VENV/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    echo "==> installing validators into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQS"
    echo "$want" >"$stamp"
  fi
}
