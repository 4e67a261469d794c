"""Parity of our Qwen3 (qwen3.py) and TextEmotion with transformers on the text-emotion fixture
(see fixtures/text_emotion/README.md): logits, cached decoding, greedy and seeded sampled
continuations, loading from a model store. The torch-free checks (tokenizer, prompt, parser) are in
test_text_emotion_parity.py."""
import json
import pathlib

import numpy as np
import pytest

from unitaf_blender.core.performance import EMOTIONS

torch = pytest.importorskip("torch")

from unitaf_blender.engines.unitaf import qwen3, qwen3_generate
from unitaf_blender.engines.unitaf.text_emotion import TextEmotion

FX = pathlib.Path(__file__).parent / "fixtures" / "text_emotion"
EXP = json.loads((FX / "expected.json").read_text(encoding="utf-8"))

ATOL = RTOL = 1e-4


@pytest.fixture(scope="module")
def emo():
    torch.set_num_threads(1)
    return TextEmotion.load(FX)


def test_config_reads_transformers5_rope_parameters(emo):
    d = emo.model.dims
    assert (d.layers, d.heads, d.kv_heads, d.head_dim, d.hidden_size) == (2, 4, 2, 32, 64)
    assert d.rope_theta == 1e6 and d.tie_word_embeddings and emo.model.lm_head is None
    assert emo.settings.do_sample and emo.settings.top_k == 20 and len(emo.settings.eos_token_ids) == 2


@pytest.mark.parametrize("i", range(len(EXP["prompts"])))
def test_prompt_logits(emo, i):
    p = EXP["prompts"][i]
    want = np.load(FX / "expected_logits.npz")[f"p{i}_logits"]
    ids = torch.tensor([p["ids"]])
    with torch.inference_mode():
        got = emo.model(ids, emo.model.new_cache(1, ids.shape[1]), 0, all_logits=True)[0, p["positions"]]
    np.testing.assert_allclose(got.numpy(), want, atol=ATOL, rtol=RTOL)


def test_untied_head_logits():
    model = qwen3.load_qwen3(FX / "untied")
    assert model.lm_head is not None
    z = np.load(FX / "expected_logits.npz")
    for i, p in enumerate(EXP["prompts"]):
        ids = torch.tensor([p["ids"]])
        with torch.inference_mode():
            got = model(ids, model.new_cache(1, ids.shape[1]), 0, all_logits=True)[0, p["positions"]]
        np.testing.assert_allclose(got.numpy(), z[f"p{i}_logits_untied"], atol=ATOL, rtol=RTOL)


def test_cached_decoding_equals_full_forward(emo):
    # prefill + one token at a time must give the logits of one full pass
    ids = torch.tensor([EXP["prompts"][0]["ids"] + EXP["prompts"][0]["greedy"][:5]])
    m = emo.model
    with torch.inference_mode():
        full = m(ids, m.new_cache(1, ids.shape[1]), 0, all_logits=True)[0]
        cache = m.new_cache(1, ids.shape[1])
        n = ids.shape[1] - 5
        steps = [m(ids[:, :n], cache, 0)]
        steps += [m(ids[:, k:k + 1], cache, k) for k in range(n, ids.shape[1] - 1)]
    np.testing.assert_allclose(torch.stack([s[0] for s in steps]).numpy(), full[n - 1:-1].numpy(),
                               atol=ATOL, rtol=RTOL)


def test_greedy_continuations(emo):
    greedy = qwen3_generate.GenerationSettings(do_sample=False, eos_token_ids=emo.settings.eos_token_ids)
    for p in EXP["prompts"]:
        assert qwen3_generate.generate_ids(emo.model, p["ids"], 20, greedy) == p["greedy"], p["text"]


def test_sampled_continuations_with_the_same_seed(emo):
    for p in EXP["prompts"]:
        torch.manual_seed(p["sampled_seed"])   # HF draws from the default generator
        assert qwen3_generate.generate_ids(emo.model, p["ids"], 20, emo.settings) == p["sampled"], p["text"]


def test_text_emotion_end_to_end_and_cache():
    e = TextEmotion.load(FX, greedy=True, max_new_tokens=20)
    p = EXP["prompts"][0]
    ids = qwen3_generate.generate_ids(e.model, p["ids"], 20, e.settings)
    assert ids == p["greedy"]
    assert e.answer(p["text"]) == e.answer_from_ids(p["greedy"])
    v = e.vector(p["text"])
    assert v.dtype == np.float32 and v.shape == (8,)
    assert v.tolist() == [e.scores(p["text"])[k] for k in EMOTIONS]
    calls = []
    e.reply_ids = lambda text: calls.append(text) or []
    e.answer(p["text"])
    assert calls == []          # served from the cache
    e.answer("new text")
    assert calls == ["new text"]


def test_bf16_weights_run_in_bf16(emo):
    m = qwen3.load_qwen3(FX, dtype=torch.bfloat16)
    assert m.dtype == torch.bfloat16 and m.inv_freq.dtype == torch.float32
    p = EXP["prompts"][0]
    want = np.load(FX / "expected_logits.npz")["p0_logits"][-1]
    with torch.inference_mode():
        got = m(torch.tensor([p["ids"]]), m.new_cache(1, len(p["ids"])), 0)[0].numpy()
    assert int(got.argmax()) == int(want.argmax())
    assert np.abs(got - want).max() < 0.05 * np.abs(want).max()


def test_load_from_store_and_missing_files_are_named(tmp_path):
    from unitaf_blender.engines.unitaf import store as st
    from unitaf_blender.engines.unitaf.text_emotion import QWEN_EMOTION_FILES

    sources = {sid: FX / name for sid, name in QWEN_EMOTION_FILES.items()}
    st.build_model_dir(tmp_path / "md", sources)
    store = st.ModelStore(model_dir=tmp_path / "md")
    assert store.missing(("emotion-text",)) == []
    e = TextEmotion.load(store, greedy=True, max_new_tokens=20)
    p = EXP["prompts"][1]
    assert e.reply_ids(p["text"]) == p["greedy"]
    (tmp_path / "md" / "IndexTeam" / "IndexTTS-2" / "qwen0.6bemo4-merge" / "model.safetensors").unlink()
    with pytest.raises(st.ModelsMissing) as err:
        TextEmotion.load(store)
    assert "qwen0.6bemo4-merge/model.safetensors (1.19 GB)" in str(err.value)


def test_batched_greedy_answers_equal_one_by_one():
    """Sentences of different lengths decoded together (left padding) give exactly the tokens
    each gives alone: the batch changes the cost, never the answer."""
    model = TextEmotion.load(FX, greedy=True, max_new_tokens=12)
    texts = ["Hi.", "今天天气很好，我们去公园散步吧！", "I am so tired of waiting for the bus every single morning, again."]
    prompts = [model.prompt_ids(t) for t in texts]
    assert len({len(p) for p in prompts}) >= 2      # rows really are padded
    alone = [qwen3_generate.generate_ids(model.model, p, 12, model.settings) for p in prompts]
    together = qwen3_generate.generate_ids_batch(model.model, prompts, 12, model.settings.eos_token_ids)
    assert together == alone
    model.prefetch(texts)
    assert [model.answer(t) for t in texts] == [model.answer_from_ids(ids) for ids in alone]
