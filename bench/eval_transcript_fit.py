"""How well a transcript fits a recording (engines/embedded/align.py `transcript_fit`): the
numbers behind align.MISFIT_RATIO, the threshold above which lipsync warns that the transcript
is probably not what the recording says.

Real speech from ../shared/assets/audio (LJ001-0001, jfk), clean and degraded (white noise at
20 and 10 dB SNR, telephone band at 8 kHz), each aligned with its own transcript, with the same
transcript one word off, and with transcripts that are not what is said (another English
sentence, the other recording's words, the right words shuffled, German, French, Chinese). A
fit near 0.85 means the words were said; near 1, unrelated speech.

    .venv/bin/python bench/eval_transcript_fit.py
"""
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from eval_alignment import REAL  # noqa: E402

from unitaf_blender.core.audio_io import read_wav  # noqa: E402
from unitaf_blender.engines import LipsyncRequest  # noqa: E402
from unitaf_blender.engines.embedded.align import MISFIT_RATIO  # noqa: E402
from unitaf_blender.engines.embedded.engine import EmbeddedEngine  # noqa: E402

AUDIO = ROOT.parent / "shared" / "assets" / "audio"
WRONG = {
    "other English": "The quick brown fox jumps over the lazy dog while the farmer watches from the old wooden "
                     "gate near the barn.",
    "German": "Der schnelle braune Fuchs springt über den faulen Hund, während der Bauer vom alten Holztor aus "
              "zusieht.",
    "French": "Le renard brun rapide saute par-dessus le chien paresseux pendant que le fermier regarde depuis "
              "la vieille porte.",
    "Chinese": "今天天气很好，我们一起去公园散步吧，然后去吃晚饭，好不好？我很想念你。",
}
TYPO = {"LJ001-0001.wav": ("Printing", "Painting"), "jfk.wav": ("country", "county")}


def fit(audio, rate, transcript):
    perf = EmbeddedEngine().lipsync(LipsyncRequest(audio, rate, transcript))
    return perf.meta["transcript_fit"]


def conditions(audio, rate, rng):
    """(label, audio, rate): the recording clean, with white noise, and band-limited to 8 kHz."""
    yield "clean", audio, rate
    power = float(np.sqrt(np.mean(audio ** 2)))
    for snr in (20, 10):
        noise = rng.standard_normal(len(audio)) * power * 10 ** (-snr / 20)
        yield f"{snr} dB SNR", (audio + noise).astype(np.float32), rate
    if rate % 8000 == 0:
        spectrum = np.fft.rfft(audio)
        spectrum[np.fft.rfftfreq(len(audio), 1 / rate) > 3800] = 0
        yield "8 kHz phone", np.fft.irfft(spectrum, len(audio))[::rate // 8000].astype(np.float32), 8000


def main():
    rng = np.random.default_rng(0)
    print(f"warning threshold (align.MISFIT_RATIO): {MISFIT_RATIO}")
    print(f"{'recording':16s} {'condition':12s} {'transcript':16s} fit")
    for name, truth in REAL.items():
        audio, rate = read_wav(str(AUDIO / name))
        other = next(t for n, t in REAL.items() if n != name)
        words = truth.split()
        shuffled = " ".join(words[i] for i in np.random.default_rng(1).permutation(len(words)))
        transcripts = {"right": truth, "one word off": truth.replace(*TYPO[name], 1),
                       "other recording": other, "shuffled": shuffled, **WRONG}
        for label, signal, sr in conditions(audio, rate, rng):
            for which, text in transcripts.items():
                if label != "clean" and which not in ("right", "other English", "German"):
                    continue
                value = fit(signal, sr, text)
                flag = "  warns" if value > MISFIT_RATIO else ""
                print(f"{name:16s} {label:12s} {which:16s} {value:.3f}{flag}", flush=True)


if __name__ == "__main__":
    main()
