"""The benchmark scripts that no other test runs still run against the code as it is now (a
benchmark that breaks unseen reports nothing when it is needed). Tiny models: what is checked is
that each script runs to its end and says what it should, never a time."""
import subprocess
import sys

from shared_paths import ROOT


def test_compare_text_emotion_runs_beside_another_tree():
    """This tree beside itself (as it would beside an older checkout): both decode the same
    scripted answers through their own modules."""
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "compare_text_emotion.py"),
                           "--other", str(ROOT), "--runs", "1", "--threads", "1", "--tiny"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "same answers: True" in done.stdout
    assert "this tree, 10 sentences: median" in done.stdout and "other tree, 1 sentence: median" in done.stdout
