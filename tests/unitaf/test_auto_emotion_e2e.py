"""Emotion "auto" end to end (issue 14) with the tiny text-emotion fixture laid out like the
official files: both engines speak with the inferred per-sentence emotions. The tiny random
Qwen3 answers nonsense, which the reference's rules turn into calm 1.0 (x 0.6): the plumbing is
what is tested here, the parity tests prove the model itself."""
import os
import pathlib
import shutil

import pytest

from unitaf_tiny_models import sources, tiny_head_blend

pytestmark = pytest.mark.cpu_bf16_both     # precision=auto on CPUs with and without native bf16

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "text_emotion"
FILES = {"qwen_emo.config": "config.json", "qwen_emo.generation_config": "generation_config.json",
         "qwen_emo.model": "model.safetensors", "qwen_emo.tokenizer": "tokenizer.json"}


def _model_dir(tmp_path, with_speech=False):
    from unitaf_blender.engines.unitaf.store import build_model_dir
    root = tmp_path / "models"
    srcs = {sid: FIXTURE / name for sid, name in FILES.items()}
    if with_speech:
        srcs.update(sources())
    build_model_dir(str(root), srcs, copy=True)
    return str(root)


def test_embedded_engine_speaks_the_inferred_emotions(tmp_path):
    from unitaf_blender.core.emotion import AUTO_EMO_ALPHA
    from unitaf_blender.core.performance import EMOTIONS
    from unitaf_blender.engines import GenerateRequest, get_engine
    from unitaf_blender.engines.auto_emotion import resolve_auto
    engine = get_engine("embedded")
    request = GenerateRequest(text="I won the prize! [angry] Stop it now.", emotion="auto",
                              options={"model_dir": _model_dir(tmp_path), "device": "cpu"})
    resolved, notes = resolve_auto(request)
    assert resolved.text.startswith("[calm:0.60] I won the prize!") and "[angry] Stop it now." in resolved.text
    assert notes and "calm" in notes[0]
    # this folder has no chat_template.jinja: the stock prompt is used, and the notes say so
    assert any("no chat_template.jinja" in note and "stock Qwen3 rendering" in note for note in notes)
    (tmp_path / "models" / "IndexTeam" / "IndexTTS-2" / "qwen0.6bemo4-merge" / "chat_template.jinja").write_bytes(
        (FIXTURE / "chat_template.jinja").read_bytes())
    from unitaf_blender.engines import auto_emotion
    auto_emotion._models.clear()
    assert not any("chat_template" in note for note in resolve_auto(request)[1])
    perf = engine.generate(engine.check(resolved).request)
    spans = perf.meta["spans"]
    assert [s["emotion"] for s in spans] == [f"calm:{AUTO_EMO_ALPHA:.2f}", "angry:1.00"]
    assert perf.emotion_vectors[0][EMOTIONS.index("calm")] == pytest.approx(AUTO_EMO_ALPHA)


def test_cli_generate_auto_with_the_unitaf_engine(tmp_path, capsys):
    bpy = pytest.importorskip("bpy")
    from shared_paths import ASSETS, need
    from unitaf_blender.cli import run
    speaker = need(ASSETS / "audio" / "LJ001-0001.wav")
    src = tiny_head_blend(bpy, tmp_path / "in.blend", ("jawOpen",))
    out = tmp_path / "out.blend"
    code = run(["generate", "--blend", str(src), "--object", "Head", "--text", "Hello there. Goodbye.",
                "--engine", "unitaf", "--emotion", "auto", "--model-dir", _model_dir(tmp_path, with_speech=True),
                "--device", "cpu", "--voice", str(speaker), "--save", str(out)])
    assert code == 0 and out.is_file()
    assert "Emotion from the words" in capsys.readouterr().err
    bpy.ops.wm.open_mainfile(filepath=str(out))
    action = bpy.data.objects["Head"].data.shape_keys.animation_data.action
    assert "calm" in action["unitaf_text"] or action["unitaf_text"].startswith("[calm")
    assert os.path.isfile(out)
    shutil.rmtree(tmp_path / "models", ignore_errors=True)


def test_panel_job_runs_the_emotion_model_on_its_worker(tmp_path):
    """The panel checks 'auto' cheaply on the UI thread and the GenerateJob runs the model."""
    pytest.importorskip("bpy")
    from unitaf_blender.blender.panel import jobs
    from unitaf_blender.engines import GenerateRequest, get_engine
    from unitaf_blender.engines.auto_emotion import check_request
    from unitaf_blender.engines.request_path import Checked
    engine = get_engine("embedded")
    request = GenerateRequest(text="Hello there.", emotion="auto", options={"model_dir": _model_dir(tmp_path), "device": "cpu"})
    checked = check_request(engine, request)          # what the operator does before starting
    assert checked.request.emotion == "auto"
    job = jobs.GenerateJob(Checked(engine, checked.request), apply=lambda perf: perf)
    assert job.run_sync() == jobs.DONE, job.error
    assert [s["emotion"] for s in job.result.meta["spans"]] == ["calm:0.60"]
    with pytest.raises(Exception, match="(?s)text-emotion model.*qwen0.6bemo4-merge"):   # refused before any work
        check_request(engine, GenerateRequest(text="Hi.", emotion="auto",
                                              options={"model_dir": str(tmp_path / "none")}))


def test_batch_checks_every_line_before_the_emotion_model_runs(tmp_path, monkeypatch):
    """Issue 19, item 5: a bad line 2 is reported before line 1's 'auto' runs the model."""
    bpy = pytest.importorskip("bpy")
    from unitaf_blender.blender.batch import BatchError, check_lines
    from unitaf_blender.cli.inputs import find_object as _find_object
    from unitaf_blender.core.batch import parse_batch
    from unitaf_blender.engines import auto_emotion

    def model_must_not_run(options):
        raise AssertionError("the text-emotion model ran before every line was checked")
    monkeypatch.setattr(auto_emotion, "text_emotion_model", model_must_not_run)
    tiny_head_blend(bpy, tmp_path / "in.blend", ("jawOpen",))
    plan = parse_batch({"lines": [{"object": "Head", "text": "I won the prize!", "emotion": "auto"},
                                  {"object": "Ghost", "text": "Nobody."}]})
    with pytest.raises(BatchError, match=r"1 line of the batch is bad.*\nline 2: .*Ghost"):
        check_lines(plan, _find_object, {"model_dir": _model_dir(tmp_path)})


def test_unitaf_auto_with_nothing_downloaded_names_every_missing_file(tmp_path):
    """Issue 19, item 7: the engine's files and the text-emotion model in one message, one total."""
    from unitaf_blender.engines import GenerateRequest, get_engine
    from unitaf_blender.engines.auto_emotion import FEATURE, check_request
    from unitaf_blender.engines.model_files import human_size
    from unitaf_blender.engines.unitaf.catalog import DEFAULT_FEATURES
    from unitaf_blender.engines.unitaf.store import ModelsMissing, ModelStore
    cache = str(tmp_path / "empty_cache")
    store = ModelStore(cache_dir=cache)
    wanted = {st.spec.id: st for st in store.missing(DEFAULT_FEATURES) + store.missing((FEATURE,))}
    request = GenerateRequest(text="I won the prize!", emotion="auto", options={"cache_dir": cache})
    with pytest.raises(ModelsMissing) as caught:
        check_request(get_engine("unitaf"), request)
    message = str(caught.value)
    total = human_size(sum(st.spec.approx_size for st in wanted.values()))
    assert f"{len(wanted)} UniTAF model file(s) missing ({total} to download)" in message
    assert "models download --feature emotion-text" in message
    for st in wanted.values():
        assert st.spec.display in message
    assert {st.spec.id for st in caught.value.missing} == set(wanted)
