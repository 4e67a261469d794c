"""The CLI's guarantees (issue 10): inputs never modified, every output checked before any work,
nothing written on failure, every bad batch line found before the first is generated."""
import json
import os
import stat

import pytest
from cli_testutil import digest, listing

from shared_paths import ASSETS, ROOT, need

bpy = pytest.importorskip("bpy")
from unitaf_blender.cli import run

LLF_BLEND = ASSETS / "models" / "Live_Link_Face.blend"


@pytest.fixture
def two_heads(tmp_path):
    """AdaHead + BobHead (copies of the Live Link Face head), the names examples/dialogue.json uses."""
    bpy.ops.wm.open_mainfile(filepath=str(need(LLF_BLEND)), load_ui=False)
    src = bpy.data.objects["FBHead"]
    for name, dx in (("AdaHead", -0.3), ("BobHead", 0.3)):
        obj = src.copy()
        obj.data = src.data.copy()
        obj.name = name
        obj.location.x += dx
        bpy.context.scene.collection.objects.link(obj)
    bpy.data.objects.remove(src)
    path = tmp_path / "in" / "two_heads.blend"
    path.parent.mkdir(exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return path


def _generate(blend, save, *extra):
    return run(["generate", "--blend", str(blend), "--object", "FBHead", "--text", "Hello there.",
                "--save", str(save), *map(str, extra)])


def test_save_onto_the_input_is_refused_unless_overwrite(head_blend, capsys):
    before = digest(head_blend)
    assert _generate(head_blend, head_blend) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert digest(head_blend) == before
    assert _generate(head_blend, head_blend, "--overwrite") == 0
    assert digest(head_blend) != before


def test_export_into_a_missing_folder_fails_first_and_writes_nothing(head_blend, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    assert _generate(head_blend, out / "take.blend", "--export", tmp_path / "missing" / "take.npz") == 2
    err = capsys.readouterr().err
    assert "--export" in err and "does not exist" in err and ".unitaf-" not in err
    assert "speech" not in err           # refused before generating
    assert listing(out) == []


def test_read_only_output_folder_is_found_before_generating(head_blend, capsys):
    # /proc refuses new files even for root (a chmod'ed folder would not, in CI).
    assert _generate(head_blend, "/proc/take.blend") == 2
    err = capsys.readouterr().err
    assert "cannot write into '/proc'" in err and "speech" not in err


def test_a_file_from_a_newer_blender_is_refused(head_blend, tmp_path, capsys):
    bpy.ops.wm.open_mainfile(filepath=str(head_blend), load_ui=False)
    current = tmp_path / "current.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(current))
    data = current.read_bytes()
    major, minor = bpy.app.version[:2]
    newer = f"{major:02d}{minor + 9:02d}".encode()
    if data[:9] == b"BLENDER17":            # 5.0+ header: BLENDER17-01v0500
        data = data[:13] + newer + data[17:]
    else:                                   # older header: BLENDER-v402
        data = data[:9] + newer[1:] + data[12:]
    future = tmp_path / "future.blend"
    future.write_bytes(data)
    out = tmp_path / "out.blend"
    assert _generate(future, out) == 2
    err = capsys.readouterr().err
    assert f"saved by Blender {major}.{minor + 9}" in err and "Traceback" not in err
    assert not out.exists()


def test_output_is_complete_and_has_no_temporary_files(head_blend, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    assert _generate(head_blend, out / "take.blend", "--export", out / "take.npz") == 0
    names = listing(out)
    assert "take.blend" in names and "take.npz" in names and "take.wav" in names
    assert not [n for n in names if ".unitaf-" in n or n.endswith(".blend1")]
    if bpy.app.build_options.audaspace:
        assert "take_audio/take1.wav" in names


def test_every_file_written_follows_the_umask(head_blend, tmp_path):
    """Take audio and the export get the mode the user's umask gives a new file, like the
    .blend Blender writes (they were 0600: temporary files moved into place)."""
    out = tmp_path / "out"
    out.mkdir()
    old = os.umask(0o027)
    try:
        assert _generate(head_blend, out / "take.blend", "--export", out / "take.npz") == 0
    finally:
        os.umask(old)
    modes = {n: stat.S_IMODE((out / n).stat().st_mode) for n in listing(out) if (out / n).is_file()}
    assert {"take.blend", "take.npz", "take.wav"} <= set(modes)
    assert set(modes.values()) == {0o640}, modes


def _layout(blend):
    """How a dialogue's takes sit in a .blend: NLA tracks and strips per head, sound strips
    (name, channel, sound name), action and sound names."""
    bpy.ops.wm.open_mainfile(filepath=str(blend), load_ui=False)
    heads = {}
    for obj in bpy.data.objects:
        key = obj.data.shape_keys if obj.type == 'MESH' else None
        if key is not None and key.animation_data is not None:
            heads[obj.name] = [(t.name, [(s.name, s.action.name, s.frame_start) for s in t.strips])
                               for t in key.animation_data.nla_tracks]
    se = bpy.context.scene.sequence_editor
    strips = [] if se is None else sorted(
        (s.name, s.channel, s.sound.name) for s in (se.strips_all if hasattr(se, "strips_all") else se.sequences_all))
    return {"nla": heads, "strips": strips, "actions": sorted(a.name for a in bpy.data.actions),
            "sounds": sorted(s.name for s in bpy.data.sounds)}


def test_rerunning_a_batch_keeps_names_tracks_and_channels(two_heads, tmp_path):
    """A re-generated line keeps its name (action, NLA strip, sound strip, sound), its NLA
    track and its sound channel: no .001 names, no second takes track, no channel move."""
    example = ROOT / "examples" / "dialogue.json"
    first, second = tmp_path / "first.blend", tmp_path / "second.blend"
    assert run(["batch", str(example), "--blend", str(two_heads), "--save", str(first)]) == 0
    assert run(["batch", str(example), "--blend", str(first), "--save", str(second)]) == 0
    before, after = _layout(first), _layout(second)
    assert after == before
    assert [name for name, _ in after["nla"]["AdaHead"]] == ["UniTAF rest", "UniTAF takes"]
    if bpy.app.build_options.audaspace:
        assert [(name, channel) for name, channel, _ in after["strips"]] == [
            (f"line00{i}", 1) for i in range(1, 5)]
        assert after["sounds"] == [f"line00{i}.wav" for i in range(1, 5)]


def test_batch_failing_at_keying_leaves_no_files(two_heads, tmp_path, capsys):
    lines = tmp_path / "lines.json"
    lines.write_text(json.dumps({"lines": [
        {"object": "AdaHead", "text": "Hello Bob."},
        {"object": "BobHead", "text": "Hi Ada, how are you today?", "frame": 1048570}]}))
    out = tmp_path / "out"
    out.mkdir()
    assert run(["batch", str(lines), "--blend", str(two_heads), "--save", str(out / "d.blend")]) == 2
    assert "outside Blender's frame range" in capsys.readouterr().err
    assert listing(out) == []


def test_batch_checks_every_line_before_generating_any(two_heads, tmp_path, capsys):
    lines = tmp_path / "lines.json"
    lines.write_text(json.dumps({"lines": [
        {"object": "AdaHead", "text": "This line is fine."},
        {"object": "BobHead", "text": "Unknown engine.", "engine": "nope"},
        {"object": "AdaHead", "text": "[hapy] A misspelt tag."},
        {"object": "BobHead", "text": "A voice that does not exist.", "voice": "xx-nowhere"},
        {"object": "AdaHead", "text": "\U0001F600\U0001F389"},
        {"object": "Ghost", "text": "Nobody."}]}))
    out = tmp_path / "out"
    out.mkdir()
    assert run(["batch", str(lines), "--blend", str(two_heads), "--save", str(out / "d.blend")]) == 2
    err = capsys.readouterr().err
    assert "5 lines of the batch are bad" in err
    for number, word in ((2, "nope"), (3, "hapy"), (4, "xx-nowhere"), (5, "speakable"), (6, "Ghost")):
        assert any(line.startswith(f"line {number}:") and word in line for line in err.splitlines()), (number, err)
    assert "line 1:" not in err
    assert "speech" not in err            # nothing was generated
    assert listing(out) == []


def test_rerunning_a_batch_into_its_output_replaces_lines(two_heads, tmp_path):
    out = tmp_path / "out" / "dialogue.blend"
    out.parent.mkdir()
    example = ROOT / "examples" / "dialogue.json"
    for _ in range(2):
        assert run(["batch", str(example), "--blend", str(two_heads), "--save", str(out)]) == 0
    # a second pass over the output itself re-generates the same lines in place
    assert run(["batch", str(example), "--blend", str(out), "--save", str(out), "--overwrite"]) == 0
    bpy.ops.wm.open_mainfile(filepath=str(out), load_ui=False)
    for name in ("AdaHead", "BobHead"):
        ad = bpy.data.objects[name].data.shape_keys.animation_data
        playing = [s.action.name for t in ad.nla_tracks for s in t.strips if s.action.get("unitaf_take")]
        assert len(playing) == 2, (name, playing)
    names = listing(out.parent)
    if bpy.app.build_options.audaspace:
        wavs = sorted(n for n in names if n.endswith(".wav"))
        used = sorted(os.path.relpath(bpy.path.abspath(s.filepath), out.parent) for s in bpy.data.sounds)
        assert wavs == used == [f"dialogue_audio/line00{i}.wav" for i in range(1, 5)]
    assert not [n for n in names if ".unitaf-" in n or n.endswith(".blend1")]


def test_chinese_text_with_no_language_is_spoken_in_chinese(head_blend, tmp_path, capsys):
    out = tmp_path / "zh.blend"
    assert run(["generate", "--blend", str(head_blend), "--object", "FBHead", "--text",
                "你好，我很好。今天天气很好。", "--save", str(out), "--no-sound",
                "--export", str(tmp_path / "zh.npz")]) == 0
    assert "'cmn'" in capsys.readouterr().err
    from unitaf_blender.core.performance import Performance
    words = "".join(w.label for w in Performance.load(str(tmp_path / "zh.npz")).words)
    assert words == "你好我很好今天天气很好"


def test_chinese_text_with_an_english_voice_is_refused(head_blend, tmp_path, capsys):
    out = tmp_path / "zh.blend"
    assert run(["generate", "--blend", str(head_blend), "--object", "FBHead", "--text",
                "你好，我很好。", "--voice", "en-us", "--save", str(out)]) == 2
    assert "--language cmn" in capsys.readouterr().err and not out.exists()
