"""hibari's phoneme alphabet (misaki, Kokoro's vocabulary) -> espeak mnemonics.

The embedded face reads espeak mnemonics (visemes.PHONEME_VISEMES), so a hibari take's
timeline is written in them too: one alphabet in every embedded Performance, the viseme
table unchanged. misaki is IPA plus capitals for diphthongs (A = eɪ, I = aɪ, W = aʊ,
Y = ɔɪ, O = oʊ, Q = British əʊ), T for the American flap and ᵊ for a reduced schwa.

Stress marks (ˈ ˌ) are not phonemes: their span and stress go to the next vowel, written
espeak-style ("'aI"). Modifiers (length ː, aspiration ʰ, palatalisation ʲ, nasal ̃) lengthen
the previous phoneme. Punctuation is a
pause ("_"). Spaces are handled by the caller (word boundaries). Anything else in the
model's vocabulary (foreign IPA) maps to the nearest English sound.
"""

PAUSE = "_"
SPACE = " "
PRIMARY, SECONDARY = "ˈ", "ˌ"
MODIFIERS = frozenset("ːʰʲ\u0303")
PUNCTUATION = frozenset(';:,.!?—…"()“”')

MISAKI_TO_ESPEAK = {
    # consonants
    "b": "b", "d": "d", "f": "f", "h": "h", "j": "j", "k": "k", "l": "l", "m": "m", "n": "n",
    "p": "p", "s": "s", "t": "t", "v": "v", "w": "w", "z": "z", "ɡ": "g", "g": "g", "ŋ": "N",
    "ɹ": "r", "r": "r", "ʃ": "S", "ʒ": "Z", "ð": "D", "θ": "T", "ʤ": "dZ", "ʧ": "tS",
    "T": "t#", "ɾ": "t#", "ʔ": "?", "x": "x", "ç": "C", "ɲ": "n", "ɳ": "n", "ɴ": "N",
    "ʦ": "ts", "ʣ": "dz", "ʨ": "tS", "ʥ": "dZ", "ɕ": "S", "ʂ": "S", "ʐ": "Z", "ʝ": "j",
    "ɟ": "dZ", "c": "k", "q": "k", "ɣ": "g", "χ": "x", "ʁ": "r", "ɻ": "r", "ɽ": "r",
    "ʎ": "l", "β": "v", "ɸ": "f", "ʋ": "v", "ɰ": "w", "ɥ": "j", "ʈ": "t", "ɖ": "d",
    # vowels
    "ə": "@", "ᵊ": "@", "i": "i:", "u": "u:", "ɑ": "A:", "ɔ": "O:", "ɛ": "E", "ɜ": "3:",
    "ɪ": "I", "ʊ": "U", "ʌ": "V", "æ": "a", "a": "a", "ɒ": "0", "ɚ": "3", "ᵻ": "I2",
    "e": "e", "o": "o", "y": "y", "ø": "Y", "œ": "Y", "ɐ": "a#", "ɨ": "I2", "ɯ": "u:",
    "ɤ": "o", "ᵝ": "w", "S": "S", "ꭧ": "r",
    # diphthongs
    "A": "eI", "I": "aI", "W": "aU", "Y": "OI", "O": "oU", "Q": "oU",
}

_VOWELS = frozenset("əᵊiuɑɔɛɜɪʊʌæaɒɚᵻeoyøœɐɨɯɤAIWYOQ")


def is_vowel(ch: str) -> bool:
    return ch in _VOWELS


def espeak_label(ch: str, stress: int = 0) -> str:
    """One misaki phoneme -> an espeak mnemonic; stress 1 primary / 2 secondary marks a
    vowel ("'aI", ",aI"). Unknown symbols read as a neutral consonant."""
    label = MISAKI_TO_ESPEAK.get(ch, "d")
    if stress and is_vowel(ch):
        return ("'" if stress == 1 else ",") + label
    return label
