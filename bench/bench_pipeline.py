"""The whole UniTAF pipeline at the FULL official size with random weights: per stage and total,
beside the reference implementation's time (../shared/research/reference-speed.md: a 2-vCPU Intel
Xeon with AMX, so not directly comparable on another CPU; see --reference-seconds), peak memory, and
the real-time factor on a GPU.

    .venv/bin/python bench/bench_pipeline.py [--device cpu|cuda|auto] [--threads 2] [--codes 250]
        [--beams 3] [--steps 25] [--prompt-seconds 5] [--dtype auto|fp32|fp16|bf16] [--runs 1]
        [--reference-seconds SECONDS|FILE.json]

The default case is the reference measurement's case: 5 s speaker prompt, 62 text tokens, exactly
250 semantic codes (4.99 s of speech), 3-beam sampling (the reference default), 25 CFM steps with
CFG 0.7, the face head. Weights are each constructor's own random init (nothing is downloaded).
Speed goals (CPU <= 0.7x the reference; GPU RTF <= 0.15 on an H100) are printed, never asserted.

`--reference-seconds` replaces the built-in reference figures (measured on another CPU) with a time
of the reference implementation taken on THIS machine for the same case: either the warm total in
seconds, or a JSON file {"total (warm)": s, "stages": {stage name as printed below: s, ...}} with optional
"total (cold)" (voice not cached), "peak_rss_GiB", "codes", "beams" and "threads". `--beams` defaults to
the reference's 3; the engine's default sampling ("fast") is `--beams 1`.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

from bench_s2mel_vocoder import OFFICIAL_BIGVGAN, OFFICIAL_S2MEL  # noqa: E402
from timing import sync  # noqa: E402

from unitaf_blender.engines.unitaf import devices  # noqa: E402
from unitaf_blender.engines.unitaf import model_set as ms
from unitaf_blender.engines.unitaf import pipeline as pl
from unitaf_blender.engines.unitaf import voice as vc
from unitaf_blender.engines.unitaf.campplus import CAMPPlus, CAMPPlusDims  # noqa: E402
from unitaf_blender.engines.unitaf.face import (  # noqa: E402
    AudioFeatureProjector,
    DecoderDims,
    FaceHead,
    ProjectorDims,
    UniTalkerDecoder,
)
from unitaf_blender.engines.unitaf.gpt import GPTDims, UnifiedVoice  # noqa: E402
from unitaf_blender.engines.unitaf.mel import MelConfig, MelSpectrogram  # noqa: E402
from unitaf_blender.engines.unitaf.options import SamplingConfig, SynthesisOptions  # noqa: E402
from unitaf_blender.engines.unitaf.s2mel import S2Mel, S2MelDims  # noqa: E402
from unitaf_blender.engines.unitaf.semantic import (  # noqa: E402
    SEMANTIC_LAYER,
    RepCodec,
    RepCodecDims,
    SemanticStats,
    W2vBertDims,
    W2vBertEncoder,
)
from unitaf_blender.engines.unitaf.text import TextFrontend, TextSegment  # noqa: E402
from unitaf_blender.engines.unitaf.vocoder import BigVGAN, BigVGANDims  # noqa: E402

BPE = os.path.join(HERE, "..", "..", "shared", "parity", "frontend", "bpe.model")   # ids < 512 fit any vocab

# reference-speed.md: GoldenFishes/UniTAF 41d0760 on a 2 vCPU Intel Xeon with AMX (torch 2.13 CPU, 2 threads),
# 5 s prompt, 250 codes, beams 3, 25 steps; warm run (prompt cached), medians.
REFERENCE_CPU = {"GPT generation + teacher forcing": 45.6 + 1.2, "s2mel (CFM)": 26.7, "BigVGAN": 4.6,
                 "emotion vector": 0.5, "face": 0.02, "total (warm)": 79.0, "voice analysis (cold extra)": 3.2}
REFERENCE_CPU_BEAMS1_TOTAL = 59.0   # the reference doc's estimate with num_beams=1 (GPT 22.4 s)


def load_reference(value: str) -> dict:
    """A same-machine reference time: a number (warm total, seconds) or a JSON file of stage times."""
    try:
        return {"total (warm)": float(value)}
    except ValueError:
        pass
    if not os.path.isfile(value):
        raise SystemExit(f"--reference-seconds: {value!r} is neither a number of seconds nor a JSON file")
    import json
    with open(value, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict) or not isinstance(data.get("total (warm)"), (int, float)):
        raise SystemExit(f"--reference-seconds: {value} needs a numeric \"total (warm)\" entry")
    ref = {**{k: float(v) for k, v in data.get("stages", {}).items()}, "total (warm)": float(data["total (warm)"])}
    for key in ("total (cold)", "peak_rss_GiB", "codes", "beams", "threads"):   # optional facts about the reference run
        if isinstance(data.get(key), (int, float)):
            ref[key] = data[key]
    return ref


def build_models(device, dtype) -> ms.Models:
    t0 = time.perf_counter()
    with torch.no_grad():
        gpt = UnifiedVoice(GPTDims())
        s2mel = S2Mel(S2MelDims.from_config(OFFICIAL_S2MEL))
        vocoder = BigVGAN(BigVGANDims.from_config(OFFICIAL_BIGVGAN))
        w2v = W2vBertEncoder(W2vBertDims(), SEMANTIC_LAYER)
        codec = RepCodec(RepCodecDims())
        campplus = CAMPPlus(CAMPPlusDims())
        face = FaceHead(AudioFeatureProjector(ProjectorDims()), UniTalkerDecoder(DecoderDims(n_identities=20)))
        stats = SemanticStats(torch.zeros(1024), torch.ones(1024))
    half = dtype if device.type != "cpu" else torch.float32
    models = ms.Models(
        TextFrontend(BPE),
        gpt.to(device=device, dtype=ms.gpt_dtype(device, dtype)).eval().optimize_for_inference(),
        s2mel.to(device).set_compute_dtype(dtype).eval(),
        w2v.to(device).eval(), stats.to(device), codec.to(device).eval(), campplus.to(device).eval(),
        vocoder.to(device).set_compute_dtype(half).eval(), face.to(device).eval(), MelSpectrogram(MelConfig()).to(device),
        emo_matrices=(torch.randn(73, 192), torch.randn(73, 1280)), device=device, dtype=dtype)
    n = sum(p.numel() for m in (gpt, s2mel, vocoder, w2v, codec, campplus, face) for p in m.parameters())
    print(f"built {n / 1e6:.0f} M parameters (random init) in {time.perf_counter() - t0:.1f} s")
    return models


def prompt_wav(path, seconds):
    from unitaf_blender.core.audio_io import write_wav
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * 22050)) / 22050
    x = 0.3 * np.sin(2 * np.pi * 140 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.02 * rng.standard_normal(len(t))
    write_wav(path, x.astype(np.float32), 22050)
    return path


def timed_run(models, voice_path, codes, beams, steps, seed=0):
    """One generation; returns (per-stage (wall s, CPU s), total wall s, audio seconds, codes made).
    CPU seconds (process time) are the figure to trust on a busy shared machine with --threads 1."""
    stages, mark = {}, [time.perf_counter(), time.process_time(), "voice analysis"]

    def close_stage(now, cpu):
        wall0, cpu0 = stages.get(mark[2], (0.0, 0.0))
        stages[mark[2]] = (wall0 + now - mark[0], cpu0 + cpu - mark[1])

    def progress(_f, stage):
        sync(models.device)
        now, cpu = time.perf_counter(), time.process_time()
        name = {"GPT": "GPT generation + teacher forcing", "s2mel": "s2mel (CFM)", "vocoder": "BigVGAN",
                "face": "face"}.get(stage.split(" ")[0], mark[2])
        close_stage(now, cpu)
        mark[:] = [now, cpu, name]
    voice = vc.analyse_voice(models, voice_path)
    sync(models.device)
    close_stage(time.perf_counter(), time.process_time())
    mark[:] = [time.perf_counter(), time.process_time(), "emotion vector"]
    ids = list(range(100, 162))                                   # 62 text tokens, as the reference run
    seg = TextSegment(ids, [str(i) for i in ids], np.zeros(8, np.float32), "bench", 0, 5)
    opts = SynthesisOptions(sampling=SamplingConfig(num_beams=beams, min_new_tokens=codes, max_new_tokens=codes),
                               diffusion_steps=steps, seed=seed)
    t1 = time.perf_counter()
    result = pl.synthesize(models, [seg], voice, opts, progress=progress)
    sync(models.device)
    end = time.perf_counter()
    close_stage(end, time.process_time())
    return stages, end - t1, len(result.audio) / 22050, int(result.segments[0].codes.shape[1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--codes", type=int, default=250)
    ap.add_argument("--beams", type=int, default=3)
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--prompt-seconds", type=float, default=5.0)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--reference-seconds", default=None, metavar="SECONDS|FILE.json",
                    help="the reference's warm time for the same case measured on this machine")
    args = ap.parse_args()
    same_machine_ref = load_reference(args.reference_seconds) if args.reference_seconds else None
    torch.set_num_threads(args.threads)
    device = devices.pick_device(args.device)
    dtype = devices.pick_dtype(device, args.dtype)
    print(f"device {devices.describe(device, dtype)}, {args.threads} threads, torch {torch.__version__}")
    models = build_models(device, dtype)
    path = prompt_wav(os.path.join(os.environ.get("TMPDIR", "/tmp"), "unitaf_bench_prompt.wav"), args.prompt_seconds)
    timed_run(models, path, 8, args.beams, 2)                    # warm-up (kernels, caches)
    models.voices.clear()                                         # the timed runs analyse the voice again
    runs = []
    for r in range(args.runs):
        models.voices.clear()
        runs.append(timed_run(models, path, args.codes, args.beams, args.steps, seed=r))
    for r, (st, tot, _a, _n) in enumerate(runs):
        voice = st.get("voice analysis", (0.0, 0.0))[0]
        print(f"run {r + 1}: voice analysis {voice:.2f} s + synthesis {tot:.2f} s = {voice + tot:.2f} s cold")
    stages, total, audio_s, n_codes = min(runs, key=lambda x: x[1])
    print(f"\n{n_codes} codes -> {audio_s:.2f} s of speech; beams {args.beams}, {args.steps} CFM steps "
          f"(best of {args.runs} run(s))")
    same_case = device.type == "cpu" and args.threads == 2 and args.codes == 250 and args.steps == 25
    ref = REFERENCE_CPU if same_case and args.beams == 3 else {}
    if same_machine_ref is not None:
        ref = same_machine_ref
        print("reference: measured on this machine (--reference-seconds)")
        for key, ours in (("codes", n_codes), ("beams", args.beams), ("threads", args.threads)):
            if key in ref and ref[key] != ours:
                print(f"WARNING: the reference ran with {key}={ref[key]}, this run with {key}={ours}: "
                      "the ratios compare different cases")
    print(f"{'stage':36s} {'ours (s)':>9s} {'CPU (s)':>8s} {'reference (s)':>14s} {'ratio':>6s}")
    for name in ("voice analysis", "emotion vector", "GPT generation + teacher forcing", "s2mel (CFM)", "BigVGAN",
                 "face"):
        ours, cpu = stages.get(name, (0.0, 0.0))
        key = "voice analysis (cold extra)" if name == "voice analysis" else name
        r = ref.get(key)
        print(f"{name:36s} {ours:9.2f} {cpu:8.2f} {('%.2f' % r) if r else '-':>14s} "
              f"{('%.2f' % (ours / r)) if r else '':>6s}")
    print(f"{'total, voice cached (warm)':36s} {total:9.2f} {'':>8s} {('%.1f' % ref['total (warm)']) if ref else '-':>14s} "
          f"{('%.2f' % (total / ref['total (warm)'])) if ref else '':>6s}")
    if same_machine_ref and "total (cold)" in same_machine_ref:
        cold = min(st.get("voice analysis", (0.0, 0.0))[0] + tot for st, tot, _a, _n in runs)
        print(f"{'total, voice not cached (cold)':36s} {cold:9.2f} {'':>8s} {same_machine_ref['total (cold)']:14.1f} "
              f"{cold / same_machine_ref['total (cold)']:6.2f}")
    if same_case and args.beams == 1 and same_machine_ref is None:
        print(f"reference with beams 1 (its doc's estimate): {REFERENCE_CPU_BEAMS1_TOTAL:.0f} s -> ratio "
              f"{total / REFERENCE_CPU_BEAMS1_TOTAL:.2f}")
    print(f"real-time factor (warm): {total / audio_s:.2f}   (goal on an H100: <= 0.15)")
    ref_peak = ("%.2f GiB, this machine" % same_machine_ref["peak_rss_GiB"]
                if same_machine_ref and "peak_rss_GiB" in same_machine_ref else "8.51 GiB")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    ratio = (f", ratio {peak / same_machine_ref['peak_rss_GiB']:.2f}"
             if same_machine_ref and "peak_rss_GiB" in same_machine_ref else "")
    print(f"peak resident memory: {peak:.2f} GiB (reference: {ref_peak}{ratio})")
    if device.type == "cuda":
        print(f"peak GPU memory allocated: {torch.cuda.max_memory_allocated() / 2 ** 30:.2f} GiB")


if __name__ == "__main__":
    main()
