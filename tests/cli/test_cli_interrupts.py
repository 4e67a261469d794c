"""Ctrl-C and SIGTERM stop a headless run with nothing written, and no run leaves anything in the
system temp folder: real signals sent to a real `python -m unitaf_blender` process."""
import json
import os
import signal

import pytest
from cli_testutil import listing
from helpers import signal_at, start_cli

from shared_paths import LJ_TEXT
from unitaf_blender import cli, interrupts

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

SENTENCE = LJ_TEXT + ". "
LONG_TEXT = (SENTENCE * 200)[:19_000]     # one espeak call of several seconds, under the 20,000 limit


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_during_speech_stops_the_run_and_writes_nothing(head_blend, tmp_path, temp_folder, signum):
    out = tmp_path / "out"
    out.mkdir()
    text = tmp_path / "long.txt"
    text.write_text(LONG_TEXT)
    proc = start_cli(temp_folder, "generate", "--blend", head_blend, "--object", "FBHead", "--text-file", text,
                 "--save", out / "take.blend", "--export", out / "take.npz")
    err = signal_at(proc, "speech", signum)
    # ended by the signal itself (a shell reports 130 / 143), after saying so
    assert proc.returncode == -signum, err[-2000:]
    assert f"interrupted: {interrupts.describe(interrupts.Interrupted(signum))}" in err, err[-2000:]
    assert "Exception ignored" not in err and "Saved" not in err
    assert listing(out) == []                     # no .blend, no take audio, no export
    assert listing(temp_folder) == []


def test_ctrl_c_in_a_batch_writes_no_line(head_blend, tmp_path, temp_folder):
    lines = tmp_path / "lines.json"
    lines.write_text(json.dumps({"lines": [{"object": "FBHead", "text": LONG_TEXT[:6000]} for _ in range(3)]}))
    out = tmp_path / "out"
    out.mkdir()
    proc = start_cli(temp_folder, "batch", lines, "--blend", head_blend, "--save", out / "dialogue.blend")
    err = signal_at(proc, "line 2/3", signal.SIGINT)     # line 1 is keyed and its audio staged
    assert proc.returncode == -signal.SIGINT and "interrupted: Ctrl-C" in err, err[-2000:]
    assert listing(out) == []
    assert listing(temp_folder) == []


def test_nothing_is_left_in_the_temp_folder(head_blend, tmp_path, temp_folder):
    out = tmp_path / "out"
    out.mkdir()
    ok = start_cli(temp_folder, "generate", "--blend", head_blend, "--object", "FBHead", "--text", "Hello there.",
               "--save", out / "take.blend")
    assert ok.wait(timeout=600) == 0, ok.stderr.read()[-2000:]
    assert "take.blend" in listing(out)
    failed = start_cli(temp_folder, "generate", "--blend", head_blend, "--object", "Nobody", "--text", "Hello.",
                   "--save", out / "other.blend")
    assert failed.wait(timeout=600) == 2
    assert "no object named 'Nobody'" in failed.stderr.read()
    assert listing(temp_folder) == []          # neither Blender's session folder nor espeak's voice files


def test_an_interrupted_command_returns_130_and_gives_the_handlers_back(monkeypatch, capsys):
    """run() turns an interrupt into 130 (an in-process caller gets a code, never an exception)
    and gives the handlers it replaced back."""
    before = {s: signal.getsignal(s) for s in interrupts.STOP_SIGNALS}
    seen = {}

    def command(args):
        seen.update({s: signal.getsignal(s) for s in interrupts.STOP_SIGNALS})
        raise KeyboardInterrupt

    monkeypatch.setitem(cli.COMMANDS, "engines", command)
    assert cli.run(["engines"]) == 130
    assert "interrupted: Ctrl-C (SIGINT)" in capsys.readouterr().err
    assert set(seen.values()) == {interrupts._on_signal}
    assert {s: signal.getsignal(s) for s in interrupts.STOP_SIGNALS} == before


def _ours():
    # checked before any signal is sent to this process: else it would end the test session
    return all(signal.getsignal(s) is interrupts._on_signal for s in interrupts.STOP_SIGNALS)


def test_a_lost_signal_still_stops_the_run_before_it_writes():
    """A signal whose exception a library swallowed is caught at the commit point; once the
    outputs are being moved into place, a signal lets them finish (and a second one kills)."""
    raised = []
    with interrupts.stop_on_signals():
        assert _ours()
        try:
            os.kill(os.getpid(), signal.SIGINT)     # its handler runs before os.kill returns
        except interrupts.Interrupted as exc:
            raised.append(exc)                      # ... and is swallowed, as a C callback would
        assert signal.getsignal(signal.SIGINT) == signal.SIG_DFL   # a second Ctrl-C ends the process
        with pytest.raises(interrupts.Interrupted) as stopped:
            interrupts.commit_point()
    assert [e.exit_code for e in raised] == [130] and stopped.value.exit_code == 130
    with interrupts.stop_on_signals():
        assert _ours()
        interrupts.commit_point()
        try:
            os.kill(os.getpid(), signal.SIGTERM)    # while committing: no exception, the files complete
        except interrupts.Interrupted:
            pytest.fail("a signal after the commit point stopped the run")
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
