"""The natural English voices (hibari-tts): a span of script -> 24 kHz audio plus a
sample-exact phoneme and word timeline taken from the model's own durations.

We use the library as it is: its G2P (text -> misaki phonemes, per token), its vocabulary and
its numpy DSP (`hibari.dsp.synth`). What we add:

* **Durations.** The ONNX graph is loaded with one extra output, the per-phoneme durations
  the length regulator uses (onnx_outputs.py; an in-memory edit, the model file is never
  changed). One unit is 2 vocoder frames = 600 samples, and the units sum exactly to the
  frame count, so the timeline ends on the last audio sample.
* **Calibration.** The audio leads those durations by about 50 ms (sibilant zero-crossing
  peak at -47 ms, the embedded forced aligner's word onsets -62 ms, median over 168 and 80
  cases), so every boundary inside a sentence moves TIMELINE_LEAD earlier; the first pause
  shortens and the last one lengthens, the total is unchanged.
* **Prosody and character.** The predicted F0 and spectrum are edited before the DSP
  (voice_edit.py); the speaking rate is the model's `speed` input.

Stress marks give their span and stress to the next vowel; a space is split between the
word before and after it; punctuation and the model's pad tokens are pauses. Labels are
espeak mnemonics (misaki_phonemes.py) so the face reads every embedded take alike.
"""
import json
import os
import threading
from dataclasses import dataclass, field

import numpy as np

from .. import EngineUnavailable, check_cancel
from . import misaki_phonemes as M
from .onnx_outputs import OnnxEditError, with_duration_output
from .voice_catalog import CHARACTERS, NATURAL
from .voice_edit import SPECTRAL_PARTS, VoiceEdit, synthesize

NATURAL_RATE = 24000
DURATION_UNIT = 600          # samples per duration unit (2 frames of 300 at 24 kHz)
TIMELINE_LEAD = 1200         # samples (50 ms): the audio runs this far ahead of the durations
LEVEL = 2.0                  # hibari peaks near 0.3: this brings it to espeak's loudness
SPEED_MIN, SPEED_MAX = 0.5, 2.0
ESPEAK_RATE = 175.0          # the prosody table's neutral rate (words per minute)
PITCH_OCTAVE = 72.0          # prosody pitch units per octave (espeak: 50 -> 75 raises F0 27 %)
PAD_ID = 0
_CLAUSE = frozenset(",;:—")
# onnxruntime's official POSIX builds (1.24+) upload usage telemetry and keep a device id and an
# offline cache in the temp folder unless this is set before it loads; the extension goes online
# only where the user allowed it (Blender's Allow Online Access), for downloads they asked for.
TELEMETRY_OFF = ("ORT_DISABLE_TELEMETRY", "1")


@dataclass
class SpanAudio:
    audio: np.ndarray                              # float32, NATURAL_RATE
    marks: list = field(default_factory=list)      # [(start sample, espeak label)], contiguous
    words: list = field(default_factory=list)      # [(start sample, end sample, text)]


def voice_edit_for(prosody, character=None) -> VoiceEdit:
    """The emotion's prosody (prosody.ProsodyParams) as an edit of the predicted parameters,
    then the voice character's own edit on top."""
    edit = VoiceEdit(pitch=2.0 ** ((prosody.pitch - 50.0) / PITCH_OCTAVE),
                     pitch_range=max(prosody.pitch_range, 0.0) / 50.0,
                     declination=prosody.declination, gain=prosody.gain * LEVEL)
    return edit.then(CHARACTERS[character][1]) if character else edit


def speed_for(prosody) -> float:
    return float(np.clip(prosody.rate / ESPEAK_RATE, SPEED_MIN, SPEED_MAX))


# ------------------------------------------------------------------------------------ model

class _Model:
    """One voice's ONNX session (with the duration output), its vocabulary and G2P."""

    def __init__(self, path, british):
        try:
            ort = onnxruntime_offline()
            from hibari import tts
        except ImportError as e:
            raise EngineUnavailable(
                f"The natural voice needs the hibari-tts and onnxruntime packages ({e}). Use an espeak-ng "
                "voice instead (--voice espeak:en-us), or reinstall the extension for this platform.") from e
        with open(path, "rb") as f:
            raw = f.read()
        try:
            model, self.duration_name = with_duration_output(raw)
        except OnnxEditError as e:
            raise EngineUnavailable(f"The voice model {path} is not a hibari model this version reads: {e}") from e
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1   # ~130x real time on one core
        options.log_severity_level = 3
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self.outputs = [o.name for o in self.session.get_outputs()]
        with open(os.path.join(tts.ASSETS, "vocab.json"), encoding="utf-8") as f:
            self.vocab = json.load(f)
        self.max_phonemes = tts.MAX_PHONEMES
        self.split_sentences = tts.Hibari.split_sentences
        self.g2p = _g2p(british)

    def run(self, ids, speed):
        """-> (vocoder parameters {name: array}, durations int64 [len(ids)])."""
        out = self.session.run(None, {"ids": np.asarray([ids], np.int64),
                                      "speed": np.asarray([speed], np.float32)})
        named = dict(zip(self.outputs, out))
        params = {name: named[name][0] for name in (*SPECTRAL_PARTS, "f0")}
        return params, np.asarray(named[self.duration_name]).reshape(-1).astype(np.int64)


_lock = threading.Lock()
_models = {}
_g2ps = {}


def _g2p(british):
    if british not in _g2ps:
        onnxruntime_offline()              # the G2P runs an ONNX model for unknown words
        from hibari.g2p import G2P
        _g2ps[british] = G2P(british=british)
    return _g2ps[british]


def load_model(path, british=False) -> _Model:
    """The voice model at `path`, loaded once per process (0.3 s, plus 0.3 s for the G2P)."""
    key = (os.path.abspath(path), british)
    with _lock:
        if key not in _models:
            _models[key] = _Model(path, british)
        return _models[key]


def bundled_model_path(name="heart") -> str:
    """The voice model inside the hibari wheel."""
    try:
        from hibari.voices import voice_path
    except ImportError as e:
        raise EngineUnavailable(f"The natural voice needs the hibari-tts package ({e}).") from e
    return voice_path(name, download_missing=False)


def onnxruntime_offline():
    """onnxruntime, imported with its telemetry off (TELEMETRY_OFF; Windows builds report through
    ETW, switched off by its own call). Every import of onnxruntime or hibari goes through here."""
    os.environ.setdefault(*TELEMETRY_OFF)
    import onnxruntime
    if hasattr(onnxruntime, "disable_telemetry_events"):
        onnxruntime.disable_telemetry_events()
    return onnxruntime


def available():
    """(True, version) when hibari and onnxruntime import here, else (False, why not)."""
    try:
        onnxruntime = onnxruntime_offline()
        import hibari
    except Exception as e:    # noqa: BLE001 - an old macOS makes onnxruntime's import fail oddly
        return False, f"{type(e).__name__}: {e}"
    return True, f"hibari-tts {hibari.__version__}, onnxruntime {onnxruntime.__version__}"


class GaussianNoise:
    """The DSP's noise source (it asks for `standard_normal(shape, dtype)`): slices of one
    cached table of Gaussian samples at offsets drawn from a seeded generator. Drawing ~1 M
    fresh samples per sentence was a tenth of the voice's time; white noise cut from a 4 M
    table at random offsets is statistically the same to the ear. Each call gets its own
    copy (the DSP scales it in place)."""

    TABLE = 1 << 22
    _table = None

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def standard_normal(self, shape, dtype=np.float32):
        n = int(np.prod(shape))
        if n > self.TABLE:
            return self.rng.standard_normal(shape, dtype=dtype)
        if GaussianNoise._table is None:
            GaussianNoise._table = np.random.default_rng(0).standard_normal(self.TABLE, dtype=np.float32)
        start = int(self.rng.integers(0, self.TABLE - n + 1))
        return GaussianNoise._table[start:start + n].astype(dtype, copy=True).reshape(shape)


# ------------------------------------------------------------------------------------ text

def _chunks(model, sentence):
    """One sentence -> [(phoneme characters, token index of each (-1: space), tokens)], each
    at most the model's phoneme limit (long sentences split after clause punctuation)."""
    from hibari.g2p.normalize import normalize
    g2p = model.g2p
    tokens = g2p.phonemize_tokens(g2p.tokenize(normalize(sentence)))
    pieces = []                     # per token: [(char, token index)], its trailing space apart
    for i, tk in enumerate(tokens):
        chars = [(c, i) for c in (tk.phonemes or "") if c in model.vocab]
        pieces.append((chars, bool(tk.whitespace)))
    limit = model.max_phonemes
    long_sentence = sum(len(chars) + space for chars, space in pieces) > limit
    out, cur = [], []
    for chars, space in pieces:
        if cur and len(cur) + len(chars) > limit:
            out.append(cur)
            cur = []
        cur += chars
        if space:
            cur.append((M.SPACE, -1))
        if long_sentence and chars and chars[-1][0] in _CLAUSE and len(cur) > limit // 2:
            out.append(cur)         # a long sentence breaks after a clause, where a pause belongs
            cur = []
    out.append(cur)
    result = []
    for chunk in out:
        while chunk and chunk[0][0] == M.SPACE:
            chunk = chunk[1:]
        while chunk and chunk[-1][0] == M.SPACE:
            chunk = chunk[:-1]
        if any(c not in M.PUNCTUATION for c, _ in chunk):
            result.append(([c for c, _ in chunk], [i for _, i in chunk], tokens))
    return result


# ------------------------------------------------------------------------------------ timeline

def _timeline(chars, token_of, tokens, durations, n_samples):
    """Durations of (pad, chars..., pad) -> (marks [(sample, label)], words [(a, b, text)])."""
    bounds = np.concatenate(([0], np.cumsum(durations))) * DURATION_UNIT
    if bounds[-1] != n_samples:
        raise RuntimeError(f"durations cover {bounds[-1]} samples, the audio {n_samples}")
    bounds[1:-1] = np.clip(bounds[1:-1] - TIMELINE_LEAD, 0, n_samples)
    labels = [None] + list(chars) + [None]
    owners = [-1] + list(token_of) + [-1]
    segs = []               # [start, end, label, token]
    start, stress = None, 0
    for j, (c, owner) in enumerate(zip(labels, owners)):
        a, b = int(bounds[j]), int(bounds[j + 1])
        if c == M.SPACE:
            mid = (a + b) // 2
            if segs:
                segs[-1][1] = mid
            start = mid if start is None else start
        elif c in (M.PRIMARY, M.SECONDARY):
            stress = 1 if c == M.PRIMARY else 2
            start = a if start is None else start
        elif c in M.MODIFIERS and segs:
            segs[-1][1] = b
        else:
            pause = c is None or c in M.PUNCTUATION or c in M.MODIFIERS
            label = M.PAUSE if pause else M.espeak_label(c, stress)
            segs.append([a if start is None else start, b, label, -1 if pause else owner])
            start = None
            if not pause and M.is_vowel(c):
                stress = 0
    if start is not None and segs:
        segs[-1][1] = n_samples
    marks = [(s, label) for s, e, label, _ in segs if e > s]
    words = []
    for s, e, _, owner in segs:
        if owner < 0 or e <= s:
            continue
        if words and words[-1][3] == owner:
            words[-1][1] = e
        else:
            words.append([s, e, tokens[owner].text, owner])
    words = [(s, e, text) for s, e, text, _ in words if any(ch.isalnum() for ch in text)]
    return marks, words


# ------------------------------------------------------------------------------------ speech

def speak_span(text, prosody, voice, model_path, noise, cancel=None) -> SpanAudio:
    """One span of script in one emotion: every sentence is one model run with the span's speed,
    its predicted parameters edited (emotion, character) before the DSP; sentences are joined
    with the prosody's extra sentence pause. `voice` is a voice_catalog.VoiceId, `noise` the
    take's GaussianNoise (one stream per take keeps takes reproducible)."""
    model = load_model(model_path, NATURAL[voice.name].british)
    edit = voice_edit_for(prosody, voice.character)
    speed = speed_for(prosody)
    gap = int(round(prosody.sentence_pause * NATURAL_RATE))
    pieces, marks, words, offset = [], [], [], 0
    for sentence in model.split_sentences(text):
        for chars, token_of, tokens in _chunks(model, sentence):
            check_cancel(cancel)
            if pieces and gap > 0:
                pieces.append(np.zeros(gap, np.float32))
                marks.append((offset, M.PAUSE))
                offset += gap
            ids = [PAD_ID, *(model.vocab[c] for c in chars), PAD_ID]
            params, durations = model.run(ids, speed)
            audio = synthesize(params, edit, noise)
            chunk_marks, chunk_words = _timeline(chars, token_of, tokens, durations, len(audio))
            marks += [(offset + s, label) for s, label in chunk_marks]
            words += [(offset + a, offset + b, w) for a, b, w in chunk_words]
            pieces.append(audio.astype(np.float32, copy=False))
            offset += len(audio)
    audio = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    return SpanAudio(audio, marks, words)
