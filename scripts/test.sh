#!/usr/bin/env bash
# README's test command: install what the tests need, then run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
exec python3 -m pytest -n 2 --dist loadgroup "$@"
