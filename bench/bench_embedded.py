"""Embedded engine speed: text -> Performance (speech + face) on ONE core. Goal >= 300x real time.

Run:  .venv/bin/python bench/bench_embedded.py [--repeats 5]
Prints the real-time factor (compute seconds / audio seconds) and its inverse, for the whole
engine and for the speech and face stages, on a ~30 s paragraph with inline emotion tags.
"""
import argparse
import os
import pathlib
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PARAGRAPH = (
    "[calm] The old lighthouse stood at the edge of the cliff, where the wind never stopped "
    "and the sea was always grey. For forty years the keeper had climbed its narrow stairs "
    "every evening to light the lamp. [happy:0.8] One spring morning a letter arrived: his "
    "daughter was coming home, after a decade abroad, with two children he had never met. "
    "He painted the door, swept the floors and baked bread for the first time in years. "
    "[afraid:0.6] But on the day of her arrival a storm rolled in from the west, the radio "
    "went silent, and the ferry did not come. [sad:0.7] He waited on the pier until dark, "
    "then climbed the stairs and lit the lamp, as he always had. [surprised] And there, far "
    "out in the rain, a small boat turned toward the light.")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})   # one core
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from unitaf_blender.engines import GenerateRequest
    from unitaf_blender.engines.embedded.engine import EmbeddedEngine
    from unitaf_blender.engines.embedded.face import face_from_timeline
    from unitaf_blender.engines.embedded.speech import synthesize_script

    t0 = time.perf_counter()
    engine = EmbeddedEngine()
    ok, why = engine.available()
    request = GenerateRequest(text=PARAGRAPH, emotion="calm:0.5", seed=0)
    perf = engine.generate(request)                       # warm-up (loads espeak data)
    first = time.perf_counter() - t0
    audio_s = perf.audio_seconds

    total, speech_t, face_t = [], [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        engine.generate(request)
        total.append(time.perf_counter() - t)
        t = time.perf_counter()
        sp = synthesize_script(PARAGRAPH, "calm:0.5")
        speech_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        face_from_timeline(sp.phonemes, sp.audio, sp.sample_rate, sp.emotion_times,
                           sp.emotion_vectors, 0, fps=30.0)
        face_t.append(time.perf_counter() - t)

    def line(name, times):
        m = statistics.median(times)
        return f"{name:<28} {m * 1000:8.1f} ms   RTF {m / audio_s:.5f}   {audio_s / m:7.0f}x real time"

    print(f"embedded engine ({why}), one core, {args.repeats} runs, median")
    print(f"paragraph: {len(PARAGRAPH)} chars, {len(perf.words)} words, {audio_s:.1f} s audio, "
          f"{perf.n_frames} frames @ {perf.fps:g} fps, {len(perf.phonemes)} phonemes")
    print(f"first call incl. engine start: {first * 1000:.1f} ms")
    print(line("text -> Performance", total))
    print(line("  speech (espeak + timeline)", speech_t))
    print(line("  face (timeline -> weights)", face_t))
    goal = audio_s / statistics.median(total)
    print(f"goal >= 300x real time: {'met' if goal >= 300 else 'NOT met'} ({goal:.0f}x)")


if __name__ == "__main__":
    main()
