"""Text front end parity (fixture `frontend`, text part) and behaviour on bad input.

Every case: our normaliser, CJK pre-tokeniser, SentencePiece BPE (own reader, no sentencepiece
package) and segmentation must give exactly the reference's strings, pieces and ids.
"""
import json
import struct
import warnings

import numpy as np
import pytest

from shared_paths import PARITY, need
from unitaf_blender.engines.unitaf import spm
from unitaf_blender.engines.unitaf import text as T

FRONTEND = PARITY / "frontend"


def _cases():
    path = FRONTEND / "text_cases.json"
    if not path.exists():
        return [pytest.param(None, id="frontend-missing")]
    cases = json.loads(path.read_text(encoding="utf-8"))["cases"]
    return [pytest.param(c, id=f"frontend-case{i:02d}") for i, c in enumerate(cases)]


@pytest.fixture(scope="module")
def frontend():
    return T.TextFrontend(need(FRONTEND / "bpe.model"))


@pytest.mark.parametrize("case", _cases())
def test_parity(case, frontend):
    if case is None:
        need(FRONTEND / "text_cases.json")
    normalized = T.normalize(case["text"])
    assert normalized == case["normalized"]
    assert T.tokenize_by_cjk(normalized) == case["pre_tokenized"]
    tokens = frontend.tokenize(case["text"])
    assert tokens == case["tokens"]
    assert frontend.convert_tokens_to_ids(tokens) == case["ids"]
    assert frontend.encode(case["text"]) == case["encode_ids"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # max16 hard-cuts some cases on purpose
        seg16 = T.split_segments(tokens, 16)
    assert seg16 == case["segments_max16_tokens"]
    assert [frontend.convert_tokens_to_ids(s) for s in seg16] == case["segments_max16"]
    assert frontend.segments(case["text"], 120) == case["segments_max120"]


def test_meta_matches_model(frontend):
    meta = json.loads(need(FRONTEND / "text_cases.json").read_text(encoding="utf-8"))["meta"]
    assert len(frontend.sp) == meta["vocab_size"]
    assert frontend.unk_id == meta["unk_token_id"]
    assert frontend.sp.piece_to_id("<s>") == meta["bos_token_id"]
    assert frontend.sp.piece_to_id("</s>") == meta["eos_token_id"]
    for sym in meta["user_defined_symbols"]:  # pinyin syllables stay whole
        assert frontend.sp.encode_as_pieces(sym) == ["▁", sym] or frontend.sp.encode_as_pieces(sym) == ["▁" + sym]


# --- SentencePiece reader ----------------------------------------------------------------------
def test_spm_normalizer_uses_the_charsmap(frontend):
    sp = frontend.sp
    # nmt_nfkc: full-width letters fold, extra/leading/trailing spaces collapse, dummy prefix added
    assert sp.normalize("  ＡＢ　　c  ") == "▁AB▁c"
    assert sp.normalize("") == "" and sp.normalize("   ") == ""


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num, wire, payload):
    key = _varint(num << 3 | wire)
    if wire == 2:
        return key + _varint(len(payload)) + payload
    return key + payload


def _piece(text, score, ptype):
    return _field(1, 2, text.encode()) + _field(2, 5, struct.pack("<f", score)) + _field(3, 0, _varint(ptype))


def _tiny_model(tmp_path, byte_fallback):
    pieces = [("<unk>", 0, spm.UNKNOWN), ("<s>", 0, spm.CONTROL), ("</s>", 0, spm.CONTROL),
              ("▁ab", -1, spm.NORMAL), ("ab", -2, spm.UNUSED), ("▁", -3, spm.NORMAL),
              ("a", -4, spm.NORMAL), ("b", -5, spm.NORMAL)]
    if byte_fallback:
        pieces += [(f"<0x{i:02X}>", 0, spm.BYTE) for i in range(256)]
    trainer = _field(3, 0, _varint(2)) + (_field(35, 0, _varint(1)) if byte_fallback else b"")
    blob = b"".join(_field(1, 2, _piece(*p)) for p in pieces) + _field(2, 2, trainer)
    path = tmp_path / f"tiny{int(byte_fallback)}.model"
    path.write_bytes(blob)
    return spm.SentencePieceBPE(path)


def test_spm_unused_pieces_resegment_and_unknowns_merge(tmp_path):
    sp = _tiny_model(tmp_path, byte_fallback=False)
    # "ab" is UNUSED: "▁ab" still forms through it; a bare "ab" after "ab" is split back
    assert sp.encode("ab") == [("▁ab", 3)]
    assert sp.encode("xyab ab") == [("▁", 5), ("xy", 0), ("a", 6), ("b", 7), ("▁ab", 3)]


def test_spm_byte_fallback(tmp_path):
    sp = _tiny_model(tmp_path, byte_fallback=True)
    ids = sp.encode_as_ids("é")
    assert sp.encode_as_pieces("é") == ["▁", "<0xC3>", "<0xA9>"]
    assert ids[1:] == [sp.piece_to_id("<0xC3>"), sp.piece_to_id("<0xA9>")]


def test_spm_rejects_bad_files(tmp_path):
    with pytest.raises(spm.SpmError, match="not found"):
        spm.SentencePieceBPE(tmp_path / "missing.model")
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"\xff\xff\xff\xff not a protobuf")
    with pytest.raises(spm.SpmError):
        spm.SentencePieceBPE(bad)
    unigram = tmp_path / "unigram.model"
    unigram.write_bytes(_field(1, 2, _piece("<unk>", 0, spm.UNKNOWN)) + _field(2, 2, _field(3, 0, _varint(1))))
    with pytest.raises(spm.SpmError, match="only BPE"):
        spm.SentencePieceBPE(unigram)


# --- our normaliser beyond the fixture (documented behaviour) ------------------------------------
@pytest.mark.parametrize("text, want", [
    ("$1.00 and $12.05", "one dollar and twelve point oh five dollars"),
    ("Meet me on Jan. 5, 2012 at 2:30 p.m.", "Meet me on the fifth of january, twenty twelve at two thirty PM"),
    ("the 21st time, 3-4 pounds", "the twenty first time, three to four pounds"),
    ("Dr. Lee owes 1,234 dollars", "doctor Lee owes one thousand two hundred and thirty four dollars"),
    ("共465篇，约315万字", "共四百六十五篇,约三百一十五万字"),
    ("同比增长6.3%，2000人", "同比增长百分之六点三,两千人"),
    ("于5:35:36发射，2个人", "于五点三十五分三十六秒发射,两个人"),
    ("价格是￥13.5，重达25kg", "价格是十三点五元,重达二十五千克"),
    ("3/16和-2", "十六分之三和负二"),
])
def test_normalizer_common_cases(text, want):
    assert T.normalize(text) == want


# --- scripts with emotion tags and bad input ---------------------------------------------------
def test_script_segments_carry_tag_emotions(frontend):
    segs = frontend.script_segments("[happy] I love you. [sad:0.5] 我们去公园散步吧。", default_emotion="calm:0.2")
    assert len(segs) == 2
    assert segs[0].emotion[0] == pytest.approx(1.0) and segs[1].emotion[2] == pytest.approx(0.5)
    assert segs[0].ids == frontend.encode("I love you.")
    assert segs[1].text == "我们去公园散步吧。" and all(isinstance(i, int) for i in segs[1].ids)


def test_long_script_is_cut_into_bounded_segments(frontend):
    script = "the teacher reads a long letter today " * 30  # no punctuation at all
    with pytest.warns(RuntimeWarning, match="no punctuation"):
        segs = frontend.script_segments(script)
    assert len(segs) > 1 and all(0 < len(s.ids) <= T.MAX_SEGMENT_TOKENS for s in segs)
    assert sum(len(s.ids) for s in segs) == len(frontend.encode(script))


@pytest.mark.parametrize("script, match", [
    ("", "empty"),
    ("   \n ", "empty"),
    ("[happy] [sad]", "no speakable text"),
    ("[hapy] hello", "unknown emotion"),
    ("x" * 50_000, "limit"),
    ("Привет, как дела?", "Chinese and English only"),
    ("مرحبا بالعالم", "Chinese and English only"),
])
def test_bad_scripts_raise_clear_errors(frontend, script, match):
    with pytest.raises(ValueError, match=match):
        frontend.script_segments(script)


def test_unknown_characters_map_to_unk_like_the_reference(frontend):
    ids = frontend.encode("约瑟夫")
    assert frontend.unk_id in ids


def test_deviations_are_documented():
    assert "WeTextProcessing" in T.DEVIATIONS and np.isscalar(T.MAX_SCRIPT_CHARS)
