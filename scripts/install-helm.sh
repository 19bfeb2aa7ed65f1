#!/usr/bin/env bash
# Helm's own code for the cockpit's Helm rollback and its tests: a Python 3.12 venv with
# helm-sdkpy (Helm v4's Go library; the tests install and upgrade charts with it) and
# helm-python-sdk (Helm v4's action.Rollback with a wait strategy, which helm-sdkpy 0.1.32's
# Rollback lacks). Idempotent, quiet, and fast when already there.
# Where: $COCKPIT_HELM_VENV (default /opt/helmpy). Python 3.12: $COCKPIT_PYTHON312, else pyenv's
# 3.12, else python3.12 on PATH.
set -euo pipefail
VENV="${COCKPIT_HELM_VENV:-/opt/helmpy}"
if "$VENV/bin/python" -c 'import helm_sdkpy, helm_python' >/dev/null 2>&1; then
  exit 0
fi
PY="${COCKPIT_PYTHON312:-}"
if [ -z "$PY" ]; then
  for c in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12 /root/.pyenv/versions/3.12*/bin/python3.12; do
    [ -x "$c" ] && PY="$c" && break
  done
fi
[ -z "$PY" ] && PY="$(command -v python3.12 || true)"
if [ -z "$PY" ]; then
  echo "install-helm.sh: no Python 3.12 found (set COCKPIT_PYTHON312)" >&2
  exit 1
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check 'helm-sdkpy==0.1.32' 'helm-python-sdk==0.2.2' 2>&1 \
  | grep -v "is ignored: it is neither a file nor a directory" >&2 || true
"$VENV/bin/python" -c 'import helm_sdkpy, helm_python' >/dev/null
