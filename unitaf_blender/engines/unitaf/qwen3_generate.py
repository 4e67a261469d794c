"""Decoding with the Qwen3 model (qwen3.py): its generation_config.json as settings, one prompt
greedy or sampled (`generate_ids`), and several prompts greedily in one batch, optionally with
guessed tokens checked in one pass (`generate_ids_batch`) -- as generate.py decodes for gpt.py.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

import torch

from . import checkpoint as ckpt
from .generate import _warp
from .options import SamplingConfig

if TYPE_CHECKING:
    from .qwen3 import Qwen3

__all__ = ["GenerationSettings", "read_generation_config", "generate_ids", "generate_ids_batch"]


@dataclass
class GenerationSettings:
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 50          # HF's default when the file does not say
    top_p: float = 1.0
    eos_token_ids: tuple = field(default_factory=tuple)

    def sampling(self) -> SamplingConfig:
        return SamplingConfig(do_sample=self.do_sample, temperature=self.temperature, top_k=self.top_k,
                              top_p=self.top_p, repetition_penalty=1.0, num_beams=1)


def read_generation_config(path, config_eos=None) -> GenerationSettings:
    """generation_config.json -> GenerationSettings (HF defaults for absent keys); a missing file
    gives greedy decoding that stops at the config's eos id."""
    data = {}
    if path and os.path.isfile(path):
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError) as exc:
            raise ckpt.CheckpointError(f"{path}: cannot read the generation config ({exc})") from exc
    eos = data.get("eos_token_id", config_eos)
    eos = () if eos is None else tuple(int(e) for e in (eos if isinstance(eos, list) else [eos]))
    return GenerationSettings(do_sample=bool(data.get("do_sample", False)),
                              temperature=float(data.get("temperature", 1.0)),
                              top_k=int(data.get("top_k", 50) or 0), top_p=float(data.get("top_p", 1.0)),
                              eos_token_ids=eos)


@torch.inference_mode()
def generate_ids(model: Qwen3, prompt_ids, max_new_tokens: int, settings: GenerationSettings,
                 generator: Optional[torch.Generator] = None) -> list[int]:
    """Prompt ids -> new ids (ending with the eos id when one was produced). Greedy takes the
    argmax; sampling warps (temperature, top-k, top-p) and draws with torch.multinomial on the
    softmax, as HF does, so the same seed draws the same tokens."""
    ids = torch.tensor([list(prompt_ids)], dtype=torch.long, device=model.device)
    cache = model.new_cache(1, ids.shape[1] + max_new_tokens)
    logits = model(ids, cache, 0)
    pos, out = ids.shape[1], []
    cfg = settings.sampling()
    eos = set(settings.eos_token_ids)
    for _ in range(max_new_tokens):
        if settings.do_sample:
            probs = _warp(logits, cfg, min_keep=1).softmax(-1)
            nxt = torch.multinomial(probs, 1, generator=generator)
        else:
            nxt = logits.argmax(-1, keepdim=True)
        tok = int(nxt)
        out.append(tok)
        if tok in eos:
            break
        logits = model(nxt, cache, pos)
        pos += 1
    return out


def _common_prefix(prompts) -> int:
    n = min(len(p) for p in prompts)
    for i in range(n):
        if any(p[i] != prompts[0][i] for p in prompts[1:]):
            return i
    return n


class _Rows:
    """The state of a batch being decoded: a KV cache whose slots per row are valid (`seen`) or
    holes (padding, guesses that were rejected), the next RoPE position of each row, and the
    rows still decoding. `squeeze` drops finished rows and holes (keys keep their rotation)."""

    def __init__(self, model: Qwen3, rows: list, cap: int):
        self.model, self.rows, self.cap = model, rows, cap
        self.cache = model.new_cache(len(rows), cap)
        self.seen = torch.zeros(len(rows), cap, dtype=torch.bool, device=model.device)
        self.next_pos = torch.zeros(len(rows), dtype=torch.long, device=model.device)
        self.slot = 0

    def prefill(self, prompts):
        """Prompts right-aligned after their longest common prefix, which is computed once; the
        padding on the left costs nothing. Returns each row's greedy first token (B,)."""
        model = self.model
        shared = max(0, _common_prefix(prompts) - 1)       # leave every row one own token to predict from
        if shared:
            one = model.new_cache(1, shared)
            model(torch.tensor([prompts[0][:shared]], device=model.device), one, 0, argmax=True)
            self.cache.k[:, :, :, :shared] = one.k
            self.cache.v[:, :, :, :shared] = one.v
            self.seen[:, :shared] = True
        rest = [p[shared:] for p in prompts]
        width = max(len(r) for r in rest)
        pad = torch.tensor([width - len(r) for r in rest], device=model.device)
        ids = torch.tensor([[0] * (width - len(r)) + r for r in rest], device=model.device)
        slots = torch.arange(width, device=model.device)
        positions = shared + (slots[None, :] - pad[:, None]).clamp(min=0)
        valid = slots[None, :] >= pad[:, None]
        self.seen[:, shared:shared + width] = valid
        first = model(ids, self.cache, shared, positions=positions, seen=self.seen[:, :shared + width],
                      valid=valid, argmax=True)
        self.next_pos[:] = torch.tensor([len(p) for p in prompts], device=model.device)
        self.slot = shared + width
        return first

    def squeeze(self, keep: list):
        """Keep batch rows `keep` (indices into self.rows), their valid slots packed to the right."""
        model = self.model
        counts = [int(self.seen[r].sum()) for r in keep]
        width = max(counts)
        cache = model.new_cache(len(keep), self.cap)
        seen = torch.zeros(len(keep), self.cap, dtype=torch.bool, device=model.device)
        for i, (r, n) in enumerate(zip(keep, counts)):
            valid = self.seen[r].nonzero().flatten()
            cache.k[:, i, :, width - n:width] = self.cache.k[:, r].index_select(2, valid)
            cache.v[:, i, :, width - n:width] = self.cache.v[:, r].index_select(2, valid)
            seen[i, width - n:width] = True
        self.cache, self.seen, self.slot = cache, seen, width
        self.next_pos = self.next_pos[keep]
        self.rows = [self.rows[r] for r in keep]


@torch.inference_mode()
def generate_ids_batch(model: Qwen3, prompts, max_new_tokens: int, eos_token_ids, drafter=None,
                       max_draft: int = 32, free_tokens: int = 200) -> list[list[int]]:
    """Greedy continuations of several prompts decoded together; each row's ids end with its eos
    id when one was produced, and equal generate_ids row by row.

    Batching: decoding reads every weight once per pass whatever the batch, so N sentences cost
    about as much as one while the CPU is memory-bound. Prompts share their common prefix (the
    chat template's system part), computed once; rows of different lengths are packed (padding
    is never computed).
    drafter: an object with draft(ids, k) (drafting.LookupDrafter) whose guesses are checked
    (speculative decoding without a draft model): each pass feeds a row's last token plus up to
    `max_draft` guessed tokens, keeps the guesses that equal the model's argmax and then the
    model's own next token, so a correct guess of n tokens costs one pass instead of n.
    Where the answer's shape is known and only its numbers are not (a drafter with `wildcards`:
    the digit tokens), a row's block stops before its first guessed digit: the pass itself
    gives the digit, and no token after a wrong digit is computed in vain. While a pass holds
    fewer than `free_tokens` tokens, rows guess on through digits (shared out row by row): a
    pass has a fixed cost (reading every weight once, ~0.1 s at full size on a 2-core CPU),
    so a few passes with a little waste beat many exact ones; 200 (with max_draft 32) gave the
    fewest passes for the least waste in bench/bench_text_emotion.py.
    Each row guesses as far as its last guess held (doubling after a fully right guess; after a
    wrong first token one pass without guessing; a wrong digit changes nothing): wrong guesses
    cost compute, which bounds the cost of a drafter that does not know the answers' shape to
    ~1.5x plain greedy."""
    prompts = [list(p) for p in prompts]
    if not prompts or max_new_tokens <= 0:
        return [[] for _ in prompts]
    eos = set(int(e) for e in eos_token_ids)
    max_draft = max_draft if drafter is not None else 0
    uncertain = frozenset(getattr(drafter, "wildcards", ()))
    out = [[] for _ in prompts]
    budget = [max_draft] * len(prompts)      # how many tokens each row guesses next
    state = _Rows(model, list(range(len(prompts))), max(len(p) for p in prompts) + max_new_tokens + max_draft + 1)
    firsts = state.prefill(prompts).tolist()
    for row, tok in zip(state.rows, firsts):
        out[row].append(tok)

    def finished(row):
        return out[row][-1] in eos or len(out[row]) >= max_new_tokens

    while True:
        live = [i for i, row in enumerate(state.rows) if not finished(row)]
        if not live:
            return out
        drafts, sure = {}, {}
        for i in live:
            row = out[state.rows[i]]
            room = min(budget[state.rows[i]], max_new_tokens - len(row) - 1)   # guesses + the model's token fit
            drafts[i] = drafter.draft(row, room)[:room] if room > 0 else []
            sure[i] = next((j for j, t in enumerate(drafts[i]) if t in uncertain), len(drafts[i]))
        guesses = _spend(drafts, sure, free_tokens)
        k = max(len(g) for g in guesses.values())
        if len(live) < len(state.rows) or state.slot + 1 + k > state.cap:
            state.squeeze(live)                 # finished rows cost compute, holes cost room
            guesses = {j: guesses[i] for j, i in enumerate(live)}
        block = torch.tensor([[out[row][-1]] + (guesses[i] + [0] * k)[:k] for i, row in enumerate(state.rows)],
                             device=model.device)
        lengths = torch.tensor([1 + len(guesses[i]) for i in range(len(state.rows))], device=model.device)
        valid = torch.arange(1 + k, device=model.device)[None, :] < lengths[:, None]
        slot = state.slot
        positions = state.next_pos[:, None] + torch.arange(1 + k, device=model.device)
        state.seen[:, slot:slot + 1 + k] = valid
        best = model(block, state.cache, slot, all_logits=True, positions=positions,
                     seen=state.seen[:, :slot + 1 + k], valid=valid, argmax=True).tolist()
        for i, row in enumerate(state.rows):
            guess, taken = guesses[i], 0
            while taken < len(guess) and guess[taken] == best[i][taken] and guess[taken] not in eos:
                taken += 1
            if taken < len(guess) and guess[taken] == best[i][taken]:     # an accepted eos ends the row
                out[row].extend(guess[:taken + 1])
                taken += 1
            else:
                out[row].extend(guess[:taken] + [best[i][taken]])
            state.seen[i, slot + 1 + taken:slot + 1 + k] = False      # rejected guesses are holes
            state.next_pos[i] += 1 + taken
            if not guess:               # nothing guessed (a probe after a miss, or a digit next)
                budget[row] = max(budget[row], min(1, max_draft))
            elif taken >= len(guess):
                budget[row] = min(max_draft, max(budget[row], 2 * len(guess)))
            elif guess[taken] not in uncertain:      # a wrong digit is expected; a wrong key is not
                budget[row] = taken
        state.slot = slot + 1 + k


def _spend(drafts: dict, sure: dict, free_tokens: int) -> dict:
    """Each row's guess to check this pass: its sure part (before the first uncertain token),
    then, while the pass holds fewer than `free_tokens` tokens, more of its guess, shared out
    row by row."""
    take = dict(sure)
    spare = free_tokens - sum(1 + n for n in take.values())
    while spare > 0:
        grew = False
        for i in take:
            if spare > 0 and take[i] < len(drafts[i]):
                take[i] += 1
                spare -= 1
                grew = True
        if not grew:
            break
    return {i: drafts[i][:n] for i, n in take.items()}
