#!/usr/bin/env bash
# The GPU check of issue 15, ready for a session that is lent a GPU: one script, random full-size
# weights (no download), at most ~8 minutes on one GPU. Each step has its own time limit and a
# failing step does not stop the others; the figures go into bench/README.md ("figures to fill").
#
#   bash bench/device_check.sh              # on the GPU machine
#   bash bench/device_check.sh --dry-run    # anywhere: print the plan, check imports and arguments, exit 0
#
# Steps:
#   1. GPT: fp16 / bf16 vs fp32 on the same weights (latents, mel logits, greedy codes) + decode speed
#   2. S2Mel CFG step and BigVGAN: fp16 and bf16 vs fp32 (RMS relative error printed by the bench) + speed
#   3. GPT decode, static KV cache: eager one-token step vs the same step captured in a CUDA graph
#      (gpt-fast style; manual torch.cuda.CUDAGraph capture) and torch.compile(mode="reduce-overhead")
#   4. Whole pipeline, 5 s case (250 codes, 25 CFM steps), real-time factor, beams 1 and 3
#   5. Emotion from text (Qwen3-0.6B size): 10 sentences, fp32 and fp16, fp16's deviation
# Every step prints torch.cuda.max_memory_allocated (peak GPU memory).
set -u
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
    if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
DRY=0
DEVICE=cuda
for arg in "$@"; do
    case "$arg" in
        --dry-run) DRY=1 ;;
        --device=*) DEVICE="${arg#--device=}" ;;
        *) echo "device_check.sh: unknown argument $arg (use --dry-run, --device=cuda[:N])" >&2; exit 2 ;;
    esac
done

# name | time limit (s) | python script | arguments
STEPS=(
  "gpt precision and decode|100|bench/bench_gpt.py|--devices $DEVICE --dtypes float32 float16 bfloat16 --no-hf --beams 1 3 --tokens 64 --repeats 2"
  "s2mel + bigvgan fp16|60|bench/bench_s2mel_vocoder.py|--device $DEVICE --dtype float16 --repeats 3"
  "s2mel + bigvgan bf16|60|bench/bench_s2mel_vocoder.py|--device $DEVICE --dtype bfloat16 --repeats 3"
  "gpt static cache + cuda graph|100|-|$DEVICE"
  "pipeline 5 s, beams 1|60|bench/bench_pipeline.py|--device $DEVICE --beams 1"
  "pipeline 5 s, beams 3|60|bench/bench_pipeline.py|--device $DEVICE --beams 3"
  "text emotion fp32 + fp16|40|bench/bench_text_emotion.py|--device $DEVICE"
)

# Step 3's program: our GPT's one-token step over the whole preallocated cache with a position
# mask (fixed shapes, so it can be captured), checked against the eager step, then timed.
read -r -d '' GRAPH_STEP <<'EOF'
import sys, time, torch
sys.path.insert(0, "bench")
from bench_gpt import build
from unitaf_blender.engines.unitaf.generate import _last_logits, _prefill
device = torch.device(sys.argv[1])
dry = len(sys.argv) > 2 and sys.argv[2] == "--dry-run"
if dry:
    print("  graph step: imports ok; would build the full-size GPT in fp16 on", device)
    sys.exit(0)
torch.manual_seed(0)
model = build(device, torch.float16)
d = model.dims
text = torch.randint(2, d.number_text_tokens, (1, 60), device=device)
conds = torch.randn(1, 34, d.model_dim, device=device, dtype=model.dtype)
x, cache, _ = _prefill(model, conds, text, 1, 300)
with torch.inference_mode():
    _last_logits(model, x, cache, 0)
pos0 = x.shape[1]
L = cache.max_len
blocks, hd = model.gpt.h, d.model_dim // d.heads

def static_step(tok_emb, pos):          # tok_emb (1, 1, D), pos: long tensor (1,)
    h = tok_emb
    visible = (torch.arange(L, device=device) <= pos)[None, None, None, :]
    for i, blk in enumerate(blocks):
        a = blk.ln_1(h)
        q, k, v = blk.attn.c_attn(a).split(d.model_dim, dim=2)
        q, k, v = (z.view(1, 1, d.heads, hd).transpose(1, 2) for z in (q, k, v))
        cache.k[i].index_copy_(2, pos, k)
        cache.v[i].index_copy_(2, pos, v)
        o = torch.nn.functional.scaled_dot_product_attention(q, cache.k[i], cache.v[i], attn_mask=visible)
        h = h + blk.attn.c_proj(o.transpose(1, 2).reshape(1, 1, d.model_dim))
        h = h + blk.mlp(blk.ln_2(h))
    return model.mel_head(model.final_norm(model.gpt.ln_f(h)[:, -1])).float()

emb = model.embed_mel(torch.tensor([[5]], device=device), torch.tensor([[2]], device=device))
pos = torch.tensor([pos0], device=device)
with torch.inference_mode():
    k_save, v_save = cache.k.clone(), cache.v.clone()
    eager = _last_logits(model, emb, cache, pos0)
    cache.k.copy_(k_save); cache.v.copy_(v_save)
    static = static_step(emb, pos)
    print(f"  static-cache step vs eager step: max abs {float((static - eager).abs().max()):.4f}, "
          f"argmax equal {bool(static.argmax() == eager.argmax())}")
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            static_step(emb, pos)
    torch.cuda.current_stream().wait_stream(s)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = static_step(emb, pos)
    graph.replay()
    print(f"  CUDA graph step vs static step: max abs {float((out - static).abs().max()):.4f}")

    def per_token(fn, n=100):
        fn(); torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(n):
            fn()
        torch.cuda.synchronize()
        return (time.perf_counter() - t) / n * 1e3
    eager_ms = per_token(lambda: _last_logits(model, emb, cache, pos0))
    static_ms = per_token(lambda: static_step(emb, pos))
    graph_ms = per_token(graph.replay)
    print(f"  decode step, fp16, context {pos0}: eager {eager_ms:.2f} ms | static cache {static_ms:.2f} ms | "
          f"CUDA graph {graph_ms:.2f} ms ({1e3 / graph_ms:.0f} tokens/s)")
try:
    compiled = torch.compile(static_step, mode="reduce-overhead", fullgraph=False)
    with torch.inference_mode():
        for _ in range(3):
            compiled(emb, pos)
        print(f"  torch.compile reduce-overhead: {per_token(lambda: compiled(emb, pos)):.2f} ms/token")
except Exception as exc:  # noqa: BLE001 - report and go on: the manual graph is the main figure
    print(f"  torch.compile reduce-overhead failed: {type(exc).__name__}: {str(exc)[:200]}")
print(f"  peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")
EOF

# Runs a bench script in this process's Python and prints its peak GPU memory afterwards.
read -r -d '' RUN_WITH_PEAK <<'EOF'
import runpy, sys, torch
script = sys.argv[1]
sys.argv = sys.argv[1:]
try:
    runpy.run_path(script, run_name="__main__")
finally:
    if torch.cuda.is_available():
        print(f"  peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")
EOF

echo "device check: $(date -u +%FT%TZ), python $PY, device $DEVICE"
if [ "$DRY" = 1 ]; then
    echo "plan (dry run: nothing heavy runs):"
else
    "$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU'; print('GPU:', torch.cuda.get_device_name(0), torch.__version__)" || exit 1
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
fi
fail=0
n=0
for step in "${STEPS[@]}"; do
    n=$((n + 1))
    IFS='|' read -r name limit script args <<<"$step"
    if [ "$DRY" = 1 ]; then
        echo "  $n. $name (limit ${limit} s): ${script/#-/graph step} $args"
        if [ "$script" = "-" ]; then
            "$PY" -c "$GRAPH_STEP" "$DEVICE" --dry-run || fail=1
        else
            # the arguments parse and the script imports: --help after them exits 0 without work
            # shellcheck disable=SC2086
            "$PY" "$script" $args --help >/dev/null || { echo "  step $n: bad arguments or imports" >&2; fail=1; }
        fi
        continue
    fi
    echo "== $n. $name (limit ${limit} s)"
    start=$(date +%s)
    if [ "$script" = "-" ]; then
        timeout "$limit" "$PY" -c "$GRAPH_STEP" "$DEVICE" || { echo "  step $n failed or timed out (rc $?)"; fail=1; }
    else
        # shellcheck disable=SC2086
        timeout "$limit" "$PY" -c "$RUN_WITH_PEAK" "$script" $args || { echo "  step $n failed or timed out (rc $?)"; fail=1; }
    fi
    echo "   ($(( $(date +%s) - start )) s)"
done
total=0
for step in "${STEPS[@]}"; do total=$((total + $(cut -d'|' -f2 <<<"$step"))); done
echo "time limits add up to ${total} s (at most 8 minutes)"
exit $fail
