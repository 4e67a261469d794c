"""bench/device_check.sh --dry-run: the GPU check's plan prints and every step's script imports
and takes its arguments, on a machine without a GPU, quickly."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_device_check_dry_run_prints_the_plan():
    out = subprocess.run(["bash", "bench/device_check.sh", "--dry-run"], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHON": sys.executable}, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert "plan (dry run" in text
    for step in ("1. gpt precision and decode", "2. s2mel + bigvgan fp16", "3. s2mel + bigvgan bf16",
                 "4. gpt static cache + cuda graph", "5. pipeline 5 s, beams 1", "6. pipeline 5 s, beams 3",
                 "7. text emotion fp32 + fp16"):
        assert step in text, step
    assert "--device cuda --beams 1" in text and "graph step: imports ok" in text
    assert "time limits add up to 480 s" in text


def test_device_check_refuses_unknown_arguments():
    out = subprocess.run(["bash", "bench/device_check.sh", "--dry-rn"], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHON": sys.executable}, timeout=60)
    assert out.returncode == 2 and "unknown argument" in out.stderr
