"""Qwen2/Qwen3 byte-level BPE tokenizer read from the model's `tokenizer.json`, in pure Python.

Why our own and not the `tokenizers` package: the neural runtime installs torch and nothing else
heavy; `tokenizers` is a compiled wheel per platform and Python version that Blender's bundled
Python would need on top, only for the optional emotion-from-text feature. The Qwen pipeline is
small and fully described by tokenizer.json: split out the added tokens (`<|im_start|>`, `</think>`,
... matched leftmost-longest on the raw text), NFC, the Qwen2 pre-tokenizer regex, GPT-2's
byte-to-unicode map, and rank-ordered BPE merges. Speed is no concern: a prompt is ~50 tokens.
As with spm.py (our SentencePiece reader), parity with the library is proved by the fixture in
tests/unitaf/fixtures/text_emotion (3000 random strings: pieces, ids and decoded text).

Python's `re` has no \\p{L} / \\p{N}: the pattern below uses explicit classes built from
unicodedata categories (L* and N*). `\\s` is spelled out as Unicode White_Space, which is what
the Rust regex engine (Oniguruma) uses; Python's `\\s` also accepts U+001C..U+001F. Both differ
from the library only for characters whose category changed after Python's Unicode version.
No torch here.
"""
from __future__ import annotations

import json
import os
import re
import unicodedata
from functools import lru_cache

__all__ = ["ByteLevelBPE", "TokenizerError", "bytes_to_unicode", "pre_tokenize"]


class TokenizerError(ValueError):
    """tokenizer.json is missing, unreadable or not a byte-level BPE of the Qwen kind."""


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map (printable Latin-1 bytes map to
    themselves, the other 68 to U+0100 onwards)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    out, extra = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return out


_WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def _category_class(prefix: str) -> str:
    """Regex class body of every code point whose general category starts with `prefix`."""
    ranges, start, prev = [], None, None
    for cp in range(0x110000):
        if unicodedata.category(chr(cp)).startswith(prefix):
            if start is None:
                start = cp
            prev = cp
        elif start is not None:
            ranges.append((start, prev))
            start = None
    if start is not None:
        ranges.append((start, prev))
    return "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)


@lru_cache(maxsize=1)
def _qwen_pattern() -> re.Pattern:
    """The Qwen2 pre-tokenizer regex, with the classes spelled out (built once, ~0.5 s):
    (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*
    |\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"""
    L, N, S = _category_class("L"), _category_class("N"), _WHITE_SPACE
    # case-insensitive as in the library: 's also matches 'ſ (long s folds to s in both engines)
    contractions = "(?i:'s|'t|'re|'ve|'m|'ll|'d)"
    return re.compile(
        f"{contractions}|[^\\r\\n{L}{N}]?[{L}]+|[{N}]| ?[^{S}{L}{N}]+[\\r\\n]*|[{S}]*[\\r\\n]+"
        f"|[{S}]+(?![^{S}])|[{S}]+")


def pre_tokenize(text: str) -> list[str]:
    """The pieces the Qwen2 Split pre-tokenizer makes of (already normalized) text. Every
    character lands in exactly one piece (the last alternative takes any whitespace)."""
    return _qwen_pattern().findall(text)


class ByteLevelBPE:
    def __init__(self, vocab: dict, merges: list, added: list):
        """vocab: token -> id; merges: [(a, b)] in rank order; added: [(content, id, special)]."""
        self.vocab = vocab
        self.ranks = {pair: i for i, pair in enumerate(merges)}
        self.id_to_token = {i: t for t, i in vocab.items()}
        self.added = {content: i for content, i, _ in added}
        self.special_ids = {i for _, i, special in added if special}
        for content, i, _ in added:
            self.id_to_token[i] = content
        # leftmost-longest, as the library's Aho-Corasick: longer alternatives first
        ordered = sorted(self.added, key=len, reverse=True)
        self._added_re = re.compile("|".join(re.escape(t) for t in ordered)) if ordered else None
        self._byte_enc = bytes_to_unicode()
        self._byte_dec = {c: b for b, c in self._byte_enc.items()}
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def from_file(cls, path) -> "ByteLevelBPE":
        path = os.fspath(path)
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError) as exc:
            raise TokenizerError(f"{path}: cannot read tokenizer ({exc})") from exc
        model = data.get("model") or {}
        if model.get("type") != "BPE" or not isinstance(model.get("vocab"), dict):
            raise TokenizerError(f"{path}: not a BPE tokenizer.json (model type {model.get('type')!r})")
        pre = json.dumps(data.get("pre_tokenizer"))
        if "ByteLevel" not in pre:
            raise TokenizerError(f"{path}: not a byte-level tokenizer (pre_tokenizer {pre[:80]})")
        merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model.get("merges", [])]
        added = [(t["content"], int(t["id"]), bool(t.get("special"))) for t in data.get("added_tokens", [])]
        return cls(model["vocab"], merges, added)

    # -- encoding ------------------------------------------------------------------------

    def token_to_id(self, token: str) -> int:
        if token in self.added:
            return self.added[token]
        try:
            return self.vocab[token]
        except KeyError:
            raise TokenizerError(f"token {token!r} is not in the vocabulary") from None

    def _bpe(self, piece: str) -> list[int]:
        """Byte-level piece -> ids by repeatedly merging the lowest-ranked adjacent pair."""
        hit = self._cache.get(piece)
        if hit is not None:
            return hit
        parts = list(piece)
        while len(parts) > 1:
            best, best_rank = None, None
            for i in range(len(parts) - 1):
                rank = self.ranks.get((parts[i], parts[i + 1]))
                if rank is not None and (best_rank is None or rank < best_rank):
                    best, best_rank = i, rank
            if best is None:
                break
            pair = (parts[best], parts[best + 1])
            merged, i = [], 0
            while i < len(parts):   # merge every occurrence of the pair, left to right
                if i < len(parts) - 1 and (parts[i], parts[i + 1]) == pair:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        ids = [self.vocab[p] for p in parts if p in self.vocab]
        if len(self._cache) < 100_000:
            self._cache[piece] = ids
        return ids

    def _encode_plain(self, text: str) -> list[int]:
        ids = []
        for piece in pre_tokenize(unicodedata.normalize("NFC", text)):
            ids.extend(self._bpe("".join(self._byte_enc[b] for b in piece.encode("utf-8"))))
        return ids

    def encode(self, text: str) -> list[int]:
        """Text (added tokens written literally are recognised, as the library does) -> ids."""
        if self._added_re is None:
            return self._encode_plain(text)
        ids, pos = [], 0
        for m in self._added_re.finditer(text):
            if m.start() > pos:
                ids.extend(self._encode_plain(text[pos:m.start()]))
            ids.append(self.added[m.group()])
            pos = m.end()
        if pos < len(text):
            ids.extend(self._encode_plain(text[pos:]))
        return ids

    # -- decoding ------------------------------------------------------------------------

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        """Ids -> text; byte sequences that are not valid UTF-8 become U+FFFD, as the library's
        lossy decode. Added-token text goes through the same byte map (it is ASCII)."""
        out = bytearray()
        for i in ids:
            i = int(i)
            if skip_special_tokens and i in self.special_ids:
                continue
            token = self.id_to_token.get(i)
            if token is None:
                continue     # ids past the vocabulary (padded embedding rows) have no text
            for ch in token:
                b = self._byte_dec.get(ch)
                if b is None:
                    out.extend(ch.encode("utf-8"))
                else:
                    out.append(b)
        return out.decode("utf-8", errors="replace")
