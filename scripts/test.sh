#!/usr/bin/env bash
# The test command (README): sets up .venv with pinned packages, lints the tree (ruff.toml),
# then runs the whole suite. Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/core -q`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/venv.sh"
cd "$ROOT"
"$ROOT/.venv/bin/ruff" check .
exec "$ROOT/.venv/bin/python" -m pytest "$@"
