"""Parity of our Qwen3 emotion-from-text path with transformers + the reference QwenEmotion
(fixture tests/unitaf/fixtures/text_emotion, see its README): tokenizer on 3000 random strings,
chat-prompt ids, logits, greedy and seeded sampled continuations, and the reference's parser on
canned replies. No torch needed here (the model side: test_text_emotion_model_parity.py)."""
import gzip
import json
import pathlib
import unicodedata

import pytest

from unitaf_blender.core.performance import EMOTIONS
from unitaf_blender.engines.unitaf.qwen_bpe import ByteLevelBPE, pre_tokenize
from unitaf_blender.engines.unitaf.text_emotion import emotion_prompt, parse_emotion_answer

FX = pathlib.Path(__file__).parent / "fixtures" / "text_emotion"
EXP = json.loads((FX / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tok():
    return ByteLevelBPE.from_file(FX / "tokenizer.json")


@pytest.fixture(scope="module")
def cases():
    with gzip.open(FX / "tokenizer_cases.json.gz", "rt", encoding="utf-8") as f:
        return json.load(f)


def test_pre_tokenizer_matches_library_on_random_strings(cases):
    bad = [c["text"] for c in cases if pre_tokenize(unicodedata.normalize("NFC", c["text"])) != c["pieces"]]
    assert len(cases) == 3000 and not bad, f"{len(bad)} mismatches, first {bad[:3]!r}"


def test_encode_decode_match_library_on_random_strings(tok, cases):
    enc = [c["text"] for c in cases if tok.encode(c["text"]) != c["ids"]]
    dec = [c["text"] for c in cases if tok.decode(c["ids"]) != c["decoded"]
           or tok.decode(c["ids"], skip_special_tokens=False) != c["decoded_all"]]
    assert not enc and not dec, f"encode {enc[:3]!r} decode {dec[:3]!r}"


def test_long_s_contraction_is_case_folded():
    # Oniguruma's (?i:'s) matches 'ſ; a plain [sS] class would not
    assert pre_tokenize("a'ſb") == ["a", "'ſ", "b"]


@pytest.mark.parametrize("i", range(len(EXP["prompts"])))
def test_chat_prompt_text_and_ids(tok, i):
    p = EXP["prompts"][i]
    assert emotion_prompt(p["text"]) == p["rendered"]
    assert tok.encode(emotion_prompt(p["text"])) == p["ids"]


def test_greedy_text_decodes_like_library(tok):
    for p in EXP["prompts"]:
        assert tok.decode(p["greedy"]) == p["greedy_decoded"]


@pytest.mark.parametrize("case", EXP["parse_cases"], ids=lambda c: c["text"])
def test_parser_matches_reference(tok, case):
    think_end = tok.token_to_id("</think>")
    ids = case["reply_ids"]
    after = ids[len(ids) - ids[::-1].index(think_end):] if think_end in ids else ids
    assert tok.decode(after) == case["answer"]
    got = parse_emotion_answer(case["answer"], case["text"])
    assert list(got) == list(EMOTIONS)
    assert got == case["expected"]


@pytest.mark.parametrize("answer, text, want", [
    ('"愤怒"', "x", {"angry": 1.0}),                      # bare label (reference would crash)
    ('{"高兴": "0.5", "惊讶": "lots"}', "x", {"happy": 0.5}),  # numeric strings count, words do not
    ('[0.3, 0.4]', "x", {"calm": 1.0}),                   # non-dict JSON -> regex -> nothing
    ('高兴: 1.2.3, 惊讶: 0.4', "x", {"surprised": 0.4}),   # an unparsable number is skipped
    ('{"自然": NaN, "高兴": Infinity}', "x", {"happy": 1.2}),
])
def test_parser_degrades_where_reference_raises(answer, text, want):
    got = parse_emotion_answer(answer, text)
    assert got == {e: want.get(e, 0.0) for e in EMOTIONS}
