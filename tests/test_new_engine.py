"""A new engine is its own module and one registry line: the tiny engine (tiny_engine.py, one
option) registered at test time appears in the CLI's help, is checked by the batch validation
and drawn by the panel, and runs through the request path, with no front-end module touched."""
import pytest

from unitaf_blender.engines import registry


@pytest.fixture
def tiny(monkeypatch):
    """The tiny engine registered (after the built-in engines) for one test."""
    monkeypatch.setattr(registry, "_ENGINES", dict(registry._ENGINES))
    registry.register_engine("tiny", "Tiny (test)", "a tone and a jaw, for the contract tests", "tiny_engine",
                             "TinyEngine")
    return "tiny"


def test_the_cli_help_lists_its_option(tiny, capsys):
    from unitaf_blender.cli import run
    for command in ("generate", "lipsync", "batch"):
        assert run([command, "--help"]) == 0
        out = capsys.readouterr().out
        assert "  tiny:\n    mood=calm|lively (default calm): how wide the tiny engine opens the jaw" in out, command


def test_the_cli_parses_and_checks_its_option(tiny, tmp_path, capsys):
    from unitaf_blender.engines.request_path import RawRequest, check, perform, prepare
    perf = perform(prepare(check(RawRequest(engine_id=tiny, text="Hello.", options={"mood": "LIVELY"}))))
    assert perf.meta["mood"] == "lively" and perf.weights.max() > 0.5
    bpy = pytest.importorskip("bpy")
    from helpers import make_face

    from unitaf_blender.cli import run
    bpy.ops.wm.read_factory_settings(use_empty=True)
    make_face(bpy, keys=("jawOpen",))
    src, out = tmp_path / "in.blend", tmp_path / "out.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(src))
    base = ["generate", "--blend", str(src), "--object", "Face", "--text", "Hello there.", "--engine", tiny,
            "--save", str(out)]
    assert run(base + ["--option", "mood=grumpy"]) == 2
    assert "option mood: 'grumpy' is not one of calm, lively" in capsys.readouterr().err and not out.exists()
    assert run(base + ["--option", "colour=red"]) == 2
    assert "The Tiny (test) engine has no option colour; its options: " in capsys.readouterr().err
    assert run(base + ["--option", "mood=lively", "--no-sound"]) == 0 and out.is_file()
    bpy.ops.wm.open_mainfile(filepath=str(out))
    action = bpy.data.objects["Face"].data.shape_keys.animation_data.action
    assert action["unitaf_engine"] == tiny


def test_the_batch_validates_its_option(tiny):
    bpy = pytest.importorskip("bpy")
    from helpers import make_face

    from unitaf_blender.blender.batch import BatchError, check_lines
    from unitaf_blender.cli.inputs import find_object
    from unitaf_blender.core.batch import parse_batch
    bpy.ops.wm.read_factory_settings(use_empty=True)
    make_face(bpy, keys=("jawOpen",))
    plan = parse_batch({"defaults": {"engine": tiny, "options": {"mood": "lively"}}, "lines": [
        {"object": "Face", "text": "One."},
        {"object": "Face", "text": "Two.", "options": {"mood": "grumpy"}},
        {"object": "Face", "text": "Three.", "options": {"colour": "red"}},
        {"object": "Face", "text": "Four.", "engine": "embedded", "options": {"mood": "calm"}}]})
    with pytest.raises(BatchError) as caught:
        check_lines(plan, find_object)
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("3 lines of the batch are bad")
    assert lines[1] == "line 2: option mood: 'grumpy' is not one of calm, lively"
    assert lines[2].startswith("line 3: The Tiny (test) engine has no option colour")
    assert lines[3].startswith("line 4: The Embedded (offline) engine has no option mood")
    good = check_lines(parse_batch({"lines": [{"object": "Face", "text": "One.", "engine": tiny,
                                               "options": {"mood": "lively"}}]}), find_object)
    assert good[0].checked.request.options == {"mood": "lively"}


def test_the_panel_draws_its_option_and_sends_it(tiny):
    bpy = pytest.importorskip("bpy")
    from helpers import make_face

    import unitaf_blender
    from unitaf_blender.blender import props
    from unitaf_blender.blender.panel import settings, ui
    bpy.ops.wm.read_factory_settings(use_empty=True)
    props.unregister_properties()
    unitaf_blender.register("unitaf_blender")
    try:
        obj = make_face(bpy, keys=("jawOpen",))
        s = bpy.context.scene.unitaf
        s.target, s.text, s.engine, s.add_sound = obj, "Hello there.", tiny, False
        assert ui.UNITAF_PT_engine_options.poll(bpy.context)
        drawn = []

        class Layout:
            def prop(self, data, name, **kw):
                assert name in data.bl_rna.properties, name
                drawn.append((name, getattr(data, name)))

            def __getattr__(self, name):     # rows, labels and buttons: not what this test reads
                return lambda *a, **k: Layout()
        ui.UNITAF_PT_engine_options.draw(type("Panel", (), {"layout": Layout()})(), bpy.context)
        assert drawn == [("mood", "CALM")]
        bpy.context.scene.unitaf_options.tiny.mood = "LIVELY"
        assert settings.request_options(bpy.context)["mood"] == "lively"
        assert bpy.ops.unitaf.generate() == {'FINISHED'}
        action = obj.data.shape_keys.animation_data.action
        assert action["unitaf_engine"] == tiny and action["unitaf_text"] == "Hello there."
    finally:
        unitaf_blender.unregister()
