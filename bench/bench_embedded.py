"""Embedded engine speed: text -> Performance (speech + face) on ONE core, the natural voice
(hibari) and espeak-ng side by side in one run. Goals: espeak >= 300x, hibari >= 100x real time.

Run:  .venv/bin/python bench/bench_embedded.py [--repeats 5]
Prints the real-time factor (compute seconds / audio seconds) and its inverse, for the whole
engine and for the speech and face stages, on a ~30 s paragraph with inline emotion tags.
Wall time counts waiting for the core when other jobs share the machine; the CPU-time column
(this process's user + system time on its one core) does not, so on a busy machine it is the
fairer figure for "x real time on one core".
"""
import argparse
import os
import pathlib
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from machine import cpu_name  # noqa: E402  (bench/ is the script's folder)

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

    engine = EmbeddedEngine()
    ok, why = engine.available()
    print(f"embedded engine ({why}), one core, {args.repeats} runs, median")
    print(f"CPU: {cpu_name()}")
    results = {}
    for voice, goal in (("hibari:heart", 100), ("espeak:en-us", 300)):
        t0 = time.perf_counter()
        request = GenerateRequest(text=PARAGRAPH, emotion="calm:0.5", seed=0, voice=voice)
        perf = engine.generate(request)                       # warm-up (loads the voice)
        first = time.perf_counter() - t0
        audio_s = perf.audio_seconds
        total, total_cpu, speech_t, face_t = [], [], [], []
        for _ in range(args.repeats):
            t, c = time.perf_counter(), time.process_time()
            engine.generate(request)
            total.append(time.perf_counter() - t)
            total_cpu.append(time.process_time() - c)
            t = time.perf_counter()
            sp = synthesize_script(PARAGRAPH, "calm:0.5", voice=voice)
            speech_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            face_from_timeline(sp.phonemes, sp.audio, sp.sample_rate, sp.emotion_times,
                               sp.emotion_vectors, 0, fps=30.0)
            face_t.append(time.perf_counter() - t)

        def line(name, times):
            m = statistics.median(times)
            return f"{name:<28} {m * 1000:8.1f} ms   RTF {m / audio_s:.5f}   {audio_s / m:7.0f}x real time"

        print(f"\n{voice}: {len(PARAGRAPH)} chars, {len(perf.words)} words, {audio_s:.1f} s audio, "
              f"{perf.n_frames} frames @ {perf.fps:g} fps, {len(perf.phonemes)} phonemes")
        print(f"first call incl. voice load: {first * 1000:.1f} ms")
        print(line("text -> Performance", total))
        print(line("  the same, CPU time", total_cpu))
        print(line("  speech (voice + timeline)", speech_t))
        print(line("  face (timeline -> weights)", face_t))
        results[voice] = (audio_s / statistics.median(total), audio_s / statistics.median(total_cpu), goal)
    print("\nside by side (x real time, text -> Performance, one core; wall / CPU time):")
    for voice, (wall, cpu, goal) in results.items():
        print(f"  {voice:<14} {wall:7.0f}x / {cpu:7.0f}x   goal >= {goal}x: "
              f"{'met' if max(wall, cpu) >= goal else 'NOT met'}")


if __name__ == "__main__":
    main()
