"""Emotion from free text: IndexTTS2's Qwen3-0.6B fine-tune (`qwen0.6bemo4-merge`, catalogue
feature "emotion-text") answers a chat prompt with a JSON dict of 8 Chinese emotion keys, which is
parsed into the 8-value emotion vector (core.performance.EMOTIONS order).

Prompt (the reference's QwenEmotion): messages system "文本情感分类" and user = the text, rendered
by `apply_chat_template(..., add_generation_prompt=True, enable_thinking=False)` from the model
folder's own `chat_template.jinja` (a custom 550 B template; chat_template.py renders it as
transformers does, with tokenizer_config.json's special tokens). Only when the folder has no
template (a cache or model folder from before it was catalogued) the stock Qwen3 rendering is
used, and `TextEmotion.prompt_note` says so:
    <|im_start|>system\n文本情感分类<|im_end|>\n<|im_start|>user\n{text}<|im_end|>\n
    <|im_start|>assistant\n<think>\n\n</think>\n\n
The reply after the last `</think>` is decoded without special tokens and parsed by
`parse_emotion_answer` (torch-free, so the core of the feature is testable anywhere).

Decoding reads generation_config.json as HF does. The real file is 117 B: too small for stock
Qwen3's sampling block (do_sample, T 0.6, top-k 20, top-p 0.95 take >= 140 B with the eos id and
version), so the reference most likely decodes greedily. Auto emotion always decodes greedily
(`greedy=True`: the same script gives the same emotions), and fast: the answer's keys and
punctuation are guessed (drafting.LookupDrafter: a JSON template, then answers already seen) and
checked many tokens per forward pass, which gives exactly greedy's tokens. New tokens are capped at
MAX_NEW_TOKENS instead of the reference's 32768: the answer is one short JSON object (~70
tokens for all 8 keys with thinking off), so 256 leaves ample room while a model that never
emits <|im_end|> costs seconds, not minutes.
"""
from __future__ import annotations

import json
import math
import os
import re
from collections import OrderedDict
from typing import Optional

import numpy as np

from ...core.performance import EMOTIONS

__all__ = ["TextEmotion", "parse_emotion_answer", "emotion_prompt", "emotion_messages", "SYSTEM_PROMPT",
           "MAX_NEW_TOKENS", "QWEN_EMOTION_FILES", "QWEN_TEMPLATE_FILES"]

SYSTEM_PROMPT = "文本情感分类"
MAX_NEW_TOKENS = 256
CN_KEYS = ("高兴", "愤怒", "悲伤", "恐惧", "反感", "低落", "惊讶", "自然")   # EMOTIONS order
_EN_TO_CN = dict(zip(EMOTIONS, CN_KEYS))
# The model cannot tell 悲伤 (sad) from 低落 (melancholic): these words in the input swap them.
MELANCHOLIC_WORDS = ("低落", "melancholy", "melancholic", "depression", "depressed", "gloomy")
MIN_SCORE, MAX_SCORE = 0.0, 1.2
_PAIR = re.compile(r'([^\s":.,]+?)"?\s*:\s*([\d.]+)')   # `key : number`, the reference's fallback
# catalogue id -> file name inside qwen0.6bemo4-merge/
QWEN_EMOTION_FILES = {"qwen_emo.config": "config.json", "qwen_emo.generation_config": "generation_config.json",
                      "qwen_emo.model": "model.safetensors", "qwen_emo.tokenizer": "tokenizer.json"}
# optional: the prompt is rendered from these when present (else the stock Qwen3 rendering)
QWEN_TEMPLATE_FILES = {"qwen_emo.chat_template": "chat_template.jinja",
                       "qwen_emo.tokenizer_config": "tokenizer_config.json"}
STOCK_PROMPT_NOTE = ("the text-emotion model folder has no chat_template.jinja (nor a chat template in "
                     "tokenizer_config.json): its prompt uses the stock Qwen3 rendering, which may differ from the "
                     "reference's; `models download --feature emotion-text` fetches the template")


def emotion_messages(text: str) -> list:
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text}]


def emotion_prompt(text: str, template=None) -> str:
    """The reference's chat prompt for `text`: rendered from `template` (a chat_template.ChatTemplate)
    with add_generation_prompt=True, enable_thinking=False; without one, the stock Qwen3 rendering."""
    if template is not None:
        return template.render(emotion_messages(text), add_generation_prompt=True, enable_thinking=False)
    return (f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\n{text}<|im_end|>\n"
            "<|im_start|>assistant\n<think>\n\n</think>\n\n")


def _number(value) -> Optional[float]:
    """A score as float, or None when it is not a number (such values count as absent)."""
    if isinstance(value, str):
        value = value.strip()
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _label(value) -> Optional[str]:
    """'高兴' / 'happy' (any case) -> the Chinese key, else None."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if value in CN_KEYS:
        return value
    return _EN_TO_CN.get(value.lower())


def parse_emotion_answer(answer: str, text: str) -> dict:
    """The model's reply -> {emotion: score} in EMOTIONS order, as the reference parses it:
    a JSON dict with Chinese keys, else every `key : number` pair (later pairs win); the 悲伤/低落
    swap when `text` contains a melancholic word; each score clamped to [0, 1.2], missing -> 0;
    nothing above 0 -> calm = 1.0.

    Where the reference would raise, we degrade instead: a JSON value that is not a number (or a
    regex number like "1.2.3") counts as absent; a bare JSON string naming one emotion means that
    emotion at 1.0 (as later upstream IndexTTS does); other non-dict JSON falls back to the regex.
    """
    try:
        content = json.loads(answer)
    except ValueError:
        content = None
    if isinstance(content, str) and _label(content):
        content = {_label(content): 1.0}
    if not isinstance(content, dict):
        content = {}
        for m in _PAIR.finditer(answer):
            v = _number(m.group(2))
            if v is not None:
                content[m.group(1)] = v
    if any(word in text.lower() for word in MELANCHOLIC_WORDS):
        content["悲伤"], content["低落"] = content.get("低落", 0.0), content.get("悲伤", 0.0)
    scores = {}
    for en, cn in zip(EMOTIONS, CN_KEYS):
        v = _number(content.get(cn, 0.0))
        scores[en] = max(MIN_SCORE, min(MAX_SCORE, 0.0 if v is None else v))
    if all(v <= 0.0 for v in scores.values()):
        scores["calm"] = 1.0
    return scores


def _emotion_paths(store_or_dir) -> dict:
    """{catalogue id: path}: from a ModelStore (missing files raise ModelsMissing naming them with
    sizes) or from a folder holding the files themselves; optional files absent -> None."""
    if hasattr(store_or_dir, "require") and hasattr(store_or_dir, "path"):
        store = store_or_dir
        store.require(("emotion-text",))
        paths = {sid: store.path(sid) for sid in QWEN_EMOTION_FILES}
        return {**paths, **{sid: store.optional_path(sid) for sid in QWEN_TEMPLATE_FILES}}
    folder = os.fspath(store_or_dir)
    paths = {sid: os.path.join(folder, name) for sid, name in QWEN_EMOTION_FILES.items()}
    for sid, name in QWEN_TEMPLATE_FILES.items():
        path = os.path.join(folder, name)
        paths[sid] = path if os.path.isfile(path) else None
    return paths


class TextEmotion:
    """Text -> 8 emotion scores with the Qwen emotion model. Answers are cached per text (LRU)."""

    def __init__(self, model, tokenizer, settings, max_new_tokens: int = MAX_NEW_TOKENS,
                 seed: Optional[int] = None, cache_size: int = 256, chat_template=None):
        import torch

        from .drafting import LookupDrafter

        self.model = model
        self.tokenizer = tokenizer
        self.settings = settings
        self.chat_template = chat_template
        # where the prompt comes from; the stock fallback is worth telling the user
        self.prompt_note = (f"prompt rendered from {chat_template.origin}" if chat_template is not None
                            else STOCK_PROMPT_NOTE)
        self.max_new_tokens = int(max_new_tokens)
        self.think_end_id = tokenizer.token_to_id("</think>")
        self.generator = None
        if seed is not None:
            self.generator = torch.Generator(device=model.device)
            self.generator.manual_seed(int(seed))
        self._answers: OrderedDict = OrderedDict()
        self._cache_size = cache_size
        # the expected shape of an answer (all keys, scores 0.0), spaced or compact, ending with the
        # end-of-turn token; once the model has answered, its own answers guide the guesses
        end = list(settings.eos_token_ids[:1])
        templates = [tokenizer.encode(json.dumps(dict.fromkeys(CN_KEYS, 0.0), ensure_ascii=False, separators=sep)) + end
                     for sep in ((", ", ": "), (",", ":"))]
        digits = [ids[0] for ids in (tokenizer.encode(str(d)) for d in range(10)) if len(ids) == 1]
        self.drafter = LookupDrafter(templates, wildcards=digits)

    @classmethod
    def load(cls, store_or_dir, device="cpu", dtype=None, *, greedy: bool = False, seed: Optional[int] = None,
             max_new_tokens: int = MAX_NEW_TOKENS) -> "TextEmotion":
        """store_or_dir: a ModelStore (files of the "emotion-text" feature) or a folder with
        config.json, generation_config.json (optional in a folder), model.safetensors and tokenizer.json,
        and optionally chat_template.jinja / tokenizer_config.json (the prompt's template).
        dtype None: fp32 (the reference runs fp16 on GPU; on CPU fp32 is the exact path)."""
        from . import qwen3
        from .chat_template import load_chat_template
        from .qwen3_generate import read_generation_config
        from .qwen_bpe import ByteLevelBPE

        paths = _emotion_paths(store_or_dir)
        config = paths["qwen_emo.config"]
        model = qwen3.load_qwen3(os.path.dirname(config), device=device, dtype=dtype,
                                 weights=paths["qwen_emo.model"])
        with open(config, encoding="utf-8") as f:
            config_eos = json.load(f).get("eos_token_id")
        settings = read_generation_config(paths["qwen_emo.generation_config"], config_eos)
        if greedy:
            settings.do_sample = False
        tokenizer = ByteLevelBPE.from_file(paths["qwen_emo.tokenizer"])
        template = load_chat_template(paths["qwen_emo.chat_template"], paths["qwen_emo.tokenizer_config"])
        return cls(model, tokenizer, settings, max_new_tokens=max_new_tokens, seed=seed, chat_template=template)

    def prompt_ids(self, text: str) -> list[int]:
        return self.tokenizer.encode(emotion_prompt(text, self.chat_template))

    def reply_ids(self, text: str) -> list[int]:
        """The generated ids (the prompt's empty think block is in the prompt, not here)."""
        from .qwen3_generate import generate_ids

        if not self.settings.do_sample:
            return self._greedy([self.prompt_ids(text)])[0]
        return generate_ids(self.model, self.prompt_ids(text), self.max_new_tokens, self.settings,
                            generator=self.generator)

    def _greedy(self, prompts) -> list[list[int]]:
        """Greedy replies of several prompts in one batch, their keys guessed from earlier answers."""
        from .qwen3_generate import generate_ids_batch

        replies = generate_ids_batch(self.model, prompts, self.max_new_tokens, self.settings.eos_token_ids,
                                     drafter=self.drafter)
        for ids in replies:
            self.drafter.learn(ids)
        return replies

    def answer_from_ids(self, ids) -> str:
        """Decoded text after the last `</think>` (all of it when there is none)."""
        ids = list(ids)
        if self.think_end_id in ids:
            ids = ids[len(ids) - ids[::-1].index(self.think_end_id):]
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def answer(self, text: str) -> str:
        hit = self._answers.get(text)
        if hit is not None:
            self._answers.move_to_end(text)
            return hit
        result = self.answer_from_ids(self.reply_ids(text))
        self._answers[text] = result
        while len(self._answers) > self._cache_size:
            self._answers.popitem(last=False)
        return result

    def prefetch(self, texts) -> None:
        """Answer every uncached text at once: greedy settings decode them as one batch with
        guessed keys (qwen3_generate.generate_ids_batch: fewer passes, each reading the weights once);
        sampling answers one by one."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._answers))
        if not todo:
            return
        if self.settings.do_sample:
            for text in todo:
                self.answer(text)
            return
        replies = self._greedy([self.prompt_ids(t) for t in todo])
        for text, ids in zip(todo, replies):
            self._answers[text] = self.answer_from_ids(ids)
        while len(self._answers) > self._cache_size:
            self._answers.popitem(last=False)

    def scores(self, text: str) -> dict:
        return parse_emotion_answer(self.answer(text), text)

    def vector(self, text: str) -> np.ndarray:
        """float32 [8] in core.performance.EMOTIONS order."""
        s = self.scores(text)
        return np.array([s[e] for e in EMOTIONS], dtype=np.float32)
