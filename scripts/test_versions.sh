#!/usr/bin/env bash
# Run the Blender-facing test suite on other Blender versions (bpy modules from PyPI):
#   bpy 4.2.23 LTS and 4.5.8 LTS on Python 3.11, bpy 5.2.3 LTS on Python 3.13.
# Each version gets its own venv under .venv-bpy<ver>/. The torch model tests do not depend
# on Blender and run only in the main .venv (CPU torch 2.13.0 exists for Python 3.11 only).
# Usage: bash scripts/test_versions.sh [4.2.23 4.5.8 5.2.3]   (results in out/versions/*.log)
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
mkdir -p out/versions
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(4.2.23 4.5.8 5.2.3)
status=0
for v in "${versions[@]}"; do
  case "$v" in
    5.1.*|5.2.*) py=(env PYENV_VERSION=3.13.0 python3.13) ;;
    *) py=(python3.11) ;;
  esac
  venv=".venv-bpy$v"
  if [ ! -x "$venv/bin/python" ]; then
    "${py[@]}" -m venv "$venv" && "$venv/bin/pip" install -q "bpy==$v" pytest soundfile espeakng-loader==0.2.4 PyYAML \
      hibari-tts==0.2.1 onnxruntime==1.32.0 \
      2>&1 | grep -v "is ignored" || true
  fi
  log="out/versions/bpy-$v.log"
  "$venv/bin/python" -m pytest -q -p no:cacheprovider --ignore=tests/unitaf tests >"$log" 2>&1
  rc=$?
  echo "bpy $v: $(tail -n 1 "$log") (exit $rc, log $log)"
  [ $rc -eq 0 ] || status=1
done
exit $status
