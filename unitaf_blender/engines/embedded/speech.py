"""Script (with inline emotion tags) -> speech audio + phoneme/word/emotion timelines.

This is the ONE internal representation of the embedded engine: the face is computed from
the timelines returned here, never from the audio.

Each tagged span is a separate espeak call, concatenated with a pause in between. One SSML
call with a <prosody> per span was the alternative, but SSML prosody is relative
(percentages, named levels), has no word-gap and clips volume; separate calls give every
span its exact absolute parameters, set explicitly, and sample-exact offsets for free.
The cost is that a tag in mid-sentence restarts the intonation (documented). The script's
SSML subset (core/markup.py) uses the same machinery: a <break> is the silence between two
spans, and <emphasis>/<prosody> spans get their rate, pitch and loudness scaled
(prosody.with_voicing).

Input policy (never a crash, never a half-built result), checked by `prepare_script`
before anything is spoken:
* empty text, only punctuation/emoji, only tags -> ScriptError (a ValueError) saying so;
* malformed tags or markup, unsupported SSML, control characters (ANSI codes) ->
  ScriptError naming the character position (never read aloud);
* emoji and pictographic symbols are removed before speaking (not read aloud);
* more than MAX_SCRIPT_CHARS characters -> ScriptError asking to split the script
  (about 20 minutes of speech per performance keeps audio and face arrays reasonable);
* an unknown voice/language -> EngineError from espeak.py listing where valid ids come from.
"""
import bisect
import unicodedata
from dataclasses import dataclass, field, replace

import numpy as np

from ...core.emotion import MAX_SCRIPT_CHARS, parse_emotion, parse_script
from ...core.performance import TimedLabel
from .. import check_cancel
from .espeak import get_espeak
from .natural import SpanAudio
from .prosody import ProsodyParams, prosody_for, with_voicing
from .voice_catalog import HIBARI, parse_voice

SPAN_GAP_S = 0.30       # silence between tagged spans (espeak ends an utterance almost dry)
JOINED_GAP_S = 0.04     # ... and where only <emphasis>/<prosody> changed in mid-sentence
_SENTENCE_ENDS = tuple(".!?;\u2026\u3002\uff01\uff1f\uff1b")
EMOTION_RAMP_S = 0.25   # the emotion timeline blends over this long, centred in that gap
PEAK_LIMIT = 0.98       # a loud emotion's gain must never clip the int16 file
LIMIT_BLOCK_S = 0.005   # the peak limiter's gain changes over blocks this long
NATURAL_NOISE_SEED = 0  # the natural voice's DSP noise: fixed, so a new seed changes only idle motion
PAUSE = "_"


class ScriptError(ValueError):
    """The script cannot be spoken; the message says why and what to do."""


@dataclass
class SpokenSpan:
    text: str                 # the text actually spoken (emoji removed)
    emotion: np.ndarray       # float32 [8]
    prosody: ProsodyParams
    start: float              # seconds: first sample of this span's speech
    end: float                # seconds: last sample (exclusive) of this span's speech


@dataclass
class Speech:
    audio: np.ndarray         # float32 mono
    sample_rate: int
    phonemes: list            # [TimedLabel] espeak mnemonics ("'aI", "t", ...), pauses "_";
                              # contiguous from 0 to the last sample
    words: list               # [TimedLabel] word text
    emotion_times: np.ndarray     # float32 [K] seconds, increasing; linear in between
    emotion_vectors: np.ndarray   # float32 [K, 8]
    spans: list = field(default_factory=list)   # [SpokenSpan]

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate


def clean_text(text: str) -> str:
    """Drop what espeak should not read aloud: emoji, pictographs, their joiners/modifiers,
    control characters. Keeps letters, digits, punctuation and common signs (° © % $)."""
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        cp = ord(ch)
        if ch in "\t\n\r":
            out.append(" ")
        elif cat in ("Cc", "Cs", "Co", "Cn", "Cf"):        # controls, ZWJ, tag characters
            continue
        elif cat == "So" and cp >= 0x2000:                  # emoji, dingbats, arrows
            continue
        elif 0x1F3FB <= cp <= 0x1F3FF or 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF:
            continue                                        # skin tones, variation selectors
        else:
            out.append(ch)
    return " ".join("".join(out).split())


def is_speakable(text: str) -> bool:
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


def prepare_script(text, default_emotion="calm:0") -> list:
    """Validate a script and split it at its tags, <break>s and voicing changes ->
    [core.emotion.ScriptSpan] whose text is what espeak will read (emoji removed; spans with
    nothing speakable dropped, their pause kept). Needs no espeak: the engine's check() runs
    it for every line of a batch before anything is spoken.

    Raises ScriptError for an empty, too long or unspeakable script, a bad tag/emotion, or
    markup and characters that must not be read aloud (with their position)."""
    if not isinstance(text, str) or not text.strip():
        raise ScriptError("The script is empty: type something to say.")
    if len(text) > MAX_SCRIPT_CHARS:
        raise ScriptError(
            f"The script has {len(text):,} characters; the embedded engine speaks at most "
            f"{MAX_SCRIPT_CHARS:,} per performance (about 20 minutes). Split it into several "
            "performances (one per scene or paragraph).")
    try:
        if isinstance(default_emotion, str):
            default_emotion = parse_emotion(default_emotion)
        spans = parse_script(text, default_emotion)
    except ValueError as e:
        raise ScriptError(_sentence(str(e))) from e
    todo, pause = [], None
    for span in spans:
        said = clean_text(span.text)
        if span.pause_before is not None:
            pause = (pause or 0.0) + span.pause_before
        if is_speakable(said):
            todo.append(replace(span, text=said, emotion=np.asarray(span.emotion, np.float32),
                                pause_before=pause, joined=span.joined and pause is None))
            pause = None
    if not todo:
        raise ScriptError(
            "The script has nothing speakable (only punctuation, symbols, emoji or tags): "
            "add some words.")
    todo[-1].pause_after = spans[-1].pause_after + (pause or 0.0)
    return todo


def _sentence(message):
    """core.emotion's lower-case fragments -> a sentence for the user."""
    message = message.strip()
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def _gap_before(span, previous):
    """Silence before a span: what a <break> asked for; a short breath where only the voicing
    changed in mid-sentence (<emphasis>, <prosody>); else the pause between tagged spans."""
    if span.pause_before is not None:
        return span.pause_before
    if span.joined and not previous.text.rstrip().endswith(_SENTENCE_ENDS):
        return JOINED_GAP_S
    return SPAN_GAP_S + previous.prosody.sentence_pause


def synthesize_script(text, default_emotion="calm:0", voice="en-us", seed=0, cancel=None,
                      model_path=None) -> Speech:
    """Speak a script whose inline tags (`[happy] Hi! [sad:0.6] Bye.`) change the emotion and
    whose SSML subset (core/markup.py) adds pauses and changes rate, pitch and loudness.

    `voice` is a voice id (voice_catalog.py): an espeak-ng voice (`en-us+f3`, `espeak:cmn`)
    or a natural one (`hibari:heart`, `hibari:heart+deep`); `model_path` is the natural
    voice's model file (None: the one inside the hibari wheel). `default_emotion` (spec
    string or 8 floats) applies before the first tag. `seed` reaches only espeak's noise
    source (breathy variants); the same script, voice and seed always give the same samples. `cancel`
    (threading.Event) stops between and inside spans with `Cancelled`.
    """
    todo = prepare_script(text, default_emotion)
    speak, sr = _speaker(parse_voice(voice), seed, model_path)
    pieces, marks, words, spoken = [], [], [], []   # marks: (sample, label) phoneme starts
    offset = 0

    def silence(seconds):
        nonlocal offset
        n = int(round(seconds * sr))
        if n > 0:
            pieces.append(np.zeros(n, np.float32))
            marks.append((offset, PAUSE))
            offset += n

    for i, span in enumerate(todo):
        check_cancel(cancel)
        p = with_voicing(prosody_for(span.emotion), span.voicing)
        # the previous span's emotion decides how long the pause is (unless a <break> says)
        silence((span.pause_before or 0.0) if i == 0 else _gap_before(span, spoken[-1]))
        said = speak(span.text, p, cancel)
        check_cancel(cancel)
        audio = limit_peaks(said.audio, sr)
        span_marks = [(offset + s, label) for s, label in said.marks]
        if not span_marks or span_marks[0][0] > offset:
            span_marks.insert(0, (offset, PAUSE))
        marks.extend(span_marks)
        words.extend((offset + a, offset + b, w) for a, b, w in said.words)
        spoken.append(SpokenSpan(span.text, span.emotion, p, offset / sr, (offset + len(audio)) / sr))
        pieces.append(audio.astype(np.float32, copy=False))
        offset += len(audio)
    silence(todo[-1].pause_after)

    audio = np.concatenate(pieces)
    if not any(lab != PAUSE for _, lab in marks) or not np.any(audio):
        raise ScriptError(f"The voice '{voice}' produced no speech for this script; check that "
                          "the text is in that voice's language.")
    phonemes = _contiguous(marks, len(audio), sr)
    times, vectors = _emotion_timeline(spoken, len(audio) / sr)
    return Speech(audio, sr, phonemes, [TimedLabel(a / sr, b / sr, w) for a, b, w in words],
                  times, vectors, spoken)


def limit_peaks(audio, sample_rate):
    """Audio whose peaks stay within PEAK_LIMIT, turned down only around them: one gain per
    5 ms block (no louder than its neighbours'), interpolated between block centres, so a
    single pulse-train peak does not turn down a whole sentence."""
    audio = np.asarray(audio, np.float32)
    magnitude = np.abs(audio)
    if len(audio) == 0 or magnitude.max() <= PEAK_LIMIT:
        return audio
    block = max(int(LIMIT_BLOCK_S * sample_rate), 1)
    n = -(-len(audio) // block)
    peaks = np.zeros(n * block, np.float32)
    peaks[:len(audio)] = magnitude
    gains = np.minimum(1.0, PEAK_LIMIT / np.maximum(peaks.reshape(n, block).max(1), 1e-9))
    gains = np.minimum(gains, np.minimum(np.r_[gains[1:], 1.0], np.r_[1.0, gains[:-1]]))
    gain = np.interp(np.arange(len(audio)), (np.arange(n) + 0.5) * block, gains)
    return np.clip(audio * gain.astype(np.float32), -PEAK_LIMIT, PEAK_LIMIT)


def _speaker(voice, seed, model_path):
    """(speak(span text, prosody, cancel) -> SpanAudio, sample rate) for a VoiceId."""
    if voice.backend == HIBARI:
        from . import natural
        path = model_path or natural.bundled_model_path(voice.name)
        noise = natural.GaussianNoise(NATURAL_NOISE_SEED)   # the voice does not depend on the take's seed
        return (lambda text, p, cancel: natural.speak_span(text, p, voice, path, noise, cancel)), natural.NATURAL_RATE
    es = get_espeak()

    def speak(text, p, cancel):
        utt = es.synthesize(text, voice=voice.name, rate=p.rate, pitch=p.pitch,
                            pitch_range=p.pitch_range, volume=100,
                            word_gap=int(round(p.word_gap)), seed=seed, cancel=cancel)
        audio, events = _lengthen_sentence_pauses(utt.audio, utt.events,
                                                  int(round(p.sentence_pause * es.sample_rate)))
        marks = [(e.sample, _label(e.name)) for e in events if e.type == "phoneme"]
        if not marks or marks[0][0] > 0:
            marks.insert(0, (0, PAUSE))
        return SpanAudio(audio * np.float32(p.gain), marks, _word_spans(text, events, 0, marks, len(audio)))
    return speak, es.sample_rate


def _label(name: str) -> str:
    """espeak pauses ("_", "_:", "_!", "_|") and language-switch markers ("(en)") -> "_"."""
    return PAUSE if name.startswith(("_", "(")) or not name else name


def _lengthen_sentence_pauses(audio, events, extra):
    """Insert `extra` samples of silence at every sentence start after the first.

    espeak's sentence-final pauses are digital silence and the next sentence's first event
    sits exactly where the pause ends, so the insertion is seamless and only events at or
    after a cut move."""
    cuts = sorted({e.sample for e in events if e.type == "sentence" and 0 < e.sample < len(audio)})
    if extra <= 0 or not cuts:
        return audio, events
    parts, prev = [], 0
    for c in cuts:
        parts += [audio[prev:c], np.zeros(extra, audio.dtype)]
        prev = c
    parts.append(audio[prev:])
    cuts = np.array(cuts)
    moved = [type(e)(e.type, e.sample + extra * int(np.searchsorted(cuts, e.sample, "right")),
                     e.text_position, e.length, e.name) for e in events]
    return np.concatenate(parts), moved


def _word_spans(text, events, offset, span_marks, span_end):
    """Words from espeak WORD events; each spans its own non-pause phonemes."""
    word_events = [e for e in events if e.type == "word" and e.length > 0]
    starts = [offset + e.sample for e in word_events] + [span_end]
    mark_starts = [m[0] for m in span_marks]
    bounds = mark_starts[1:] + [span_end]   # each phoneme's end
    text_ends = [e.text_position - 1 for e in word_events[1:]] + [len(text)]
    out = []
    for k, e in enumerate(word_events):
        lo = bisect.bisect_left(mark_starts, starts[k])
        hi = bisect.bisect_left(mark_starts, starts[k + 1])
        inside = [j for j in range(lo, hi) if span_marks[j][1] != PAUSE and bounds[j] > mark_starts[j]]
        if inside:
            word = _word_text(text, e.text_position - 1, e.length, text_ends[k])
            merged = _merged_words(text, e.text_position - 1, text_ends[k], word)
            if len(merged) > 1 and len(inside) >= len(merged):
                out.extend(_share_phonemes(merged, inside, mark_starts, bounds))
            else:
                out.append((mark_starts[inside[0]], bounds[inside[-1]], word))
    return out


def _merged_words(text, start, limit, word):
    """The words espeak spoke as one WORD event ("in the" is one dictionary entry): the
    space-separated words between this event and the next, when there are several."""
    words = []
    for piece in text[start:limit].split():
        piece = "".join(ch for ch in piece if _is_wordlike(ch) or ch in _JOINERS).strip(_JOINERS)
        if piece:
            words.append(piece)
    return words if len(words) > 1 and words[0].startswith(word[:1]) else [word]


def _share_phonemes(words, inside, mark_starts, bounds):
    """Split one event's phonemes among its words in proportion to their letters, on
    phoneme boundaries (each word gets at least one phoneme)."""
    letters = np.cumsum([len(w) for w in words], dtype=np.float64)
    cuts, n = [], len(inside)
    for k, total in enumerate(letters[:-1]):
        cut = int(round(total / letters[-1] * n))
        cuts.append(min(max(cut, (cuts[-1] if cuts else 0) + 1), n - (len(words) - 1 - k)))
    edges = [0] + cuts + [n]
    return [(mark_starts[inside[a]], bounds[inside[b - 1]], w) for w, a, b in zip(words, edges[:-1], edges[1:])]


_JOINERS = "'’-‐"   # inside a word: don't, l'eau, stop-it


def _word_text(text, start, length, limit):
    """The text of the word espeak reports at `start`, up to the next word's start (`limit`).

    espeak's reported length can fall short of the word it speaks: a Chinese dictionary
    word (你好 -> one event, length 1), or a word with an apostrophe ("don't" -> "don").
    The word's phonemes run until the next word event, so its text does too: it is
    extended over letters, marks and digits (and joiners between letters) up to `limit`."""
    end = min(start + max(length, 1), limit)
    while end < limit:
        ch = text[end]
        if _is_wordlike(ch):
            end += 1
        elif ch in _JOINERS and end + 1 < limit and _is_wordlike(text[end + 1]):
            end += 2
        else:
            break
    word = text[start:end]
    # a reported length can also run past the word ("2." for the digit 2): trim to letters
    lo, hi = 0, len(word)
    while lo < hi and not _is_wordlike(word[lo]):
        lo += 1
    while hi > lo and not _is_wordlike(word[hi - 1]):
        hi -= 1
    return word[lo:hi] or word.strip()


def _is_wordlike(ch):
    return unicodedata.category(ch)[0] in "LMN"


def _contiguous(marks, n_samples, sr):
    """(start sample, label) marks -> contiguous TimedLabels covering [0, n_samples):
    zero-length entries dropped, neighbouring pauses merged, last one ends at the end."""
    kept = []
    for k, (s, lab) in enumerate(marks):
        nxt = marks[k + 1][0] if k + 1 < len(marks) else n_samples
        if nxt <= s or s >= n_samples:
            continue
        if kept and kept[-1][1] == PAUSE and lab == PAUSE:
            continue
        kept.append((s, lab))
    out = []
    for k, (s, lab) in enumerate(kept):
        end = kept[k + 1][0] if k + 1 < len(kept) else n_samples
        out.append(TimedLabel(s / sr, end / sr, lab))
    if out:
        out[0].start = 0.0
    return out


def _emotion_timeline(spans, duration):
    """Piecewise-linear emotion keys: constant within a span, a EMOTION_RAMP_S ramp centred
    in the pause before each new span (so voice and face change together at the tag)."""
    times, vecs = [0.0], [spans[0].emotion]
    for prev, cur in zip(spans, spans[1:]):
        mid = 0.5 * (prev.end + cur.start)
        half = 0.5 * min(EMOTION_RAMP_S, cur.start - prev.end)
        times += [mid - half, mid + half]
        vecs += [prev.emotion, cur.emotion]
    times.append(duration)
    vecs.append(spans[-1].emotion)
    return np.asarray(times, np.float32), np.stack(vecs).astype(np.float32)
