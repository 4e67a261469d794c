"""Ctrl-C stops a neural-engine run (torch's loops, the tiny fixture weights) with nothing
written and nothing left in the temp folder: a real signal to a real `python -m` process."""
import os
import signal

import pytest
from helpers import signal_at, start_cli

from shared_paths import LJ_TEXT
from unitaf_tiny_models import SPEAKER, tiny_head_blend, tiny_model_dir

pytest.importorskip("torch")
bpy = pytest.importorskip("bpy")

# six GPT segments and 25 diffusion steps each: minutes on the tiny weights, stopped at the first
SCRIPT = (LJ_TEXT + ". ") * 6


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_ctrl_c_during_the_gpt_stops_the_run_and_writes_nothing(tmp_path, temp_folder):
    head = tiny_head_blend(bpy, tmp_path / "in.blend", ("jawOpen",))
    out = tmp_path / "out"
    out.mkdir()
    proc = start_cli(temp_folder, "generate", "--blend", head, "--object", "Head", "--text", SCRIPT,
                     "--engine", "unitaf", "--model-dir", tiny_model_dir(), "--device", "cpu",
                     "--precision", "fp32", "--voice", SPEAKER, "--save", out / "take.blend",
                     "--export", out / "take.npz")
    err = signal_at(proc, "GPT", signal.SIGINT)
    assert proc.returncode == -signal.SIGINT, err[-3000:]
    assert "interrupted: Ctrl-C (SIGINT)" in err and "Traceback" not in err, err[-3000:]
    assert "vocoder" not in err                   # stopped where it was, not after the work
    assert list(out.iterdir()) == []
    assert os.listdir(temp_folder) == []
