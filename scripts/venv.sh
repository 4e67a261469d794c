#!/usr/bin/env bash
# Create (or reuse) .venv at the repository root with the pinned packages of
# requirements-test.txt. Re-installs only when that file changed. Sourced by test.sh and demo.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
VENV="$ROOT/.venv"
STAMP="$VENV/.requirements-test.txt"
if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$ROOT/requirements-test.txt" "$STAMP"; then
  echo "setting up $VENV (pinned packages from requirements-test.txt)..." >&2
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$ROOT/requirements-test.txt" 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" >&2 || true
  "$VENV/bin/python" -c "import bpy, numpy, torch" >/dev/null
  cp "$ROOT/requirements-test.txt" "$STAMP"
fi
