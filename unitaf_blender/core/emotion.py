"""Emotion specs and inline emotion tags, shared by every engine (and "auto": emotions inferred
from the script's words, written as inline tags, see auto_tagged).

An emotion is a float32 vector of 8 intensities in IndexTTS2's order (`EMOTIONS`).
Accepted specs:
    "happy"  "happy:0.8"  "HAPPY: 0.8"  "happy:0.6, surprised:0.3"  "neutral" / ""
    "0,0,0.5,0,0,0,0,0" (8 numbers)     a list/tuple/array of 8 numbers
Every intensity must lie in 0..1 (values within 1e-6 of the range are clipped).
Aliases: fear/fearful/scared -> afraid, disgust -> disgusted, surprise -> surprised,
melancholy -> melancholic; "neutral" is the all-zero vector.

Scripts carry inline tags: "[happy] Hello there! [sad:0.6] I missed you." A tag applies
until the next one; text before the first tag uses the default emotion. A bracket whose
content is a single word with an optional ":number" is an emotion tag, and an unknown
word there is an error (so typos like "[hapy]" are caught). Any other balanced bracket, e.g.
"[1]" or "[see note]", is ordinary text; an unclosed, stray or nested bracket is an error
naming its position. Scripts may also hold a subset of SSML (<break>, <emphasis>,
<prosody rate pitch>, see markup.py); parse_script turns both into spans.
"""
import re
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .markup import PLAIN, Pause, Voicing, has_markup, read_markup, without_markup
from .performance import EMOTIONS
from .signal import DEFAULT_FPS, smooth

_ALIASES = {"fear": "afraid", "fearful": "afraid", "scared": "afraid", "disgust": "disgusted",
            "surprise": "surprised", "melancholy": "melancholic"}
_NEUTRAL = "neutral"
DEFAULT_EMOTION = _NEUTRAL      # every front end's emotion when the user gives none (panel, CLI, batch)
_TAG = re.compile(r"\[\s*([A-Za-z][A-Za-z_]*)\s*(?::\s*([^\]\[]*?))?\s*\]")
_EPS = 1e-6
# One performance's script: about 20 minutes of speech keeps audio and face arrays reasonable;
# longer scripts are split by the user (one per scene or paragraph, or a batch).
MAX_SCRIPT_CHARS = 20_000


def _valid_names():
    return ", ".join(EMOTIONS) + f", {_NEUTRAL}"


def _intensity(text, part):
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"emotion {part!r}: intensity {text!r} is not a number (use 0..1)") from None
    return _check_range(value, part)


def _check_range(value, part):
    if not (-_EPS <= value <= 1 + _EPS):  # also rejects NaN
        raise ValueError(f"emotion {part!r}: intensity {value!r} is outside 0..1")
    return min(max(value, 0.0), 1.0)


def _emotion_index(name, part):
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key == _NEUTRAL:
        raise ValueError(f"{part!r}: 'neutral' means no emotion; use it alone, without an intensity")
    if key not in EMOTIONS:
        raise ValueError(f"unknown emotion {name.strip()!r} in {part!r}; valid names: {_valid_names()}")
    return EMOTIONS.index(key)


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def parse_emotion(spec) -> np.ndarray:
    """Emotion spec (see module docstring) -> float32 [8] in EMOTIONS order."""
    vec = np.zeros(len(EMOTIONS), np.float32)
    if spec is None:
        return vec
    if not isinstance(spec, str):
        values = np.asarray(spec, dtype=np.float64).reshape(-1)
        if values.shape != (len(EMOTIONS),):
            raise ValueError(f"an emotion vector needs {len(EMOTIONS)} values ({', '.join(EMOTIONS)}), "
                             f"got {values.size}")
        for i, v in enumerate(values):
            vec[i] = _check_range(float(v), EMOTIONS[i])
        return vec
    text = spec.strip()
    if not text or text.lower() == _NEUTRAL:
        return vec
    parts = [p.strip() for p in text.split(",")]
    if all(_is_number(p) for p in parts):
        if len(parts) != len(EMOTIONS):
            raise ValueError(f"an emotion vector needs {len(EMOTIONS)} comma-separated numbers "
                             f"({', '.join(EMOTIONS)}), got {len(parts)} in {spec!r}")
        return parse_emotion([float(p) for p in parts])
    seen = set()
    for part in parts:
        if not part:
            raise ValueError(f"empty part in emotion spec {spec!r}")
        name, sep, value = part.partition(":")
        i = _emotion_index(name, part)
        if i in seen:
            raise ValueError(f"emotion {EMOTIONS[i]!r} given twice in {spec!r}")
        seen.add(i)
        vec[i] = _intensity(value, part) if sep else 1.0
    return vec


def emotion_label(vec) -> str:
    """Short label of the dominant emotion: "happy:0.80", or "neutral" when all zero."""
    v = np.asarray(vec, dtype=np.float64).reshape(-1)
    if v.shape != (len(EMOTIONS),):
        raise ValueError(f"an emotion vector needs {len(EMOTIONS)} values, got {v.size}")
    i = int(np.argmax(v))
    if v[i] <= 0:
        return _NEUTRAL
    return f"{EMOTIONS[i]}:{v[i]:.2f}"


@dataclass
class ScriptSpan:
    text: str            # the span's text, stripped, tags and markup removed; in a script without
                         # SSML markup text == script[char_start:char_end]
    emotion: np.ndarray  # float32 [8]
    char_start: int
    char_end: int
    pause_before: Optional[float] = None   # seconds a <break> asks for before it (None: the engine's gap)
    pause_after: float = 0.0               # a <break> after the last span
    voicing: Voicing = PLAIN               # <prosody>/<emphasis> factors over the emotion's voice
    joined: bool = False                   # only the voicing changed since the span before (mid-sentence)


def _brackets(run):
    """A markup Run -> [("text", str, start, end) | ("tag", vector, position)]: emotion tags
    parsed, other balanced brackets kept as text; a nested, unclosed or stray bracket is an
    error naming its position."""
    def at(k, end=False):   # script position of run.text[k] (the run's bounds where entities were decoded)
        return run.start + k if run.exact else (run.end if end else run.start)

    out, pos, opened = [], 0, None
    for k, ch in enumerate(run.text):
        if ch == "[":
            if opened is not None:
                raise ValueError(f"a '[' at character {at(k)} inside the bracket opened at character "
                                 f"{at(opened)}: brackets do not nest (close the first one with ']')")
            opened = k
        elif ch == "]":
            if opened is None:
                raise ValueError(f"a ']' at character {at(k)} closes no '[' (remove it, or open the "
                                 "tag with '[')")
            m = _TAG.fullmatch(run.text, opened, k + 1)
            if m is not None:
                name, value = m.group(1), m.group(2)
                try:
                    vec = parse_emotion(name if value is None else f"{name}:{value}")
                except ValueError as e:
                    raise ValueError(f"bad emotion tag {m.group(0)!r} at character {at(opened)}: {e}") from None
                out.append(("text", run.text[pos:opened], at(pos), at(opened)))
                out.append(("tag", vec, at(opened)))
                pos = k + 1
            opened = None
    if opened is not None:
        snippet = run.text[opened:opened + 20]
        raise ValueError(f"the '[' at character {at(opened)} is never closed ({snippet!r}): close the tag "
                         "with ']' (e.g. '[happy]') or remove the bracket")
    out.append(("text", run.text[pos:], at(pos), at(len(run.text), end=True)))
    return out


def _pieces(text):
    """The script as ("text", str, start, end, voicing) | ("tag", vector, position) |
    ("pause", seconds, position), in order (markup.read_markup + emotion tags)."""
    for event in read_markup(text):
        if isinstance(event, Pause):
            yield ("pause", event.seconds, event.at)
            continue
        for piece in _brackets(event):
            yield piece + (event.voicing,) if piece[0] == "text" else piece


def _speakable(s):
    return any(ch.isalnum() for ch in s)


def parse_script(text, default_emotion=None) -> list:
    """Split a script at its emotion tags, <break>s and voicing changes -> [ScriptSpan],
    dropping spans with nothing to say (a pause before one moves to the next span).
    ValueError (markup.MarkupError for markup) names the position of anything refused."""
    if not isinstance(text, str):
        raise ValueError(f"script must be text, got {type(text).__name__}")
    emotion = parse_emotion(default_emotion)
    spans, parts = [], []          # parts: [(text, start, end)] of the span being gathered
    state = {"voicing": PLAIN, "emotion": emotion, "pause": None, "joined": False}

    def close(joined):
        body = "".join(p[0] for p in parts)
        if _speakable(body):
            said = [p for p in parts if p[0].strip()]
            first, last = said[0], said[-1]
            lead = len(first[0]) - len(first[0].lstrip())
            trail = len(last[0]) - len(last[0].rstrip())
            exact = first[2] - first[1] == len(first[0]) and last[2] - last[1] == len(last[0])
            start = first[1] + (lead if exact else 0)
            end = max(last[2] - (trail if exact else 0), start)
            spans.append(ScriptSpan(body.strip(), state["emotion"].copy(), start, end,
                                    state["pause"], 0.0, state["voicing"], state["joined"] and bool(spans)))
            state["pause"], state["joined"] = None, False
        parts.clear()
        state["joined"] = state["joined"] or joined

    for piece in _pieces(text):
        kind = piece[0]
        if kind == "tag":
            close(False)
            state["emotion"], state["joined"] = piece[1], False
        elif kind == "pause":
            close(False)
            state["pause"], state["joined"] = (state["pause"] or 0.0) + piece[1], False
        else:
            _, chunk, start, end, voicing = piece
            if voicing != state["voicing"]:
                close(joined=_speakable("".join(p[0] for p in parts)))
                state["voicing"] = voicing
            parts.append((chunk, start, end))
    close(False)
    if not spans:
        raise ValueError("the script has no speakable text (only emotion tags, markup, spaces or punctuation)")
    if state["pause"]:
        spans[-1].pause_after = state["pause"]
    return spans


def strip_tags(text) -> str:
    """The script without its emotion tags and markup, whitespace runs collapsed to one space."""
    words = [p[1] for p in _pieces(text) if p[0] == "text"]
    return re.sub(r"\s+", " ", " ".join(words)).strip()


def emotion_frames(emotion_times, emotion_vectors, n_frames, fps=DEFAULT_FPS):
    """The emotion vector at each frame [T, 8]: interpolated, then eased over ~0.15 s so a
    step in the script becomes a natural onset rather than a pop. No timeline -> zeros."""
    n_frames = int(n_frames)
    if n_frames < 0 or fps <= 0:
        raise ValueError("n_frames must be >= 0 and fps > 0")
    if emotion_times is None or emotion_vectors is None:
        return np.zeros((n_frames, len(EMOTIONS)), np.float64)
    times = np.asarray(emotion_times, np.float64).reshape(-1)
    vectors = np.asarray(emotion_vectors, np.float64)
    if vectors.size == 0 and times.size == 0:
        return np.zeros((n_frames, len(EMOTIONS)), np.float64)
    if vectors.ndim == 1 and vectors.size == len(EMOTIONS):
        vectors = vectors[None]
    if vectors.shape != (len(times), len(EMOTIONS)):
        raise ValueError(f"emotion_vectors must be [K, {len(EMOTIONS)}] with K = len(emotion_times) "
                         f"= {len(times)}, got {np.shape(emotion_vectors)}")
    if not (np.all(np.isfinite(times)) and np.all(np.isfinite(vectors))):
        raise ValueError("emotion_times/emotion_vectors contain NaN or inf")
    order = np.argsort(times, kind="stable")
    times, vectors = times[order], np.clip(vectors[order], 0.0, 1.0)
    t = np.arange(n_frames) / fps
    out = np.stack([np.interp(t, times, vectors[:, j]) for j in range(len(EMOTIONS))], 1)
    return smooth(out, 0.15 * fps)


# --- Auto: an emotion per sentence, inferred from the words ------------------------------------

AUTO = "auto"
AUTO_EMO_ALPHA = 0.6     # the reference's recommended strength for emotions read from text
_SENTENCE_END = re.compile(r"(?<=[.!?;\u3002\uff01\uff1f\uff1b\u2026])\s*|\n+")


def is_auto(spec) -> bool:
    return isinstance(spec, str) and spec.strip().lower() == AUTO


def split_sentences(text) -> list:
    """(start, end) of each sentence of `text` (ends at . ! ? ; and their CJK forms, or a
    line break); whitespace between sentences belongs to neither."""
    out, pos = [], 0
    for m in _SENTENCE_END.finditer(text):
        if m.end() <= pos:
            continue
        if text[pos:m.start()].strip():
            out.append((pos, m.start()))
        pos = m.end()
    if text[pos:].strip():
        out.append((pos, len(text.rstrip())))
    return out


def emotion_tag(vec) -> str:
    """An inline tag for an emotion vector: "[happy:0.42, surprised:0.10]" ("[neutral]" if 0)."""
    v = np.clip(np.asarray(vec, np.float64).reshape(-1), 0.0, 1.0)
    parts = [f"{name}:{x:.2f}" for name, x in zip(EMOTIONS, v) if round(x, 2) > 0]
    return "[" + (", ".join(parts) if parts else _NEUTRAL) + "]"


def _untagged_head(script):
    """(the text before the first tag, the rest): only the head's sentences are inferred."""
    first_tag = next((p[2] for p in _pieces(script) if p[0] == "tag"), len(script))
    return script[:first_tag], script[first_tag:]


_XML_TOKEN = re.compile(r"<[^>]*>|&(?:#\d+|#x[0-9A-Fa-f]+|\w+);")


def _masked(text, markup):
    """`text` with SSML tags and entities blanked (same length), so sentences are found in the
    words only and inferred tags never land inside markup."""
    if not markup:
        return text
    return _XML_TOKEN.sub(lambda m: " " * len(m.group(0)), text)


def _head_sentences(script):
    """(head, rest, [(start, end, words)]): the text before the first tag, the rest, and the
    head's sentences (spans in the head; words without markup, what the model reads)."""
    head, rest = _untagged_head(script)
    markup = has_markup(script)
    spans = [(a, b, without_markup(head[a:b], markup)) for a, b in split_sentences(_masked(head, markup))]
    return head, rest, spans


def auto_tagged(script, infer, alpha=AUTO_EMO_ALPHA, prefetch=None):
    """The script with an inferred emotion tag before every sentence that no explicit tag
    governs (explicit tags win: a tag applies until the next one, so only the text before the
    first tag is inferred). `infer(sentence) -> 8 floats` (e.g. the text-emotion model, cached
    by text) is asked about the words (no markup); the vector is scaled by `alpha`.
    `prefetch(sentences)`, if given, first gets every sentence at once (a model answering
    them in one batch). Returns (tagged script, [(sentence, vector)])."""
    head, rest, spans = _head_sentences(script)
    if prefetch is not None:
        prefetch([sentence for _, _, sentence in spans])
    pieces, inferred, pos = [], [], 0
    for start, end, sentence in spans:          # the model reads the words only
        vec = np.clip(np.asarray(infer(sentence), np.float64).reshape(-1) * alpha, 0.0, 1.0)
        if vec.shape != (len(EMOTIONS),):
            raise ValueError(f"the emotion model gave {vec.size} values, not {len(EMOTIONS)}")
        tag = emotion_tag(vec)
        same = bool(inferred) and tag == emotion_tag(inferred[-1][1])   # one span while it holds
        pieces += [head[pos:start]] + ([] if same else [tag, " "]) + [head[start:end]]
        inferred.append((sentence, vec.astype(np.float32)))
        pos = end
    pieces.append(head[pos:])
    return "".join(pieces) + rest, inferred
