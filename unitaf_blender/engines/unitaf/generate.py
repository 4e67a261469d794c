"""Semantic-code generation with the IndexTTS2 GPT (gpt.UnifiedVoice), sampling as set by
options.SamplingConfig: the lean single-sequence loop (`iter_codes`), HF-style beam search /
beam sampling, and `generate` which picks between them. The network itself is in gpt.py, as gpt-fast keeps generate.py
beside model.py.

Every loop prefills [conds][text][start_mel] into a preallocated KVCache, then feeds one code
per step; only semantic codes and the stop token can be chosen.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .gpt import KVCache, UnifiedVoice
from .options import SamplingConfig


@dataclass
class GenerationResult:
    codes: torch.Tensor            # (1, N) int64 including the stop token when one was produced
    stopped: bool                  # True if the stop token ended generation
    scores: list | None = None     # per-step processed logits (1, V) when requested (as the
                                   # reference's, i.e. before start_mel is masked for selection)


def _apply_repetition_penalty(logits, seen, penalty):
    if penalty == 1.0:
        return logits
    # elementwise over the whole vocabulary: no data-dependent shapes, so no GPU sync
    penalised = torch.where(logits < 0, logits * penalty, logits / penalty)
    return torch.where(seen, penalised, logits)


def _warp(scores, cfg: SamplingConfig, min_keep: int):
    """HF warpers in order: temperature, top-k, top-p (keeping at least `min_keep` tokens)."""
    if cfg.temperature != 1.0:
        scores = scores / cfg.temperature
    if cfg.top_k and cfg.top_k > 0:
        k = min(max(cfg.top_k, min_keep), scores.shape[-1])
        kth = torch.topk(scores, k, dim=-1).values[..., -1, None]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    if cfg.top_p is not None and cfg.top_p < 1.0:
        sorted_scores, order = torch.sort(scores, descending=False, dim=-1)
        cum = sorted_scores.softmax(-1).cumsum(-1)
        drop = cum <= (1 - cfg.top_p)
        drop[..., -min_keep:] = False
        scores = scores.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return scores


def _prefill(model, conds, text_ids, batch: int, max_new: int):
    """Prefill inputs [conds][text][start_mel (mel pos 0)], an empty KV cache and the
    repetition-penalty set (the reference's fake prompt ids 1 and start_mel count as seen)."""
    dims = model.dims
    prefix = model.prefill_embeddings(conds, text_ids)
    start = model.embed_mel(torch.full((1, 1), dims.start_mel_token, device=model.device),
                            torch.zeros(1, 1, dtype=torch.long, device=model.device))
    x = torch.cat([prefix, start], dim=1).expand(batch, -1, -1)
    cache = KVCache(dims.layers, batch, dims.heads, x.shape[1] + max_new, dims.model_dim // dims.heads,
                    model.device, model.dtype)
    seen = torch.zeros(batch, dims.number_mel_codes, dtype=torch.bool, device=model.device)
    seen[:, 1] = True
    seen[:, dims.start_mel_token] = True
    return x, cache, seen


def _unspeakable(model) -> torch.Tensor:
    """(V,) True for ids the GPT must never emit: start_mel and anything else at or above the
    codebook (ids below min(start, stop) are semantic codes), except the stop token. The
    reference can sample start_mel, which the semantic codec cannot embed."""
    dims = model.dims
    ids = torch.arange(dims.number_mel_codes, device=model.device)
    return (ids >= min(dims.start_mel_token, dims.stop_mel_token)) & (ids != dims.stop_mel_token)


def _last_logits(model, x, cache, pos):
    """One cached forward; returns fp32 logits of the last position (B, V)."""
    h = model.gpt(x, cache, pos)
    return model.mel_head(model.final_norm(h[:, -1])).float()


@torch.inference_mode()
def generate(model: UnifiedVoice, conds: torch.Tensor, text_ids, sampling: SamplingConfig | None = None,
             generator: torch.Generator | None = None, return_scores: bool = False,
             cancel=None) -> GenerationResult:
    """Autoregressive semantic codes for one segment (batch 1) with a preallocated KV cache.

    `sampling.num_beams > 1` runs HF-style beam search (beam *sampling* when do_sample, the
    reference default). Stops at the stop token (kept in the result) or after `max_new_tokens`.
    Only semantic codes and the stop token are ever chosen (start_mel is masked out).
    `cancel` is an optional callable run between steps (it may raise to stop)."""
    cfg = sampling or SamplingConfig()
    if cfg.max_new_tokens < 1:
        raise ValueError("max_new_tokens must be at least 1")
    if cfg.do_sample and cfg.temperature <= 0:
        raise ValueError("temperature must be > 0 when sampling (use do_sample=False for greedy)")
    if cfg.num_beams < 1:
        raise ValueError("num_beams must be at least 1")
    # generated code k is embedded with mel position k+1, so the table bounds the length
    max_new = min(cfg.max_new_tokens, model.mel_pos_embedding.emb.num_embeddings - 2)
    if cfg.num_beams > 1:
        return _generate_beams(model, conds, text_ids, cfg, max_new, generator, cancel)
    codes, scores = [], [] if return_scores else None
    for nxt, logits in iter_codes(model, conds, text_ids, cfg, generator):
        codes.append(nxt)
        if scores is not None:
            scores.append(logits)
        if cancel is not None and int(nxt) != model.dims.stop_mel_token:
            cancel()
    stopped = int(codes[-1]) == model.dims.stop_mel_token
    return GenerationResult(torch.cat(codes, dim=1), stopped, scores)


@torch.inference_mode()
def iter_codes(model: UnifiedVoice, conds: torch.Tensor, text_ids, sampling: SamplingConfig | None = None,
               generator: torch.Generator | None = None):
    """The lean single-sequence loop (num_beams is ignored): yields (code (1, 1), processed
    logits (1, V)) per step; the stop token, if produced, is the last item. Lets callers
    stream codes or interleave work between steps."""
    cfg = sampling or SamplingConfig(num_beams=1)
    stop = model.dims.stop_mel_token
    max_new = min(cfg.max_new_tokens, model.mel_pos_embedding.emb.num_embeddings - 2)
    x, cache, seen = _prefill(model, conds, text_ids, 1, max_new)
    unspeakable = _unspeakable(model)
    pos = 0
    for step in range(max_new):
        logits = _last_logits(model, x, cache, pos)
        pos += x.shape[1]
        logits = _apply_repetition_penalty(logits, seen, cfg.repetition_penalty)
        if step < cfg.min_new_tokens:
            logits[:, stop] = float("-inf")
        # selection never sees unspeakable ids; the yielded logits stay the reference's
        # processed scores. Masking before the warpers changes nothing unless such an id
        # would have been a candidate (it would otherwise leave top-p nothing to keep).
        allowed = logits.masked_fill(unspeakable, float("-inf"))
        if cfg.do_sample:
            probs = _warp(allowed, cfg, min_keep=1).softmax(-1)
            nxt = torch.multinomial(probs, 1, generator=generator)
        else:
            nxt = allowed.argmax(-1, keepdim=True)
        seen.scatter_(1, nxt, True)
        yield nxt, logits
        if int(nxt) == stop:
            return
        x = model.embed_mel(nxt, torch.full_like(nxt, step + 2))


def _generate_beams(model, conds, text_ids, cfg: SamplingConfig, max_new: int, generator, cancel):
    """HF beam search / beam sampling as the reference runs it: per beam, log_softmax ->
    repetition penalty (on log-probs) -> [temperature, top-k, top-p when sampling] -> + beam
    score; pick 2*beams candidates (top-k, or multinomial then sorted); a stop candidate ranked
    within the first `beams` closes a hypothesis (score / gen_len**length_penalty); stop once
    `beams` hypotheses exist and the worst beats the best open candidate."""
    nb, stop = cfg.num_beams, model.dims.stop_mel_token
    vocab = model.dims.number_mel_codes
    x, cache, seen = _prefill(model, conds, text_ids, nb, max_new)
    unspeakable = _unspeakable(model)
    beam_scores = torch.full((nb,), -1e9, device=model.device)
    beam_scores[0] = 0.0  # identical beams at the start: only the first one may expand
    seqs = torch.zeros(nb, 0, dtype=torch.long, device=model.device)
    hyps: list[tuple[float, torch.Tensor, bool]] = []  # (score, codes without stop, ended by stop)

    def add_hyp(score: float, seq: torch.Tensor, gen_len: int, ended: bool):
        score = score / (gen_len ** cfg.length_penalty)
        if len(hyps) < nb or score > min(h[0] for h in hyps):
            hyps.append((score, seq, ended))
            if len(hyps) > nb:
                hyps.remove(min(hyps, key=lambda h: h[0]))

    pos, done = 0, False
    for step in range(max_new):
        logits = _last_logits(model, x, cache, pos)
        pos += x.shape[1]
        scores = _apply_repetition_penalty(logits.log_softmax(-1), seen, cfg.repetition_penalty)
        if step < cfg.min_new_tokens:
            scores[:, stop] = float("-inf")
        # after log_softmax, so the surviving candidates keep the reference's scores
        scores = scores.masked_fill(unspeakable, float("-inf"))
        if cfg.do_sample:
            scores = _warp(scores, cfg, min_keep=2)
        flat = (scores + beam_scores[:, None]).view(-1)
        if cfg.do_sample:
            idx = torch.multinomial(flat.softmax(-1), 2 * nb, generator=generator)
            top, order = flat[idx].sort(descending=True)
            idx = idx[order]
        else:
            top, idx = flat.topk(2 * nb)
        new_scores, new_beams, new_toks = [], [], []
        for rank, (sc, i) in enumerate(zip(top.tolist(), idx.tolist())):
            beam, tok = divmod(i, vocab)
            if tok == stop:
                if rank < nb:
                    add_hyp(sc, seqs[beam], step + 1, True)
            else:
                new_scores.append(sc)
                new_beams.append(beam)
                new_toks.append(tok)
            if len(new_scores) == nb:
                break
        if len(hyps) >= nb:
            best_open = float(top.max()) / ((step + 1) ** cfg.length_penalty)
            done = min(h[0] for h in hyps) >= best_open
        index = torch.tensor(new_beams, device=model.device)
        toks = torch.tensor(new_toks, device=model.device)[:, None]
        seqs = torch.cat([seqs.index_select(0, index), toks], dim=1)
        seen = seen.index_select(0, index).scatter_(1, toks, True)
        beam_scores = torch.tensor(new_scores, device=model.device)
        if done:
            break
        if cancel is not None:
            cancel()
        cache.reorder(index, pos)
        x = model.embed_mel(toks, torch.full_like(toks, step + 2))
    if not done:
        for sc, seq in zip(beam_scores.tolist(), seqs):
            add_hyp(sc, seq, seqs.shape[1], False)
    _, best, ended = max(hyps, key=lambda h: h[0])
    if ended:  # HF returns a hypothesis closed by the stop token with the stop token appended
        best = torch.cat([best, torch.tensor([stop], device=model.device)])
    return GenerationResult(best.unsqueeze(0), ended, None)
