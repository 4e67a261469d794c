#!/usr/bin/env bash
# The main job (README): the embedded engine on the procedural demo head. Writes
# out/demo.blend, out/demo.wav and a preview render. Extra arguments go to the demo command,
# e.g. `bash scripts/demo.sh --text "[angry] Not again!" --emotion angry:0.9`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/venv.sh"
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m unitaf_blender demo "$@"
