"""The suite runs in a checkout whose folder name is not a Python identifier (a clone named
`UniTAF-for-Blender`): the root __init__.py must not be imported as a package by pytest."""
import os
import shutil
import subprocess
import sys

from shared_paths import ROOT


def test_suite_runs_in_a_folder_named_with_a_hyphen(tmp_path):
    checkout = tmp_path / "UniTAF-for-Blender"
    (checkout / "tests" / "core").mkdir(parents=True)
    for name in ("__init__.py", "pytest.ini"):
        shutil.copy(ROOT / name, checkout / name)
    shutil.copytree(ROOT / "unitaf_blender", checkout / "unitaf_blender",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("conftest.py", "shared_paths.py"):
        shutil.copy(ROOT / "tests" / name, checkout / "tests" / name)
    shutil.copy(ROOT / "tests" / "core" / "test_retime.py", checkout / "tests" / "core")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/core"],
                         cwd=checkout, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=""))
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert " passed" in run.stdout
