"""Chat prompts rendered from a model folder's own Jinja chat template, the way transformers'
`apply_chat_template` renders them, so the text-emotion prompt is exactly the reference's.

transformers compiles the template in Jinja's immutable sandbox with `trim_blocks` and
`lstrip_blocks` and the loop-control extension, replaces the `tojson` filter by plain
`json.dumps` (no HTML escaping, `ensure_ascii=False` unless asked), adds the globals
`raise_exception` (a template error) and `strftime_now`, and renders with `messages`, `tools`
and `documents` (None here), `add_generation_prompt`, the tokenizer's special tokens
(`bos_token`, `eos_token`, ... from tokenizer_config.json) and the caller's extra variables
(`enable_thinking=False`). The template comes from `chat_template.jinja` when the folder has
one, else from tokenizer_config.json's `chat_template`.

Jinja2 is imported only when a template is rendered: it comes with the neural runtime (a
dependency of torch, and pinned in the runtime lock), which this feature needs anyway.
"""
from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Optional

__all__ = ["ChatTemplate", "TemplateError", "load_chat_template", "special_tokens"]

_SPECIAL_KEYS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")


class TemplateError(ValueError):
    """A chat template that cannot be read, compiled or rendered."""


def _token_text(value) -> Optional[str]:
    """A special token as tokenizer_config.json stores it: a string, or {"content": ...}."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def special_tokens(tokenizer_config: Optional[dict]) -> dict:
    """The template variables transformers adds from the tokenizer's special tokens map: each
    special token that is set, and the additional special tokens as a list of strings."""
    cfg = tokenizer_config or {}
    out = {key: _token_text(cfg.get(key)) for key in _SPECIAL_KEYS}
    out = {key: value for key, value in out.items() if value is not None}
    extra = [t for t in (_token_text(v) for v in cfg.get("additional_special_tokens") or ()) if t is not None]
    if extra:
        out["additional_special_tokens"] = extra
    return out


class ChatTemplate:
    """A compiled chat template plus the special tokens it is rendered with."""

    def __init__(self, source: str, tokens: Optional[dict] = None, origin: str = "template"):
        self.source = source
        self.tokens = dict(tokens or {})
        self.origin = origin
        self._compiled = _compile(source, origin)

    def render(self, messages, add_generation_prompt: bool = True, **variables) -> str:
        """The rendered prompt text (not tokenized), as `apply_chat_template(..., tokenize=False)`."""
        import jinja2

        context = {**self.tokens, **variables}
        try:
            return self._compiled.render(messages=[dict(m) for m in messages], tools=None, documents=None,
                                         add_generation_prompt=add_generation_prompt, **context)
        except jinja2.TemplateError as exc:
            raise TemplateError(f"{self.origin}: the chat template failed to render ({exc})") from exc


def _compile(source: str, origin: str):
    try:
        import jinja2
        import jinja2.ext
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError as exc:
        raise TemplateError(f"{origin}: rendering the chat template needs the 'jinja2' package, which comes with "
                            "the neural runtime ('Install neural runtime')") from exc

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    try:
        return env.from_string(source)
    except jinja2.TemplateError as exc:
        raise TemplateError(f"{origin}: not a valid Jinja chat template ({exc})") from exc


def _read_json(path: Optional[str]) -> Optional[dict]:
    if not path or not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise TemplateError(f"{path}: cannot read the tokenizer config ({exc})") from exc
    return data if isinstance(data, dict) else None


def _config_template(config: Optional[dict]) -> Optional[str]:
    """tokenizer_config.json's `chat_template`: a string, or named templates (the "default" one)."""
    value = (config or {}).get("chat_template")
    if isinstance(value, list):
        value = next((t.get("template") for t in value if isinstance(t, dict) and t.get("name") == "default"), None)
    return value if isinstance(value, str) else None


def load_chat_template(template_path: Optional[str], tokenizer_config_path: Optional[str]) -> Optional[ChatTemplate]:
    """The folder's template, as transformers picks it: `chat_template.jinja` first, then the
    tokenizer config's `chat_template`; None when neither is there (the caller falls back)."""
    config = _read_json(tokenizer_config_path)
    tokens = special_tokens(config)
    if template_path and os.path.isfile(template_path):
        try:
            with open(template_path, encoding="utf-8") as f:
                source = f.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise TemplateError(f"{template_path}: cannot read the chat template ({exc})") from exc
        return ChatTemplate(source, tokens, origin=os.path.basename(template_path))
    source = _config_template(config)
    if source is not None:
        return ChatTemplate(source, tokens, origin=os.path.basename(tokenizer_config_path))
    return None
