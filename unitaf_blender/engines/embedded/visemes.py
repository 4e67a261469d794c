"""espeak-ng phoneme mnemonics -> the 15 Oculus/Meta visemes -> ARKit mouth weights.

The visemes and their ARKit shapes are engine-neutral and live in core/visemes.py (the
target solver inverts them); the phoneme table and the coarticulation dominance are this
engine's own. Both tables here are plain data so they can be tuned without touching the
coarticulation code in face.py. Diphthongs and r-coloured vowels are split into a sequence of visemes that
share the phoneme's span (aI -> aa + ih), because the mouth really travels between two
shapes inside one espeak phoneme.
"""
import re

import numpy as np

from ...core.channels import ARKIT_52
from ...core.visemes import VISEME_INDEX, VISEME_SHAPES, VISEMES, VOWEL_VISEMES, viseme_signatures

__all__ = ["VISEMES", "VISEME_INDEX", "VISEME_SHAPES", "VOWEL_VISEMES", "PHONEME_VISEMES", "DOMINANCE",
           "viseme_tables", "phoneme_visemes", "viseme_segments", "split_stress", "channel_class"]

# espeak ASCII mnemonic (stress marks removed) -> viseme sequence. Covers every symbol the
# six English voices emitted in research/lite-engine.md §1.6, plus common ones of other
# espeak languages (x, C, y, Y, W, ...) so non-English voices get sensible shapes too.
PHONEME_VISEMES = {
    # pauses and markers
    "_": ("sil",), "_:": ("sil",), "_!": ("sil",), "_|": ("sil",), "": ("sil",),
    # consonants
    "p": ("PP",), "b": ("PP",), "m": ("PP",), "m-": ("PP",),
    "f": ("FF",), "v": ("FF",),
    "T": ("TH",), "D": ("TH",),
    "t": ("DD",), "d": ("DD",), "t#": ("DD",), "t2": ("DD",), "t[": ("DD",), "d#": ("DD",),
    "?": ("DD",),
    "k": ("kk",), "g": ("kk",), "N": ("kk",), "h": ("kk",), "x": ("kk",), "C": ("kk",),
    "tS": ("CH",), "dZ": ("CH",), "S": ("CH",), "Z": ("CH",), "ts": ("SS",), "dz": ("SS",),
    "s": ("SS",), "z": ("SS",),
    "n": ("nn",), "n-": ("nn",), "l": ("nn",), "@L": ("nn",), "L": ("nn",), "l/": ("nn",),
    "r": ("RR",), "r-": ("RR",), "R": ("RR",), "r/": ("RR",), "3": ("RR",), "3:": ("RR",),
    "j": ("ih",), "w": ("ou",), "w#": ("ou",),
    # monophthongs
    "a": ("aa",), "a#": ("aa",), "aa": ("aa",), "A:": ("aa",), "A": ("aa",), "V": ("aa",),
    "0": ("aa",), "a:": ("aa",),
    "E": ("E",), "e": ("E",), "e:": ("E",), "@": ("E",), "@2": ("E",), "@5": ("E",), "@-": ("E",),
    "E:": ("E",),
    "i": ("ih",), "i:": ("ih",), "I": ("ih",), "I#": ("ih",), "I2": ("ih",), "y": ("ou",),
    "y:": ("ou",), "Y": ("oh",),
    "O:": ("oh",), "O2": ("oh",), "O": ("oh",), "o": ("oh",), "o:": ("oh",),
    "u:": ("ou",), "U": ("ou",), "u": ("ou",),
    # diphthongs and r-coloured vowels: one span, several mouth shapes
    "aI": ("aa", "ih"), "aI2": ("aa", "ih"), "aI3": ("aa", "ih", "RR"), "aI@": ("aa", "ih", "E"),
    "aU": ("aa", "ou"), "eI": ("E", "ih"), "oU": ("oh", "ou"), "OI": ("oh", "ih"),
    "e@": ("E", "RR"), "A@": ("aa", "RR"), "o@": ("oh", "RR"), "O@": ("oh", "RR"),
    "i@": ("ih", "E"), "i@3": ("ih", "RR"), "U@": ("ou", "RR"), "IR": ("ih", "RR"),
    "VR": ("aa", "RR"), "aU@": ("aa", "ou", "E"), "W": ("aa", "ou"),
}

# Linking marks carry no mouth shape of their own: their span goes to the previous phoneme.
TRANSPARENT = frozenset((";", "#", "||", "|"))

# How a split phoneme's span is shared: the first target is held a little longer.
_SPLIT = {1: (1.0,), 2: (0.55, 0.45), 3: (0.4, 0.35, 0.25)}

_STRESS_CHARS = "',%="
_VOWEL_LETTERS = set("aeiouAEIOUV0@3y")

# Cohen–Massaro dominance of each viseme over (lips, jaw, tongue). A high value means the
# segment imposes its shape on its neighbours; a low one means it borrows theirs (h, k and
# n take the lip shape of the next vowel). Bilabials and labiodentals dominate the lips
# (their full closure is then guaranteed by face.enforce_lip_closure, not by dominance).
DOMINANCE = {
    "sil": (1.0, 1.0, 1.0), "PP": (2.5, 2.0, 1.0), "FF": (2.0, 1.5, 1.0), "TH": (1.5, 1.5, 5.0),
    "DD": (0.6, 1.0, 2.0), "kk": (0.3, 0.8, 1.0), "CH": (2.0, 1.2, 1.0), "SS": (1.5, 2.0, 1.0),
    "nn": (0.5, 0.8, 1.0), "RR": (2.0, 0.8, 1.0), "aa": (1.0, 1.5, 0.5), "E": (1.0, 1.2, 0.5),
    "ih": (1.0, 1.0, 0.5), "oh": (1.5, 1.2, 0.5), "ou": (2.5, 1.0, 0.5),
}


# Consonant gestures are quick: their dominance falls off this much faster than a vowel's
# (vowels keep the long anticipation that gives classic anticipatory lip rounding).
CONSONANT_TIME_SCALE = 0.6


def channel_class(name: str) -> int:
    """0 lips, 1 jaw, 2 tongue: which dominance column drives a channel."""
    if name.startswith("jaw"):
        return 1
    if name.startswith("tongue"):
        return 2
    return 0


def viseme_tables():
    """(targets [15, 52], dominance [15, 52]) as arrays in VISEMES order."""
    targets = viseme_signatures()
    cls = np.array([channel_class(n) for n in ARKIT_52])
    dominance = np.stack([np.asarray(DOMINANCE[v], np.float32)[cls] for v in VISEMES])
    return targets, dominance


def split_stress(label: str):
    """("'aI") -> ("aI", 1): the bare mnemonic and 0 none / 1 primary / 2 secondary."""
    stress = 1 if "'" in label else 2 if "," in label else 0
    return label.translate({ord(c): None for c in _STRESS_CHARS}).strip(), stress


def phoneme_visemes(label: str) -> tuple:
    """The viseme sequence of one espeak mnemonic (stress marks allowed); never raises.

    Unknown symbols are read greedily as the longest known prefixes (`aI3x` -> aI3 + ...);
    whatever is still unknown becomes a half-open vowel if it looks like a vowel, else DD,
    so a new espeak voice degrades gracefully instead of crashing.
    """
    base, _ = split_stress(label)
    if base in PHONEME_VISEMES:
        return PHONEME_VISEMES[base]
    if base in TRANSPARENT or not re.search(r"[A-Za-z0-9@?]", base):
        return ()
    out, i = [], 0
    while i < len(base):
        for j in range(len(base), i, -1):
            if base[i:j] in PHONEME_VISEMES:
                out.extend(PHONEME_VISEMES[base[i:j]])
                i = j
                break
        else:
            if base[i] in _VOWEL_LETTERS:
                out.append("E")
            elif base[i].isalpha():
                out.append("DD")
            i += 1
    return tuple(out) or ("DD",)


def viseme_segments(phonemes):
    """Phoneme spans -> arrays (start, end, viseme index, stress) with diphthongs split.

    `phonemes` holds TimedLabel-like objects (start, end, label) or (start, end, label)
    tuples in seconds. Zero-length spans are dropped; transparent markers (`;`) lend their
    time to the previous phoneme.
    """
    starts, ends, ids, stresses = [], [], [], []
    for p in phonemes:
        start, end, label = (p.start, p.end, p.label) if hasattr(p, "label") else p
        start, end = float(start), float(end)
        if not (np.isfinite(start) and np.isfinite(end)) or end < start:
            raise ValueError(f"bad phoneme span {label!r}: start={start}, end={end}")
        if end - start <= 0.0:
            continue
        visemes = phoneme_visemes(str(label))
        _, stress = split_stress(str(label))
        if not visemes:                      # transparent: extend the previous segment
            if ends:
                ends[-1] = max(ends[-1], end)
            continue
        if len(visemes) == 1:
            starts.append(start)
            ends.append(end)
            ids.append(VISEME_INDEX[visemes[0]])
            stresses.append(stress if visemes[0] in VOWEL_VISEMES else 0)
            continue
        shares = _SPLIT.get(len(visemes)) or (1.0 / len(visemes),) * len(visemes)
        bounds = start + (end - start) * np.concatenate(([0.0], np.cumsum(shares)))
        bounds[-1] = end                     # no rounding gap at the end of a split phoneme
        for k, v in enumerate(visemes):
            starts.append(float(bounds[k]))
            ends.append(float(bounds[k + 1]))
            ids.append(VISEME_INDEX[v])
            stresses.append(stress if v in VOWEL_VISEMES else 0)
    return (np.asarray(starts, np.float64), np.asarray(ends, np.float64),
            np.asarray(ids, np.int64), np.asarray(stresses, np.int64))
