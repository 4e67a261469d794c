"""A SentencePiece `.model` reader and BPE encoder in plain Python (no `sentencepiece` package).

Reproduces what `SentencePieceProcessor.Encode` does for a BPE model:
1. normalise: user-defined symbols pass through untouched, everything else is rewritten by the
   longest match in the precompiled charsmap (a darts-clone double-array trie, e.g. nmt_nfkc);
   leading/trailing/repeated spaces are dropped, spaces become U+2581 and a dummy prefix is added;
2. split into characters (user-defined symbols stay whole and are never merged);
3. merge the adjacent pair whose merged piece has the highest score (ties: leftmost), repeatedly;
4. unknown pieces become bytes (byte_fallback) or `unk`, with consecutive unknowns merged into one.
The `.model` file is a protobuf `ModelProto`; we decode the few fields we need by hand
(core/protobuf_wire.py).
"""
from __future__ import annotations

import heapq
import os
import struct

from ...core.protobuf_wire import WireError
from ...core.protobuf_wire import fields as _fields

__all__ = ["SentencePieceBPE", "SpmError"]

PIECE_SPACE = "\u2581"

# ModelProto.SentencePiece.Type
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
_MAX_TRIE_RESULTS = 32  # Normalizer::kMaxTrieResultsSize


class SpmError(ValueError):
    """The file is not a SentencePiece model we can use."""


# ---------------------------------------------------------------------------------------------
# darts-clone double array (the precompiled normalisation charsmap)
# ---------------------------------------------------------------------------------------------
class _CharsMap:
    def __init__(self, blob: bytes):
        if len(blob) <= 4:
            raise SpmError("precompiled charsmap is broken")
        (trie_size,) = struct.unpack("<I", blob[:4])
        if trie_size >= len(blob) or trie_size % 4:
            raise SpmError("precompiled charsmap trie size is invalid")
        self.units = struct.unpack(f"<{trie_size // 4}I", blob[4:4 + trie_size])
        self.normalized = blob[4 + trie_size:]

    def longest_prefix(self, key: bytes, start: int) -> tuple[int, bytes] | None:
        """Longest charsmap entry that prefixes key[start:]: (byte length, replacement bytes)."""
        units = self.units
        unit = units[0]
        node = (unit >> 10) << ((unit & 512) >> 6)
        best = None
        found = 0
        for i in range(start, len(key)):
            c = key[i]
            node ^= c
            if node >= len(units):
                break
            unit = units[node]
            if (unit & 0x800000FF) != c:  # label mismatch
                break
            node ^= (unit >> 10) << ((unit & 512) >> 6)
            if (unit >> 8) & 1:  # has_leaf
                if found < _MAX_TRIE_RESULTS:
                    value = units[node] & 0x7FFFFFFF
                    best = (i + 1 - start, value)
                found += 1
        if best is None:
            return None
        length, value = best
        end = self.normalized.find(b"\0", value)
        return length, self.normalized[value:end if end >= 0 else len(self.normalized)]


# ---------------------------------------------------------------------------------------------
class SentencePieceBPE:
    """Encoder for a SentencePiece BPE model (`model_type=bpe`)."""

    def __init__(self, path):
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise SpmError(f"tokenizer model not found: {path}")
        with open(path, "rb") as f:
            data = f.read()
        try:
            self._parse(data)
        except (SpmError, WireError) as exc:
            raise SpmError(f"{path}: not a usable SentencePiece model ({exc})") from exc
        except (IndexError, struct.error, UnicodeDecodeError) as exc:
            raise SpmError(f"{path}: not a SentencePiece model ({type(exc).__name__}: {exc})") from exc
        self.path = path

    # -- model file --------------------------------------------------------------------------
    def _parse(self, data: bytes) -> None:
        pieces, trainer, normalizer = [], b"", None
        for field, wire, value in _fields(data):
            if field == 1 and wire == 2:
                piece, score, ptype = "", 0.0, NORMAL
                for f2, w2, v2 in _fields(value):
                    if f2 == 1:
                        piece = v2.decode("utf-8")
                    elif f2 == 2 and w2 == 5:
                        score = struct.unpack("<f", v2)[0]
                    elif f2 == 3:
                        ptype = v2
                pieces.append((piece, score, ptype))
            elif field == 2 and wire == 2:
                trainer = value
            elif field == 3 and wire == 2:
                normalizer = value
        if not pieces:
            raise SpmError("no pieces")

        model_type, self.byte_fallback, self.treat_ws_as_suffix = 1, False, False
        for f, _, v in _fields(trainer):
            if f == 3:
                model_type = v
            elif f == 35:
                self.byte_fallback = bool(v)
            elif f == 24:
                self.treat_ws_as_suffix = bool(v)
        if model_type != 2:
            raise SpmError(f"model_type is {model_type}, only BPE (2) is supported")

        self.add_dummy_prefix = self.remove_extra_whitespaces = self.escape_whitespaces = True
        self.charsmap = None
        for f, _, v in _fields(normalizer or b""):
            if f == 2 and v:
                self.charsmap = _CharsMap(v)
            elif f == 3:
                self.add_dummy_prefix = bool(v)
            elif f == 4:
                self.remove_extra_whitespaces = bool(v)
            elif f == 5:
                self.escape_whitespaces = bool(v)

        self.pieces = [p for p, _, _ in pieces]
        self.scores = [s for _, s, _ in pieces]
        self.types = [t for _, _, t in pieces]
        self._normal: dict[str, int] = {}    # NORMAL / USER_DEFINED / UNUSED pieces
        self._reserved: dict[str, int] = {}  # CONTROL / UNKNOWN / BYTE pieces
        self.unk_id = -1
        user_defined = []
        for i, (p, _, t) in enumerate(pieces):
            if not p:
                raise SpmError("empty piece")
            table = self._normal if t in (NORMAL, USER_DEFINED, UNUSED) else self._reserved
            if p in table:
                raise SpmError(f"piece {p!r} defined twice")
            table[p] = i
            if t == USER_DEFINED:
                user_defined.append(p)
            if t == UNKNOWN:
                self.unk_id = i
        if self.unk_id < 0:
            raise SpmError("no <unk> piece")
        # user-defined symbols are matched longest-first at every position
        self._user_defined = {}
        for p in user_defined:
            self._user_defined.setdefault(p[0], []).append(p)
        for lst in self._user_defined.values():
            lst.sort(key=len, reverse=True)

    # -- vocabulary --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.pieces)

    def piece_to_id(self, piece: str) -> int:
        i = self._reserved.get(piece)
        if i is None:
            i = self._normal.get(piece, self.unk_id)
        return i

    # -- normaliser --------------------------------------------------------------------------
    def _user_match(self, text: str, pos: int) -> int:
        for p in self._user_defined.get(text[pos], ()):
            if text.startswith(p, pos):
                return len(p)
        return 0

    def _normalize_prefix(self, text: str, pos: int) -> tuple[str, int]:
        """(replacement, number of characters consumed) at text[pos:]."""
        n = self._user_match(text, pos)
        if n:
            return text[pos:pos + n], n
        if self.charsmap is not None:
            # the trie works on UTF-8 bytes; a few characters suffice for the longest entry
            chunk = text[pos:pos + 8]
            raw = chunk.encode("utf-8", "surrogatepass")
            hit = self.charsmap.longest_prefix(raw, 0)
            if hit is not None:
                length, repl = hit
                consumed = len(raw[:length].decode("utf-8", "ignore"))
                if consumed and len(chunk[:consumed].encode("utf-8", "surrogatepass")) == length:
                    return repl.decode("utf-8", "replace"), consumed
        ch = text[pos]
        if 0xD800 <= ord(ch) <= 0xDFFF:  # not valid UTF-8
            return "\ufffd", 1
        return ch, 1

    def normalize(self, text: str) -> str:
        pos, n = 0, len(text)
        if self.remove_extra_whitespaces:
            while pos < n:
                rep, used = self._normalize_prefix(text, pos)
                if rep != " ":
                    break
                pos += used
        if pos >= n:
            return ""
        space = PIECE_SPACE if self.escape_whitespaces else " "
        out = []
        if not self.treat_ws_as_suffix and self.add_dummy_prefix:
            out.append(space)
        prev_space = self.remove_extra_whitespaces
        while pos < n:
            rep, used = self._normalize_prefix(text, pos)
            if prev_space:
                rep = rep.lstrip(" ")
            if rep:
                out.append(rep.replace(" ", space) if self.escape_whitespaces else rep)
                prev_space = rep.endswith(" ")
            pos += used
            if not self.remove_extra_whitespaces:
                prev_space = False
        s = "".join(out)
        if self.remove_extra_whitespaces:
            while s.endswith(space):
                s = s[:-len(space)]
        if self.treat_ws_as_suffix and self.add_dummy_prefix:
            s += space
        return s

    # -- BPE ---------------------------------------------------------------------------------
    def _bpe(self, normalized: str) -> list[tuple[str, int]]:
        symbols, frozen = [], []
        pos = 0
        while pos < len(normalized):
            n = self._user_match(normalized, pos)
            frozen.append(bool(n))
            n = n or 1
            symbols.append(normalized[pos:pos + n])
            pos += n
        count = len(symbols)
        if not count:
            return []
        prev = list(range(-1, count - 1))
        nxt = list(range(1, count + 1))
        nxt[-1] = -1
        heap: list = []
        rev_merge: dict[str, tuple[str, str]] = {}

        def add_pair(left: int, right: int) -> None:
            if left < 0 or right < 0 or frozen[left] or frozen[right]:
                return
            merged = symbols[left] + symbols[right]
            pid = self._normal.get(merged)
            if pid is None:
                return
            # heapq is a min-heap: highest score first, then leftmost
            heapq.heappush(heap, (-self.scores[pid], left, right, len(merged)))
            if self.types[pid] == UNUSED:
                rev_merge[merged] = (symbols[left], symbols[right])

        for i in range(1, count):
            add_pair(i - 1, i)
        while heap:
            _, left, right, size = heapq.heappop(heap)
            if not symbols[left] or not symbols[right] or len(symbols[left]) + len(symbols[right]) != size:
                continue  # stale pair
            symbols[left] += symbols[right]
            symbols[right] = ""
            nxt[left] = nxt[right]
            if nxt[right] >= 0:
                prev[nxt[right]] = left
            add_pair(prev[left], left)
            add_pair(left, nxt[left])

        out: list[tuple[str, int]] = []

        def resegment(piece: str) -> None:
            pid = self.piece_to_id(piece)
            if self.types[pid] != UNUSED or piece not in rev_merge:
                out.append((piece, pid))
                return
            a, b = rev_merge[piece]
            resegment(a)
            resegment(b)

        i = 0
        while i != -1:
            resegment(symbols[i])
            i = nxt[i]
        return out

    def encode(self, text: str) -> list[tuple[str, int]]:
        """Text -> [(piece, id)] exactly like `SentencePieceProcessor.Encode(text, out_type=...)`."""
        result: list[tuple[str, int]] = []
        prev_unk = False
        for piece, pid in self._bpe(self.normalize(text)):
            is_unk = self.types[pid] == UNKNOWN
            if is_unk and self.byte_fallback:
                for b in piece.encode("utf-8"):
                    byte_piece = f"<0x{b:02X}>"
                    result.append((byte_piece, self.piece_to_id(byte_piece)))
            elif is_unk and prev_unk:
                last, last_id = result[-1]
                result[-1] = (last + piece, last_id)
            else:
                result.append((piece, pid))
            prev_unk = is_unk
        return result

    def encode_as_pieces(self, text: str) -> list[str]:
        return [p for p, _ in self.encode(text)]

    def encode_as_ids(self, text: str) -> list[int]:
        return [i for _, i in self.encode(text)]
