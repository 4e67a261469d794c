"""Batch files: parsing errors name the line; lines are placed one after another per gap."""
import json

import numpy as np
import pytest
from helpers import make_face, make_perf

from unitaf_blender.core.batch import load_batch, parse_batch
from unitaf_blender.engines import GenerateRequest


def test_parse_inherits_from_character_and_defaults():
    plan = parse_batch({
        "gap": 0.5,
        "defaults": {"emotion": "calm:0.3", "engine": "embedded"},
        "characters": {"Ada": {"object": "AdaHead", "voice": "en-us+f3"}},
        "lines": [
            {"character": "Ada", "text": "Hello", "emotion": "happy:0.8"},
            {"object": "Bob", "text": "Hi", "gap": 1.5, "seed": 9},
        ]})
    a, b = plan.lines
    assert (a.object, a.voice, a.emotion, a.engine, a.seed) == ("AdaHead", "en-us+f3", "happy:0.8", "embedded", 0)
    assert (b.object, b.voice, b.emotion, b.gap, b.seed) == ("Bob", None, "calm:0.3", 1.5, 9)
    assert plan.gap == 0.5


@pytest.mark.parametrize("data,needle", [
    ({"lines": []}, "empty"),
    ({"lines": [{"text": "hi"}]}, "line 1: no 'object'"),
    ({"lines": [{"object": "A", "text": ""}]}, "line 1: 'text'"),
    ({"lines": [{"object": "A", "text": "x"}, {"object": "A", "text": "y", "gap": -1}]}, "line 2: gap"),
    ({"lines": [{"object": "A", "text": "x", "colour": "red"}]}, "unknown field"),
    ({"lines": [{"character": "Zed", "text": "x"}]}, "character 'Zed'"),
    ({"nope": 1}, "'lines' list"),
])
def test_parse_errors_are_clear(data, needle):
    with pytest.raises(ValueError, match=needle.replace("(", r"\(")):
        parse_batch(data)


def test_load_batch_bad_json(tmp_path):
    p = tmp_path / "b.json"
    p.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_batch(str(p))
    with pytest.raises(ValueError, match="not found"):
        load_batch(str(tmp_path / "missing.json"))


def _head(bpy, name):
    return make_face(bpy, name, ("jawOpen", "eyeBlinkLeft"))


def _perf(seconds, value):
    return make_perf(seconds, 30.0, ("jawOpen",), fn=lambda t, i: np.full_like(t, value), frames=int(seconds * 30) + 1,
                     sample_rate=22050)


def test_batch_places_lines_after_each_other(clean_scene):
    """Line 2 starts gap seconds after line 1 ends; a pinned frame is honoured; all lines play via NLA."""
    bpy = clean_scene
    from unitaf_blender.blender.batch import PreparedLine, run_batch
    from unitaf_blender.engines.request_path import Prepared
    scene = bpy.context.scene
    scene.render.fps = 24
    scene.frame_start = 1
    ada, bob = _head(bpy, "Ada"), _head(bpy, "Bob")
    plan = parse_batch({"gap": 0.5, "lines": [
        {"object": "Ada", "text": "one"},
        {"object": "Bob", "text": "two"},
        {"object": "Ada", "text": "three", "gap": 1.0},
        {"object": "Bob", "text": "four", "frame": 500},
    ]})
    lengths = {"one": 2.0, "two": 1.0, "three": 1.5, "four": 0.5}
    calls = []

    def perform(prepared):
        calls.append(prepared.request.text)
        return _perf(lengths[prepared.request.text], 0.25 * len(calls))

    heads = {"Ada": ada, "Bob": bob}
    lines = [PreparedLine(i, heads[line.object], Prepared(None, GenerateRequest(text=line.text)))
             for i, line in enumerate(plan.lines, 1)]
    results = run_batch(scene, plan, lines, perform)
    starts = [r.frame_start for _, r in results]
    assert starts[0] == 1
    assert starts[1] == results[0][1].frame_end + 12           # 0.5 s at 24 fps
    assert starts[2] == results[1][1].frame_end + 24           # its own 1.0 s gap
    assert starts[3] == 500
    assert results[0][1].frame_end - starts[0] == pytest.approx(2.0 * 24, abs=1)
    # Both of Ada's lines play: evaluate her jawOpen inside each line.
    for (obj, r), value in zip(results, (0.25, 0.5, 0.75, 1.0)):
        scene.frame_set((r.frame_start + r.frame_end) // 2)
        got = obj.data.shape_keys.key_blocks["jawOpen"].value
        assert got == pytest.approx(value, abs=1e-4), (obj.name, r.frame_start)


def test_batch_checks_every_line_before_anything(clean_scene):
    bpy = clean_scene
    from unitaf_blender.blender.batch import BatchError, check_lines
    from unitaf_blender.cli.inputs import find_object as _find_object
    _head(bpy, "Ada")
    plan = parse_batch({"lines": [{"object": "Ada", "text": "one"}, {"object": "Ghost", "text": "two"},
                                  {"object": "Ada", "text": "[sda] three"}]})
    n_actions = len(bpy.data.actions)
    with pytest.raises(BatchError, match=r"(?s)2 lines.*line 2: .*Ghost.*line 3: .*sda"):
        check_lines(plan, _find_object)
    assert len(bpy.data.actions) == n_actions and not bpy.data.objects["Ada"].is_property_set("unitaf_mapping")


def test_batch_cli_end_to_end(tmp_path):
    """A real batch file through the CLI with the default (embedded) engine."""
    import bpy

    from unitaf_blender.engines import EngineUnavailable, get_engine
    try:
        get_engine("embedded")
    except EngineUnavailable as e:
        pytest.skip(str(e))
    from unitaf_blender.cli import run
    bpy.ops.wm.read_factory_settings(use_empty=True)
    _head(bpy, "Ada"), _head(bpy, "Bob")
    src = tmp_path / "two.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(src))
    lines = tmp_path / "lines.json"
    lines.write_text(json.dumps({"gap": 0.3, "lines": [
        {"object": "Ada", "text": "[happy] Hello Bob, how are you?"},
        {"object": "Bob", "text": "Not bad at all.", "emotion": "calm:0.5"}]}))
    out = tmp_path / "out.blend"
    assert run(["batch", str(lines), "--blend", str(src), "--save", str(out)]) == 0
    bpy.ops.wm.open_mainfile(filepath=str(out))
    se = bpy.context.scene.sequence_editor
    strips = sorted((s for s in (se.strips_all if hasattr(se, "strips_all") else se.sequences_all)),
                    key=lambda s: s.frame_start)
    if bpy.app.build_options.audaspace:
        assert len(strips) == 2
        assert strips[1].frame_start >= strips[0].frame_final_end


def test_example_batch_file_is_valid():
    """examples/dialogue.json (referenced by the README) parses and names real voices."""
    from shared_paths import ROOT
    from unitaf_blender.engines import GenerateRequest
    from unitaf_blender.engines.embedded.engine import EmbeddedEngine
    plan = load_batch(str(ROOT / "examples" / "dialogue.json"))
    assert [l.object for l in plan.lines] == ["AdaHead", "BobHead", "AdaHead", "BobHead"]
    assert plan.lines[3].frame == 400 and plan.lines[1].gap == 1.0
    for line in plan.lines:
        checked = EmbeddedEngine().check(GenerateRequest(text=line.text, voice=line.voice))
        assert checked.request.voice == line.voice


def test_checking_lines_reads_headers_and_loads_no_model(clean_scene, tmp_path, monkeypatch):
    """Checking 30 lines decodes no recording and runs no model; preparing them does, line by line,
    listing what the samples show (a silent take) as `line N:`."""
    bpy = clean_scene
    from unitaf_blender.blender import recording
    from unitaf_blender.blender.batch import BatchError, check_lines, prepare_lines
    from unitaf_blender.cli.inputs import find_object
    from unitaf_blender.core.audio_io import write_wav
    from unitaf_blender.engines import auto_emotion
    _head(bpy, "Ada")
    voice = 0.3 * np.sin(np.arange(24000) / 16000 * 2 * np.pi * 180)
    write_wav(tmp_path / "take.wav", voice, 16000)
    write_wav(tmp_path / "quiet.wav", np.zeros(16000), 16000)
    lines = [{"object": "Ada", "audio": "take.wav", "text": f"Line {n}."} for n in range(1, 30)]
    lines.append({"object": "Ada", "audio": "quiet.wav"})
    (tmp_path / "lines.json").write_text(json.dumps({"lines": lines}))
    plan = load_batch(str(tmp_path / "lines.json"))

    def refuse(*a, **k):
        raise AssertionError("checking read a recording's samples or ran a model")
    with monkeypatch.context() as m:
        m.setattr(recording, "_read_file", refuse)
        m.setattr(auto_emotion, "text_emotion_model", refuse)
        checked = check_lines(plan, find_object)
    assert len(checked) == 30 and all(line.checked.request.audio is None for line in checked)
    assert checked[0].checked.request.seconds == pytest.approx(1.5)
    stages = []
    with pytest.raises(BatchError, match=r"1 line of the batch is bad.*\nline 30: The recording is silent"):
        prepare_lines(checked, lambda fraction, stage: stages.append(stage))
    assert "line 1/30: reading the recording" in stages
    prepared = prepare_lines(checked[:2])
    assert len(prepared[1].prepared.request.audio) == 24000
