"""Accuracy of the embedded engine's forced alignment (engines/embedded/align.py).

Run:  .venv/bin/python bench/eval_alignment.py [--shared ../shared]

(a) Synthetic "recordings" with ground truth: espeak with ANOTHER voice (en+m3 (British), and
    en-us+f3) at 0.7x and 1.4x the default rate, with extra pauses between phrases (one
    holding a breath-like noise burst) and a -60 dB noise floor. That voice's own
    sample-exact word timeline is the truth; the transcript is aligned against the default
    voice's rendering exactly as EmbeddedEngine.lipsync does. Reports word-onset errors:
    median, 90th percentile and share within 50 / 100 ms. Goal: median <= 50 ms, >= 85 %
    within 100 ms.
(b) The real public-domain recordings in shared/assets/audio (no word ground truth): sanity
    checks — words monotonic and inside the recording, word onsets on speech (not in a
    pause: some speech in its first 80 ms), and at every /p b m/ a dip of the recording's
    energy within +-40 ms.
Prints one table; no assertion (the tests check case (a) against the goal).
"""
import argparse
import os
import pathlib
import platform
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from unitaf_blender.core.audio_io import read_wav
from unitaf_blender.core.performance import TimedLabel
from unitaf_blender.engines.embedded import features as F
from unitaf_blender.engines.embedded.align import align_transcript
from unitaf_blender.engines.embedded.espeak import get_espeak
from unitaf_blender.engines.embedded.speech import _contiguous, _label, _word_spans, synthesize_script

PHRASES = [
    "Peter baked a big batch of bread for the market,",
    "and his mother, who had made maps for the Navy,",
    "painted the boat by the bridge.",
    "By morning the whole place smelled of apples and warm pastry.",
    "Nobody expected the mayor to stop by, but he did.",
]
PAUSES_S = [0.6, 0.25, 1.1, 0.45]        # extra silence after each phrase but the last
BREATH_AFTER = 2                          # the long pause holds a breath
DEFAULT_RATE = 175

CASES = [("en+m3", 0.7), ("en+m3", 1.4), ("en-us+f3", 0.7), ("en-us+f3", 1.4)]

REAL = {   # transcripts from shared/assets/README.md
    "LJ001-0001.wav": "Printing, in the only sense with which we are at present concerned, differs from most "
                      "if not from all the arts and crafts represented in the Exhibition",
    "jfk.wav": "And so my fellow Americans, ask not what your country can do for you, ask what you can "
               "do for your country.",
}


def render_variant(phrases=PHRASES, voice="en+m3", speed=1.0, pauses=PAUSES_S,
                   breath_after=BREATH_AFTER, noise_db=-60.0, seed=0):
    """A "recording" with ground truth: each phrase spoken by `voice` at `speed` x the
    default rate, the given pauses between phrases (one with a breath), a noise floor.
    -> (audio float32, sample rate, words [TimedLabel], phonemes [TimedLabel], transcript)."""
    es = get_espeak()
    sr = es.sample_rate
    rng = np.random.default_rng(seed)
    pieces, marks, words, offset = [], [], [], 0
    for k, text in enumerate(phrases):
        utt = es.synthesize(text, voice=voice, rate=DEFAULT_RATE * speed)
        span_marks = [(offset + e.sample, _label(e.name)) for e in utt.events if e.type == "phoneme"]
        if not span_marks or span_marks[0][0] > offset:
            span_marks.insert(0, (offset, "_"))
        marks += span_marks
        words += _word_spans(text, utt.events, offset, span_marks, offset + len(utt.audio))
        pieces.append(utt.audio)
        offset += len(utt.audio)
        if k < len(pauses):
            gap = np.zeros(int(round(pauses[k] * sr)), np.float32)
            if k == breath_after:      # a breath: band-limited noise, 250 ms, ~-32 dB
                n = int(0.25 * sr)
                b = np.convolve(rng.standard_normal(n), np.ones(8) / 8, "same") * np.hanning(n)
                s = (len(gap) - n) // 2
                gap[s:s + n] = 0.025 * b / np.abs(b).max()
            pieces.append(gap)
            marks.append((offset, "_"))
            offset += len(gap)
    audio = np.concatenate(pieces).astype(np.float32)
    audio += (10 ** (noise_db / 20) * rng.standard_normal(len(audio))).astype(np.float32)
    return (audio, sr, [TimedLabel(a / sr, b / sr, w) for a, b, w in words],
            _contiguous(marks, len(audio), sr), " ".join(phrases))


def reference_for(transcript, voice="en-us"):
    """espeak's rendering of the transcript, as EmbeddedEngine.lipsync makes it."""
    return synthesize_script(transcript, "calm:0", voice=voice)


def onset_errors(truth, aligned):
    """|aligned - true| word onsets (s), words matched in order by text."""
    if [w.label for w in truth] != [w.label for w in aligned]:
        raise AssertionError(f"word lists differ: {[w.label for w in truth]} vs {[w.label for w in aligned]}")
    return np.array([abs(a.start - t.start) for t, a in zip(truth, aligned)])


def summary(err):
    return {"n": len(err), "median_ms": 1000 * float(np.median(err)),
            "p90_ms": 1000 * float(np.percentile(err, 90)),
            "within50": 100 * float(np.mean(err <= 0.05)), "within100": 100 * float(np.mean(err <= 0.1))}


def run_case(voice, speed, window_s=None):
    audio, sr, truth, _, transcript = render_variant(voice=voice, speed=speed)
    ref = reference_for(transcript)
    kw = {} if window_s is None else {"window_s": window_s}
    t0 = time.perf_counter()
    al = align_transcript(audio, sr, ref, **kw)
    return onset_errors(truth, al.words), time.perf_counter() - t0, len(audio) / sr


def sanity_real(path, transcript):
    audio, sr = read_wav(path)
    ref = reference_for(transcript)
    t0 = time.perf_counter()
    al = align_transcript(audio, sr, ref)
    secs = time.perf_counter() - t0
    dur = len(audio) / sr
    power, _ = F.spectra(audio, sr)
    db = F.frame_db(power)
    speech = F.speech_mask(db)
    starts = [w.start for w in al.words]
    monotonic = all(a.end <= b.start + 1e-9 for a, b in zip(al.words, al.words[1:]))
    inside = all(0 <= w.start < w.end <= dur for w in al.words)
    # a word starts on speech when its first 80 ms hold some (a stop's closure is silent)
    on_speech = np.mean([speech[int(round(s / F.HOP_S)):int(round(s / F.HOP_S)) + 8].any() for s in starts])
    dips, n_bil = 0, 0
    for p in al.phonemes:    # /p b m/: a local energy minimum within +-40 ms of the segment
        if p.label.strip("',%=") not in ("p", "b", "m"):
            continue
        n_bil += 1
        lo = max(int(np.floor(p.start / F.HOP_S)) - 4, 1)
        hi = min(int(np.ceil(p.end / F.HOP_S)) + 4, len(db) - 1)
        seg = db[lo:hi]
        k = int(np.argmin(seg))
        if 0 < k < len(seg) - 1 and seg[k] < max(seg[:k].max(), seg[k + 1:].max()) - 3.0:
            dips += 1
    return {"words": len(al.words), "expected": len(ref.words), "monotonic": monotonic, "inside": inside,
            "onsets_on_speech": 100 * float(on_speech), "bilabial_dips": f"{dips}/{n_bil}",
            "secs": secs, "dur": dur}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=os.environ.get("UNITAF_SHARED", str(ROOT.parent / "shared")))
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"espeak-ng {get_espeak().version}")
    print("\n(a) word onsets vs the other voice's own timeline (transcript aligned to en-us)")
    print(f"{'case':<20}{'words':>6}{'median ms':>11}{'p90 ms':>8}{'<=50ms %':>10}{'<=100ms %':>11}"
          f"{'audio s':>9}{'align s':>9}")
    every = []
    for voice, speed in CASES:
        err, secs, dur = run_case(voice, speed)
        every.append(err)
        s = summary(err)
        print(f"{voice + f' x{speed}':<20}{s['n']:>6}{s['median_ms']:>11.1f}{s['p90_ms']:>8.1f}"
              f"{s['within50']:>10.1f}{s['within100']:>11.1f}{dur:>9.1f}{secs:>9.2f}")
    s = summary(np.concatenate(every))
    print(f"{'all':<20}{s['n']:>6}{s['median_ms']:>11.1f}{s['p90_ms']:>8.1f}{s['within50']:>10.1f}"
          f"{s['within100']:>11.1f}")
    err, secs, dur = run_case("en+m3", 0.7, window_s=8.0)
    s = summary(err)
    print(f"{'en+m3 x0.7 win 8s':<20}{s['n']:>6}{s['median_ms']:>11.1f}{s['p90_ms']:>8.1f}"
          f"{s['within50']:>10.1f}{s['within100']:>11.1f}{dur:>9.1f}{secs:>9.2f}")

    audio_dir = pathlib.Path(args.shared) / "assets" / "audio"
    print(f"\n(b) real recordings ({audio_dir}): sanity, no word ground truth")
    print(f"{'file':<18}{'words':>8}{'monotonic':>11}{'inside':>8}{'onsets on speech %':>20}"
          f"{'/p b m/ energy dips':>21}{'audio s':>9}{'align s':>9}")
    for name, transcript in REAL.items():
        path = audio_dir / name
        if not path.exists():
            print(f"{name:<18} missing")
            continue
        r = sanity_real(path, transcript)
        print(f"{name:<18}{r['words']:>4}/{r['expected']:<3}{str(r['monotonic']):>11}{str(r['inside']):>8}"
              f"{r['onsets_on_speech']:>20.1f}{r['bilabial_dips']:>21}{r['dur']:>9.1f}{r['secs']:>9.2f}")


if __name__ == "__main__":
    main()
