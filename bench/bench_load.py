"""Peak memory of each checkpoint loader at full size (random weights written to scratch files in
the official layouts, no download): VmHWM of a fresh process per load, every weight paged in
after loading (tracemalloc does not see torch's allocations). Linux only (/proc/self/status).

    .venv/bin/python bench/bench_load.py [--dir /tmp/unitaf-load] [--dtypes float32 bfloat16]
        [--loaders gpt s2mel bigvgan w2v repcodec campplus face qwen3] [--root CHECKOUT]

--root measures another checkout's loaders (e.g. a worktree of the commit before a change)
against the same scratch files. "before load" is the process after importing torch and the
loader: peak minus it is what loading itself cost.
"""
from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
CONFIG = {"gpt": {"emo_condition_module": dict(output_size=512, linear_units=1024, attention_heads=4, num_blocks=4)}}
# bigvgan_v2_22khz_80band_256x (the IndexTTS2 vocoder): the keys BigVGANDims.from_config reads
BIGVGAN_CONFIG = {"resblock": "1", "num_mels": 80, "upsample_initial_channel": 1536,
                  "upsample_rates": [4, 4, 2, 2, 2, 2], "upsample_kernel_sizes": [8, 8, 4, 4, 4, 4],
                  "resblock_kernel_sizes": [3, 7, 11], "resblock_dilation_sizes": [[1, 3, 5]] * 3,
                  "use_tanh_at_final": False, "use_bias_at_final": False, "activation": "snakebeta",
                  "snake_logscale": True, "sampling_rate": 22050}
# Qwen3-0.6B (the text-emotion model), stored bf16 as released, loaded fp32 (load_qwen3's default)
QWEN3_CONFIG = {"model_type": "qwen3", "vocab_size": 151936, "hidden_size": 1024, "intermediate_size": 3072,
                "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128,
                "rms_norm_eps": 1e-6, "rope_theta": 1000000, "tie_word_embeddings": True,
                "max_position_embeddings": 40960}

# loader name -> (scratch file or folder, the load expression run in the child)
LOADS = {
    "gpt": ("gpt_full.pth", "U.gpt.load_gpt(P, {config!r}, dtype=torch.{dtype})"),
    "s2mel": ("s2mel.pth", "U.s2mel.S2Mel.from_checkpoint(P, U.s2mel.S2MelDims())"),
    "bigvgan": ("bigvgan", "U.vocoder.BigVGAN.from_pretrained(P)"),
    "w2v": ("w2v-bert-2.0", "U.semantic.load_w2v_bert(P, config={{}})"),
    "repcodec": ("semantic_codec.safetensors", "U.semantic.load_repcodec(P)"),
    "campplus": ("campplus_cn_common.bin", "U.campplus.load_campplus(P)"),
    "face": ("unitaf_a2f", "U.face.FaceHead.from_dir(P)"),
    "qwen3": ("qwen3-0.6b", "U.qwen3.load_qwen3(P)"),
}

CHILD = """
import sys, torch
sys.path.insert(0, {root!r})
import importlib, types
U = types.SimpleNamespace(**{{n: importlib.import_module('unitaf_blender.engines.unitaf.' + n)
                             for n in ('gpt', 's2mel', 'vocoder', 'semantic', 'campplus', 'face', 'qwen3')}})
def vm(key):
    return next(int(l.split()[1]) / 2**20 for l in open('/proc/self/status') if l.startswith(key))
P = {path!r}
before = vm('VmRSS')
m = {load}
sum(float(p.float().sum()) for p in m.state_dict().values())   # page every weight in
kept = sum(p.numel() * p.element_size() for p in m.state_dict().values()) / 2**30
print(f"{label}: kept weights {{kept:.2f}} GiB, peak RSS (VmHWM) {{vm('VmHWM'):.2f}} GiB, before load "
      f"{{before:.2f}}, RSS after {{vm('VmRSS'):.2f}} GiB (anonymous {{vm('RssAnon'):.2f}}, "
      f"file-backed {{vm('RssFile'):.2f}})", flush=True)
"""


def random_state(build) -> dict:
    """A module's state dict with cheap random values (no default init: it takes minutes at this size)."""
    import torch
    torch.manual_seed(0)
    with torch.device("meta"):
        module = build()
    state = module.to_empty(device="cpu").state_dict()
    with torch.no_grad():
        for t in state.values():
            t.normal_(0.0, 0.02) if t.is_floating_point() else t.zero_()
    return state


def split_weight_norm(state: dict, wanted) -> dict:
    """Store the wanted conv weights as weight_g / weight_v pairs, as the reference files do."""
    out = {}
    for key, t in state.items():
        if key.endswith(".weight") and t.dim() == 3 and wanted(key):
            out[key[:-len("weight")] + "weight_g"] = t.flatten(1).norm(dim=1).view(-1, 1, 1)
            out[key[:-len("weight")] + "weight_v"] = t
        else:
            out[key] = t
    return out


def write_safetensors(path: str, tensors: dict) -> None:
    import torch
    tags = {torch.float32: "F32", torch.bfloat16: "BF16", torch.int64: "I64"}
    header, offset = {}, 0
    for key, t in tensors.items():
        n = t.numel() * t.element_size()
        header[key] = {"dtype": tags[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        for t in tensors.values():
            f.write(t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())


def write_json(path: str, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f)


def write_scratch(name: str, path: str) -> None:
    """The full-size random checkpoint `name` loads, at `path`, in the official file's layout."""
    import torch

    from unitaf_blender.engines.unitaf import campplus, face, qwen3, s2mel, semantic, vocoder
    if name == "gpt":
        sys.path.insert(0, HERE)
        from bench_gpt import build
        torch.save(build(torch.device("cpu"), torch.float32).state_dict(), path)
    elif name == "s2mel":
        state = split_weight_norm(random_state(lambda: s2mel.S2Mel(s2mel.S2MelDims())), lambda k: ".wavenet." in k)
        parts = {"gpt_proj.": "gpt_layer", "length_regulator.": "length_regulator", "estimator.": "cfm"}
        net = {part: {} for part in parts.values()}
        for key, t in state.items():
            prefix = next(p for p in parts if key.startswith(p))
            net[parts[prefix]][key[len(prefix):] if prefix != "estimator." else key] = t
        torch.save({"net": net, "iters": 0}, path)
    elif name == "bigvgan":
        os.makedirs(path, exist_ok=True)
        write_json(os.path.join(path, "config.json"), BIGVGAN_CONFIG)
        dims = vocoder.BigVGANDims.from_config(BIGVGAN_CONFIG)
        state = split_weight_norm(random_state(lambda: vocoder.BigVGAN(dims)), lambda k: True)
        renames = {".up_filter": ".upsample.filter", ".down_filter": ".downsample.lowpass.filter",
                   ".alpha": ".act.alpha", ".beta": ".act.beta"}
        generator = {}
        for key, t in state.items():
            for ours, theirs in renames.items():
                key = key[:-len(ours)] + theirs if key.endswith(ours) else key
            generator[key] = t
        torch.save({"generator": generator}, os.path.join(path, "bigvgan_generator.pt"))
    elif name == "w2v":   # only the layers the loader builds: it never reads the others
        os.makedirs(path, exist_ok=True)
        dims = semantic.W2vBertDims.from_hf_config({})
        write_safetensors(os.path.join(path, "model.safetensors"),
                          random_state(lambda: semantic.W2vBertEncoder(dims, semantic.SEMANTIC_LAYER)))
    elif name == "repcodec":   # the decoder half stood in by a copy of the encoder's tensors
        state = random_state(lambda: semantic.RepCodec(semantic.RepCodecDims()))
        decoder = {"decoder." + k[len("encoder."):]: t for k, t in state.items() if k.startswith("encoder.")}
        write_safetensors(path, {**state, **decoder})
    elif name == "campplus":   # the released file is a legacy (non-zip) torch file
        torch.save(random_state(lambda: campplus.CAMPPlus(campplus.CAMPPlusDims())), path,
                   _use_new_zipfile_serialization=False)
    elif name == "face":
        os.makedirs(path, exist_ok=True)
        torch.save(random_state(lambda: face.AudioFeatureProjector(face.ProjectorDims())),
                   os.path.join(path, face.PROJECTOR_FILE))
        torch.save(random_state(lambda: face.UniTalkerDecoder(face.DecoderDims())), os.path.join(path, face.DECODER_FILE))
        torch.save(random_state(lambda: face.ExpressionModel(face.ExpressionDims())),
                   os.path.join(path, face.EXPRESSION_FILE))
    elif name == "qwen3":
        os.makedirs(path, exist_ok=True)
        write_json(os.path.join(path, "config.json"), QWEN3_CONFIG)
        state = random_state(lambda: qwen3.Qwen3(qwen3.Qwen3Dims.from_config(QWEN3_CONFIG)))
        write_safetensors(os.path.join(path, "model.safetensors"), {k: t.bfloat16() for k, t in state.items()})


def size_gib(path: str) -> float:
    if os.path.isfile(path):
        return os.path.getsize(path) / 2**30
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs) / 2**30


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default="/tmp/unitaf-load")
    ap.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"], help="GPT load dtypes")
    ap.add_argument("--loaders", nargs="+", default=list(LOADS), choices=list(LOADS))
    ap.add_argument("--root", default=ROOT, help="the checkout whose loaders are measured")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    for name in args.loaders:
        path = os.path.join(args.dir, LOADS[name][0])
        if not os.path.exists(path):
            write_scratch(name, path)
        print(f"{name}: scratch {path}, {size_gib(path):.2f} GiB", flush=True)
        for dtype in args.dtypes if name == "gpt" else ["float32"]:
            load = LOADS[name][1].format(config=CONFIG, dtype=dtype)
            label = f"{name} {dtype}" if name == "gpt" else name
            code = CHILD.format(root=os.path.abspath(args.root), path=path, load=load, label=label)
            subprocess.run([sys.executable, "-c", code], check=True)


if __name__ == "__main__":
    main()
