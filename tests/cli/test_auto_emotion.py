"""Emotion "auto" (issue 14): inferred per sentence, explicit tags win, alpha 0.6; refused
cleanly (exit 2, nothing written, the download command named) when the model is not there."""
import shutil

import numpy as np
import pytest

from shared_paths import ASSETS, need
from unitaf_blender.core.emotion import AUTO_EMO_ALPHA, auto_tagged, emotion_tag, parse_script, split_sentences
from unitaf_blender.core.performance import EMOTIONS


def _one_hot(name, value=1.0):
    v = np.zeros(len(EMOTIONS))
    v[EMOTIONS.index(name)] = value
    return v


def test_each_sentence_gets_its_own_emotion_and_explicit_tags_win():
    script = "I won the prize! This is the best day.\nBut then the rain came. [angry] Stop it. Go away!"
    seen = []

    def infer(sentence):
        seen.append(sentence)
        return _one_hot("happy", 1.2) if "prize" in sentence or "best" in sentence else _one_hot("sad")
    tagged, inferred = auto_tagged(script, infer)
    assert seen == ["I won the prize!", "This is the best day.", "But then the rain came."]
    spans = parse_script(tagged)
    assert [s.text for s in spans] == ["I won the prize! This is the best day.", "But then the rain came.",
                                       "Stop it. Go away!"]   # equal neighbours share one span
    assert spans[0].emotion[EMOTIONS.index("happy")] == pytest.approx(min(1.0, 1.2 * AUTO_EMO_ALPHA))
    assert spans[1].emotion[EMOTIONS.index("sad")] == pytest.approx(AUTO_EMO_ALPHA)
    assert spans[2].emotion[EMOTIONS.index("angry")] == 1.0     # the writer's tag, untouched
    assert [s for s, _ in inferred] == seen


def test_sentences_and_tags():
    assert split_sentences("Hi. Ho!\n你好。再见！") == [(0, 3), (4, 7), (8, 11), (11, 14)]
    assert emotion_tag(np.zeros(8)) == "[neutral]"
    assert emotion_tag(_one_hot("surprised", 0.25)) == "[surprised:0.25]"


def test_auto_without_the_model_is_refused_and_writes_nothing(tmp_path, monkeypatch, capsys):
    pytest.importorskip("bpy")
    from unitaf_blender.cli import run
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    head = tmp_path / "in" / "head.blend"
    head.parent.mkdir()
    shutil.copy(need(ASSETS / "models" / "Live_Link_Face.blend"), head)
    out = tmp_path / "out"
    out.mkdir()
    assert run(["generate", "--blend", str(head), "--object", "FBHead", "--text", "I won! Then it rained.",
                "--emotion", "auto", "--save", str(out / "x.blend")]) == 2
    err = capsys.readouterr().err
    import importlib.util
    if importlib.util.find_spec("torch") is None:   # the version-matrix venvs have no torch
        assert "install-runtime" in err
    else:
        assert "models download --feature emotion-text" in err and "GB" in err
    assert list(out.iterdir()) == []
