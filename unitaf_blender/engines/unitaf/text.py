"""IndexTTS2 text front end: normalise -> split CJK -> uppercase -> BPE ids -> <=120-token segments.

Mirrors the reference `TextNormalizer` / `TextTokenizer` / `split_segments`. The reference
normalises with WeTextProcessing FST grammars, which we do not ship; `normalize_zh` /
`normalize_en` are our own rule-based normalisers that reproduce the parity fixture cases and
the common cases of those grammars (numbers, money, percentages, dates, times, phone numbers,
ordinals, ranges, a few abbreviations). Known differences are listed in DEVIATIONS.

The normalisers live in normalize_zh.py / normalize_en.py (as whisper keeps normalizers/ apart
from its tokenizer); this module decides between them and does tokenisation and segmentation.

Inline emotion tags ("[happy] Hi! [sad:0.6] Bye.") and the script's SSML are resolved first by
`core.emotion.parse_script`; every segment carries the emotion of the span it came from and the
pause a <break> asks for before it. <prosody> and <emphasis> are refused: the model has no
rate, pitch or emphasis input.
No torch here: this module runs anywhere.
"""
from __future__ import annotations

import re
import unicodedata
import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ...core.emotion import MAX_SCRIPT_CHARS, parse_script
from ...core.markup import PLAIN
from .normalize_en import normalize_en
from .normalize_zh import normalize_zh
from .spm import SentencePieceBPE

__all__ = ["TextFrontend", "TextSegment", "normalize", "normalize_zh", "normalize_en",
           "tokenize_by_cjk", "split_segments", "MAX_SCRIPT_CHARS", "DEVIATIONS"]

MAX_SEGMENT_TOKENS = 120   # reference `max_text_tokens_per_segment`

DEVIATIONS = """\
Text normalisation differs from the reference's WeTextProcessing grammars in these known ways
(all 21 parity cases match exactly):
- zh: no traditional->simplified conversion; no 幺 readings (110, 尾号...); sports scores
  written N-M are read as a range (到), not 比; only a short list of measure units.
- en: 1000 is read "one thousand" (WeTextProcessing says "thousand"); no Roman numerals, US
  states, e-mail/URL reading or telephone numbers with a leading +; a short abbreviation list.
- split_segments: a quote after a sentence end is kept with that sentence only (the reference
  also repeats it at the start of the next segment).
"""

# ---------------------------------------------------------------------------------------------
# Chinese / English decision and the reference's protections (pinyin, names, contractions)
# ---------------------------------------------------------------------------------------------
_PINYIN = (r"(?<![a-z])((?:[bpmfdtnlgkhjqxzcsryw]|[zcs]h)?(?:[aeiouüv]|[ae]i|u[aio]|ao|ou|i[aue]|"
           r"[uüv]e|[uvü]ang?|uai|[aeiuv]n|[aeio]ng|ia[no]|i[ao]ng)|ng|er)([1-5])")
_PINYIN_RE = re.compile(_PINYIN, re.IGNORECASE)
_NAME_RE = re.compile(r"[\u4e00-\u9fff]+(?:[-·—][\u4e00-\u9fff]+){1,2}")
_CONTRACTION_RE = re.compile(r"(what|where|who|which|how|t?here|it|s?he|that|this)'s", re.IGNORECASE)
_EMAIL_RE = re.compile(r"^[a-zA-Z0-9]+@[a-zA-Z0-9]+\.[a-zA-Z]+$")

_PUNCT_MAP = {"：": ",", "；": ",", ";": ",", "，": ",", "。": ".", "！": "!", "？": "?", "\n": " ",
              "·": "-", "、": ",", "...": "…", ",,,": "…", "，，，": "…", "……": "…",
              "“": "'", "”": "'", '"': "'", "‘": "'", "’": "'", "（": "'", "）": "'", "(": "'",
              ")": "'", "《": "'", "》": "'", "【": "'", "】": "'", "[": "'", "]": "'", "—": "-",
              "～": "-", "~": "-", "「": "'", "」": "'", ":": ","}
_ZH_PUNCT_MAP = {"$": ".", **_PUNCT_MAP}


def _map_re(table):
    # alternation in insertion order, like the reference (so "..." wins over "." etc. by order)
    return re.compile("|".join(re.escape(k) for k in table))


_PUNCT_RE, _ZH_PUNCT_RE = _map_re(_PUNCT_MAP), _map_re(_ZH_PUNCT_MAP)


def use_chinese(text: str) -> bool:
    if re.search(r"[\u4e00-\u9fff]", text) or not re.search(r"[a-zA-Z]", text) or _EMAIL_RE.match(text):
        return True
    return bool(_PINYIN_RE.search(text))


def _correct_pinyin(p: str) -> str:
    """j/q/x + u/ü -> v and uppercase (only for j/q/x syllables, as the reference)."""
    if p[0] not in "jqxJQX":
        return p
    return re.sub(r"([jqx])[uü](n|e|an)*(\d)", r"\g<1>v\g<2>\g<3>", p, flags=re.IGNORECASE).upper()


def _protect(text, pattern, tag):
    found = list(dict.fromkeys(m.group(0) for m in pattern.finditer(text)))
    for i, s in enumerate(found):
        text = text.replace(s, f"<{tag}_{chr(ord('a') + i)}>") if i < 26 else text
    return text, found[:26]


def _restore(text, found, tag, fix=lambda s: s):
    for i, s in enumerate(found):
        text = text.replace(f"<{tag}_{chr(ord('a') + i)}>", fix(s))
    return text


def normalize(text: str) -> str:
    """The reference `TextNormalizer.normalize` with our own zh/en normalisers."""
    if use_chinese(text):
        text = _CONTRACTION_RE.sub(r"\1 is", text)
        text, pinyin = _protect(text.rstrip(), _PINYIN_RE, "pinyin")
        text, names = _protect(text, _NAME_RE, "n")
        out = normalize_zh(text)
        out = _restore(out, names, "n")
        out = _restore(out, pinyin, "pinyin", _correct_pinyin)
        return _ZH_PUNCT_RE.sub(lambda m: _ZH_PUNCT_MAP[m.group(0)], out)
    text = _CONTRACTION_RE.sub(r"\1 is", text)
    out = normalize_en(text)
    return _PUNCT_RE.sub(lambda m: _PUNCT_MAP[m.group(0)], out)


# ---------------------------------------------------------------------------------------------
# Tokenisation and segmentation
# ---------------------------------------------------------------------------------------------
_CJK_SPLIT = re.compile(r"([\u1100-\u11ff\u2e80-\ua4cf\ua840-\uD7AF\uF900-\uFAFF\uFE30-\uFE4F"
                        r"\uFF65-\uFFDC\U00020000-\U0002FFFF])")


def tokenize_by_cjk(line: str) -> str:
    """Every CJK character becomes its own word; everything else is uppercased."""
    return " ".join(w.strip().upper() for w in _CJK_SPLIT.split(line.strip()) if w.strip())


_SENTENCE_END = (".", "!", "?", "▁.", "▁?", "▁...")
_COMMAS = (",", "▁,")


def _split_by(tokens, enders, max_len, quick):
    segments, cur = [], []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        cur.append(tok)
        if not any(c in enders for c in _COMMAS) and any(c in cur for c in _COMMAS):
            segments.extend(_split_by(cur, _COMMAS, max_len, quick))
            cur = []
        elif "-" not in enders and "-" in cur:
            segments.extend(_split_by(cur, ("-",), max_len, quick))
            cur = []
        elif len(cur) <= max_len:
            if tok in enders and len(cur) > 2:
                if i + 1 < len(tokens) and tokens[i + 1] in ("'", "▁'"):
                    cur.append(tokens[i + 1])  # a closing quote stays with its sentence
                    i += 1
                segments.append(cur)
                cur = []
        else:
            warnings.warn(f"a text segment of {len(cur)} tokens has no punctuation to split at; "
                          f"cutting it every {max_len} tokens", RuntimeWarning, stacklevel=3)
            segments.extend(cur[j:j + max_len] for j in range(0, len(cur), max_len))
            cur = []
        i += 1
    if cur:
        segments.append(cur)
    merged, total = [], 0
    for seg in segments:
        total += len(seg)
        if not seg:
            continue
        if merged and len(merged[-1]) + len(seg) <= max_len and total > quick:
            merged[-1] = merged[-1] + seg
        elif merged and len(merged[-1]) + len(seg) <= max_len / 2:
            merged[-1] = merged[-1] + seg
        else:
            merged.append(seg)
    return merged


def split_segments(tokens: list[str], max_tokens: int = MAX_SEGMENT_TOKENS,
                   quick_streaming_tokens: int = 0) -> list[list[str]]:
    """Reference `split_segments`: close at sentence ends, commas and '-', hard-cut runs longer
    than `max_tokens`, then greedily merge neighbours while they fit in `max_tokens`."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    return _split_by(list(tokens), _SENTENCE_END, max_tokens, quick_streaming_tokens) if tokens else []


@dataclass
class TextSegment:
    ids: list          # BPE ids (no start/stop), at most max_tokens long
    tokens: list       # the matching pieces
    emotion: np.ndarray  # float32 [8], from the script's inline tags / default emotion
    text: str          # the script span this segment came from (tags removed)
    char_start: int    # span position in the script
    char_end: int
    pause_before: Optional[float] = None   # seconds of silence a <break> asks for before it (None: the usual gap)
    pause_after: float = 0.0               # a <break> at the very end (last segment only)


class TextFrontend:
    """Text -> BPE ids with the official `bpe.model` (our own SentencePiece reader)."""

    def __init__(self, bpe_model):
        self.sp = SentencePieceBPE(bpe_model)

    @property
    def unk_id(self) -> int:
        return self.sp.unk_id

    def normalize(self, text: str) -> str:
        return normalize(text)

    def tokenize(self, text: str) -> list[str]:
        """Reference `TextTokenizer.tokenize`: pieces; a 1-character text is not normalised."""
        return [p for p, _ in self._encode(text)]

    def encode(self, text: str) -> list[int]:
        return [i for _, i in self._encode(text)]

    def _encode(self, text: str):
        if not text:
            return []
        if len(text.strip()) != 1:
            text = tokenize_by_cjk(normalize(text))
        return self.sp.encode(text)

    def convert_tokens_to_ids(self, tokens) -> list[int]:
        return [self.sp.piece_to_id(t) for t in tokens]

    def segments(self, text: str, max_tokens: int = MAX_SEGMENT_TOKENS) -> list[list[int]]:
        """Plain text (no tags) -> id segments, as the reference feeds the GPT."""
        return [self.convert_tokens_to_ids(s) for s in split_segments(self.tokenize(text), max_tokens)]

    def script_segments(self, script: str, default_emotion=None,
                        max_tokens: int = MAX_SEGMENT_TOKENS) -> list[TextSegment]:
        """A user script with inline emotion tags -> segments, each with its span's emotion.

        Raises ValueError for: non-text, an empty script or one with only tags/punctuation, a
        script longer than MAX_SCRIPT_CHARS, or text the model cannot read (mostly letters of
        scripts other than Latin and CJK, which the tokenizer maps to <unk>)."""
        out, pause = [], None
        spans = check_script(script, default_emotion)
        for span in spans:
            if span.pause_before is not None:
                pause = (pause or 0.0) + span.pause_before
            for seg in split_segments(self.tokenize(span.text), max_tokens):
                ids = self.convert_tokens_to_ids(seg)
                out.append(TextSegment(ids, seg, span.emotion, span.text, span.char_start, span.char_end, pause))
                pause = None
        if not out:
            raise ValueError("the script has no speakable text")
        out[-1].pause_after = spans[-1].pause_after + (pause or 0.0)
        return out


def check_script(script, default_emotion=None) -> list:
    """The script's spans (core.emotion.parse_script) after every check that needs no BPE model:
    text, not empty, at most MAX_SCRIPT_CHARS, and readable by the model. Raises ValueError."""
    if not isinstance(script, str):
        raise ValueError(f"script must be text, got {type(script).__name__}")
    if not script.strip():
        raise ValueError("the script is empty: type something to say")
    if len(script) > MAX_SCRIPT_CHARS:
        raise ValueError(f"the script has {len(script):,} characters; the limit is {MAX_SCRIPT_CHARS:,} "
                         "per generation. Split it into several shorter clips.")
    spans = parse_script(script, default_emotion)
    for span in spans:
        if span.voicing != PLAIN:
            raise ValueError(f"the UniTAF engine cannot change the speaking rate, pitch or emphasis (the text "
                             f"at character {span.char_start} is inside <prosody> or <emphasis>): remove that "
                             "markup, or use the embedded engine (<break> and emotion tags work with both)")
        check_readable(span.text)
    return spans


def _readable(ch: str) -> bool:
    if ch.isdigit() or _CJK_SPLIT.fullmatch(ch):
        return True
    name = unicodedata.name(ch, "")
    return name.startswith("LATIN") or name.startswith("FULLWIDTH LATIN")


def check_readable(text: str) -> None:
    letters = [c for c in text if c.isalnum()]
    bad = [c for c in letters if not _readable(c)]
    if letters and len(bad) * 2 >= len(letters):
        sample = "".join(dict.fromkeys(bad))[:10]
        raise ValueError(f"the text {text[:40]!r} is mostly in a script the IndexTTS2 voice cannot read "
                         f"(e.g. {sample!r}); it speaks Chinese and English only")
