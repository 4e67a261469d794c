"""Guessing the next tokens of a structured answer, for speculative greedy decoding
(qwen3_generate.generate_ids_batch with a drafter): the model checks a whole guess in one forward
pass and keeps the part that equals its own greedy choice, so a good guess saves passes and a bad
one changes nothing but time.

The text-emotion model answers with one JSON object whose keys and punctuation repeat from answer
to answer; only the numbers change. `LookupDrafter` guesses by "prompt lookup": it finds the
longest tail of the answer so far inside known answers (a template, then answers already seen) and
proposes what followed there. Number tokens match any number token, so after `"高兴": 0.8` it
still knows that `, "愤怒": ` comes next. Torch-free.
"""
from __future__ import annotations

from collections import deque
from typing import Iterable, Sequence

__all__ = ["LookupDrafter"]

_WILD = -1      # stands for any "wildcard" token (digits) while matching


class LookupDrafter:
    """draft(ids) -> guessed continuation of `ids` (possibly empty).

    templates: token sequences that answers usually follow (never forgotten);
    wildcards: token ids that match each other (the digits of a score);
    remember: how many seen answers to keep beside the templates (newest are tried first);
    longest: the longest tail that is matched (longer tails place the guess better)."""

    def __init__(self, templates: Iterable[Sequence[int]] = (), wildcards: Iterable[int] = (),
                 remember: int = 8, longest: int = 8):
        self.wildcards = frozenset(int(t) for t in wildcards)
        self.templates = [self._entry(t) for t in templates if len(t)]
        self.seen: deque = deque(maxlen=max(0, int(remember)))
        self.longest = max(1, int(longest))

    def _entry(self, ids):
        ids = [int(t) for t in ids]
        return ids, [_WILD if t in self.wildcards else t for t in ids]

    def learn(self, ids: Sequence[int]) -> None:
        """Remember a finished answer (one already remembered moves to the front)."""
        entry = self._entry(ids)
        if not entry[0]:
            return
        if entry in self.seen:
            self.seen.remove(entry)
        self.seen.appendleft(entry)

    def _sources(self):
        yield from self.seen
        yield from self.templates

    def draft(self, ids: Sequence[int], k: int) -> list[int]:
        """Up to k tokens guessed to follow `ids` (the answer so far, without the prompt)."""
        if k <= 0:
            return []
        if not ids:                           # the start of an answer: how answers start
            for tokens, _ in self._sources():
                return tokens[:k]
            return []
        tail = [_WILD if int(t) in self.wildcards else int(t) for t in ids[-self.longest:]]
        for n in range(len(tail), 0, -1):
            want = tail[-n:]
            for tokens, keys in self._sources():
                for end in range(n, len(keys)):            # a match must leave something to propose
                    if keys[end - n:end] == want:
                        return tokens[end:end + k]
        return []
