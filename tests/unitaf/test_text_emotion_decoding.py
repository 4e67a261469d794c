"""Fast greedy decoding of the text-emotion model: guessed tokens checked many per pass
(qwen3_generate.generate_ids_batch with a drafter) must give exactly plain greedy's tokens, whatever the
guesses; the guesses of drafting.LookupDrafter; the float type that auto emotion uses."""
import pathlib
import random

import numpy as np
import pytest

from unitaf_blender.engines.unitaf.drafting import LookupDrafter

torch = pytest.importorskip("torch")

from unitaf_blender.engines.unitaf import qwen3, qwen3_generate
from unitaf_blender.engines.unitaf.text_emotion import CN_KEYS, TextEmotion

FX = pathlib.Path(__file__).parent / "fixtures" / "text_emotion"

TEXTS = ["Hi.", "今天天气很好，我们去公园散步吧！", "I am so tired of waiting for the bus every single morning, again.",
         "Hi there"]
N = 30


@pytest.fixture(scope="module")
def emo():
    torch.set_num_threads(1)
    return TextEmotion.load(FX, greedy=True, max_new_tokens=N)


@pytest.fixture(scope="module")
def plain(emo):
    """Each prompt's greedy reply, one at a time and without guesses."""
    prompts = [emo.prompt_ids(t) for t in TEXTS]
    return prompts, [qwen3_generate.generate_ids(emo.model, p, N, emo.settings) for p in prompts]


class Oracle:
    """Guesses the true continuation, except every `wrong`-th guess when wrong > 0."""

    def __init__(self, replies, wrong=0):
        self.replies, self.wrong = replies, wrong

    def draft(self, ids, k):
        for reply in self.replies:
            if reply[:len(ids)] == list(ids):
                guess = reply[len(ids):len(ids) + k]
                if self.wrong:
                    guess = [t + 1 if (len(ids) + i) % self.wrong == self.wrong - 1 else t for i, t in enumerate(guess)]
                return guess
        return []


class RandomGuess:
    """Random guesses from its own seeded generator (the same guesses on every run)."""

    def __init__(self, seed=0):
        self.random = random.Random(seed)

    def draft(self, ids, k):
        return [self.random.randrange(300) for _ in range(k)]


def counted(model):
    calls = []
    forward = model.forward

    def count(*a, **kw):
        calls.append(a[0].shape)
        return forward(*a, **kw)
    return count, calls


def test_wrong_guesses_cost_at_most_half_again(emo, plain, monkeypatch):
    """A drafter that is always wrong: rows stop guessing after a miss and probe with one token,
    so the passes feed at most ~1.5 tokens per token decoded. (A random drafter is right now and
    then, by chance, and then guesses on: not a bound on wrong guesses.)"""
    prompts, want = plain
    count, calls = counted(emo.model)
    monkeypatch.setattr(emo.model, "forward", count)
    assert qwen3_generate.generate_ids_batch(emo.model, prompts, N, (), Oracle(want, wrong=1), 16) == want
    fed = sum(shape[1] for shape in calls[2:])
    assert fed <= 1.5 * N + 16


@pytest.mark.parametrize("drafter", ["none", "oracle", "every 5th wrong", "random", "lookup"])
@pytest.mark.parametrize("max_draft", [3, 16])
def test_guessed_decoding_gives_plain_greedy_tokens(emo, plain, drafter, max_draft, monkeypatch):
    prompts, want = plain
    guess = {"none": None, "oracle": Oracle(want), "every 5th wrong": Oracle(want, 5), "random": RandomGuess(),
             "lookup": LookupDrafter([want[1]])}[drafter]
    count, calls = counted(emo.model)
    monkeypatch.setattr(emo.model, "forward", count)
    assert qwen3_generate.generate_ids_batch(emo.model, prompts, N, emo.settings.eos_token_ids, guess, max_draft) == want
    if drafter == "oracle":      # right guesses, one prompt: a pass per max_draft+1 tokens (+ 2 prompt passes)
        for p, w in zip(prompts, want):
            calls.clear()
            assert qwen3_generate.generate_ids_batch(emo.model, [p], N, (), Oracle([w]), max_draft) == [w]
            assert len(calls) <= 2 + -(-(N - 1) // (max_draft + 1))
        return
    if drafter == "none":
        assert len(calls) == 2 + N - 1                         # shared prefix, prompts, one token per pass


def test_rows_that_stop_early_leave_the_batch(emo, plain, monkeypatch):
    """An end token inside a row's reply (here: one the tiny model really produces) ends that row,
    accepted as a guess or as the model's own token; the other rows go on unchanged."""
    prompts, want = plain
    stop = want[0][7]
    cut = [w[:w.index(stop) + 1] if stop in w else w for w in want]
    assert len(cut[0]) == 8 and any(len(c) == N for c in cut)
    count, calls = counted(emo.model)
    monkeypatch.setattr(emo.model, "forward", count)
    for guess in (None, Oracle(want), Oracle(want, 4)):
        calls.clear()
        got = qwen3_generate.generate_ids_batch(emo.model, prompts, N, [stop], guess, 6)
        assert got == cut
        assert min(shape[0] for shape in calls) < len(prompts)      # finished rows were dropped
    settings = qwen3_generate.GenerationSettings(eos_token_ids=(stop,))
    alone = [qwen3_generate.generate_ids(emo.model, p, N, settings) for p in prompts]
    assert alone == cut


def test_reply_budget_is_kept_with_long_guesses(emo, plain):
    prompts, want = plain
    assert qwen3_generate.generate_ids_batch(emo.model, prompts, 0, (), Oracle(want)) == [[]] * len(prompts)
    assert qwen3_generate.generate_ids_batch(emo.model, [], 5, ()) == []
    for budget in (1, 2, 5):
        got = qwen3_generate.generate_ids_batch(emo.model, prompts, budget, emo.settings.eos_token_ids, Oracle(want), 16)
        assert got == [w[:budget] for w in want]


def test_text_emotion_learns_answers_and_stays_greedy(emo, plain):
    prompts, want = plain
    fresh = TextEmotion.load(FX, greedy=True, max_new_tokens=N)
    fresh.prefetch(TEXTS)
    assert [fresh.answer(t) for t in TEXTS] == [fresh.answer_from_ids(w) for w in want]
    assert [e[0] for e in fresh.drafter.seen] == list(reversed(want))     # newest answer first
    assert fresh.reply_ids(TEXTS[2]) == want[2]


def test_templates_are_the_json_answer_with_every_key(emo):
    spaced, compact = (emo.tokenizer.decode(t[0], skip_special_tokens=True) for t in emo.drafter.templates)
    assert [k for k in CN_KEYS if f'"{k}": 0.0' in spaced] == list(CN_KEYS)
    assert [k for k in CN_KEYS if f'"{k}":0.0' in compact] == list(CN_KEYS)
    assert all(t[0][-1] == emo.settings.eos_token_ids[0] for t in emo.drafter.templates)


def test_a_compact_answer_is_guessed_from_the_compact_template(emo):
    """A model that writes no spaces: after its first key the compact template places the guess."""
    compact = emo.drafter.templates[1][0]
    start = compact[:4]                      # '{"', key, '":', a digit
    assert emo.drafter.draft(start, 6) == compact[4:10]


# -- LookupDrafter (no model) -------------------------------------------------------------

def test_lookup_guesses_what_followed_the_longest_matching_tail():
    d = LookupDrafter([[1, 2, 3, 4, 1, 2, 5, 6]])
    assert d.draft([], 3) == [1, 2, 3]                   # an answer starts as answers start
    assert d.draft([9, 1, 2], 2) == [3, 4]               # tail (1, 2): its first place
    assert d.draft([4, 1, 2], 2) == [5, 6]               # the longer tail (4, 1, 2) places it better
    assert d.draft([7], 3) == [] and d.draft([6], 3) == []   # unknown, or nothing after it
    assert d.draft([1], 0) == []


def test_lookup_wildcards_stand_for_any_score_digit():
    # '"a": 0 . 0 , "b": 0 . 0 }' with digits 10-19
    t = [100, 10, 30, 10, 31, 101, 10, 30, 10, 32]
    d = LookupDrafter([t], wildcards=range(10, 20), longest=4)
    assert d.draft([100, 18], 3) == [30, 10, 31]          # after "a": 8 -> . 0 ,
    assert d.draft([100, 18, 30, 17], 2) == [31, 101]
    assert d.draft([100, 18, 30, 17, 31, 101, 12, 30, 12], 5) == [32]


def test_lookup_prefers_answers_seen_to_the_template():
    d = LookupDrafter([[1, 2, 3]], remember=2)
    d.learn([1, 2, 9])
    assert d.draft([1, 2], 1) == [9] and d.draft([], 2) == [1, 2]
    d.learn([1, 2, 8])
    d.learn([1, 2, 7])
    assert [e[0] for e in d.seen] == [[1, 2, 7], [1, 2, 8]]    # only the newest `remember`
    d.learn([1, 2, 8])
    assert d.draft([1, 2], 1) == [8]
    d.learn([])
    assert len(d.seen) == 2


# -- precision ------------------------------------------------------------------------------

@pytest.mark.cpu_bf16_both     # precision=auto on CPUs with and without native bf16
def test_auto_emotion_runs_at_the_engines_float_type(tmp_path, monkeypatch, cpu_outcome):
    """precision bf16 -> a bf16 model; int8 (GPT weights) -> this model keeps auto's float type."""
    from unitaf_blender.engines import auto_emotion
    from unitaf_blender.engines.unitaf import store as st
    from unitaf_blender.engines.unitaf.text_emotion import QWEN_EMOTION_FILES

    st.build_model_dir(tmp_path / "md", {sid: FX / name for sid, name in QWEN_EMOTION_FILES.items()})
    monkeypatch.setattr(auto_emotion, "_models", {})
    options = {"model_dir": str(tmp_path / "md"), "device": "cpu"}
    auto = auto_emotion.text_emotion_model(options)
    bf16 = auto_emotion.text_emotion_model(dict(options, precision="bf16"))
    int8 = auto_emotion.text_emotion_model(dict(options, precision="int8"))
    assert bf16.model.dtype == torch.bfloat16 and int8.model.dtype == auto.model.dtype
    assert int8 is auto and (bf16 is auto) == (auto.model.dtype == torch.bfloat16)   # one model per float type
    assert auto.model.dtype == (torch.bfloat16 if cpu_outcome == "cpu-with-bf16" else torch.float32)
    assert np.isfinite(bf16.vector("Hi.")).all()


# -- numbers left to the model, packed rows, packed bf16 weights ---------------------------

class ShapeAware(Oracle):
    """Knows each reply except its 'digits' (the tokens at `places`, its wildcards), where it
    guesses wrong at `wrong` (all places by default), as the JSON template guesses 0 where a
    score is not."""

    def __init__(self, replies, places, wrong=None):
        super().__init__(replies)
        self.places, self.miss = set(places), set(places if wrong is None else wrong)
        self.wildcards = {r[p] + (p in self.miss) for r in replies for p in places if p < len(r)}   # its digit guesses

    def draft(self, ids, k):
        guess = super().draft(ids, k)
        return [t + 1 if len(ids) + i in self.miss else t for i, t in enumerate(guess)]


def fed_tokens(model):
    """Count the tokens each pass computes (valid ones, when a pass holds padding)."""
    calls = []
    forward = model.forward

    def count(ids, *a, **kw):
        valid = kw.get("valid")
        calls.append(int(valid.sum()) if valid is not None else ids.numel())
        return forward(ids, *a, **kw)
    return count, calls


def test_a_batch_stops_before_each_number_and_wastes_nothing(emo, plain, monkeypatch):
    """With the answer's shape known, a full pass never feeds a token after a wrong digit:
    every token computed is kept (prompts once, then each reply token once), and the digits
    come from the model; the tokens are plain greedy's."""
    prompts, want = (x[1:3] for x in plain)        # replies that start differently: the guesser is exact
    places = (3, 9, 10, 20)
    count, calls = fed_tokens(emo.model)
    monkeypatch.setattr(emo.model, "forward", count)
    got = qwen3_generate.generate_ids_batch(emo.model, prompts, N, (), ShapeAware(want, places), 16, free_tokens=0)
    assert got == want
    shared = qwen3_generate._common_prefix(prompts) - 1
    assert sum(calls) == shared + sum(len(p) - shared for p in prompts) + sum(len(w) - 1 for w in want)


def test_few_rows_guess_through_numbers_and_stay_greedy(emo, plain, monkeypatch):
    """A pass with room left (one row) guesses on through the digits (8 numbers, 2 of them
    guessed wrong): fewer passes than stopping at each, the same tokens."""
    prompts, want = plain
    places, wrong = (3, 5, 9, 11, 15, 17, 21, 23), (9, 21)
    count, calls = fed_tokens(emo.model)
    monkeypatch.setattr(emo.model, "forward", count)
    passes = {}
    for free in (0, 24):
        calls.clear()
        for prompt, reply in zip(prompts, want):
            assert qwen3_generate.generate_ids_batch(emo.model, [prompt], N, (), ShapeAware([reply], places, wrong), 16,
                                            free_tokens=free) == [reply]
        passes[free] = len(calls)
    assert passes[24] < passes[0]


def test_packed_bf16_weights_change_nothing(emo, plain):
    """bf16 on a CPU: oneDNN-packed projections and head give the unpacked model's tokens and
    logits (skipped where this CPU cannot pack bf16)."""
    prompts, _ = plain
    a = TextEmotion.load(FX, dtype=torch.bfloat16, greedy=True, max_new_tokens=N).model
    if a.head is None:
        pytest.skip("no oneDNN bf16 packing on this CPU")
    ids = torch.tensor([prompts[2]])
    ref = _unpacked(FX)
    with torch.inference_mode():
        got, want = (m(ids, m.new_cache(1, ids.shape[1]), 0).numpy() for m in (a, ref))
    np.testing.assert_array_equal(got, want)
    never = qwen3_generate.GenerationSettings(eos_token_ids=())
    assert [qwen3_generate.generate_ids(a, p, N, never) for p in prompts] == [qwen3_generate.generate_ids(ref, p, N, never)
                                                                    for p in prompts]


def _unpacked(folder):
    import unittest.mock
    with unittest.mock.patch.object(qwen3, "pack_for_cpu", lambda model: False):
        return qwen3.load_qwen3(folder, dtype=torch.bfloat16)
