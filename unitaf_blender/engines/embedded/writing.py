"""Which writing system a script is in, and which espeak-ng languages can read it.

espeak-ng reads a letter outside its language's alphabet by name, in English: Chinese text
with the 'en-us' voice comes out as "Chinese letter" over and over, Cyrillic as letter
names. So the engine looks at the text first (pure Python, from Unicode character names)
and either picks a language that reads it or refuses with the language to use.

Rule (documented for users): only letters count (category L or M: punctuation, digits,
spaces, emoji and tags are ignored). The text's writing system is the one with MORE THAN
HALF of its letters; with no such majority, or a Latin majority, nothing is decided (a
few foreign letters in English text are spoken as espeak can, and noted). Japanese is kana
plus the kanji around it: when the kana are at least a quarter as many as the Han
characters, the Han characters count as Japanese (Chinese text never contains kana).
"""
import unicodedata
from collections import Counter
from dataclasses import dataclass

LATIN = "Latin"
HAN = "Han"
JAPANESE = "Japanese"


@dataclass(frozen=True)
class Script:
    key: str          # "Han", "Cyrillic", ...
    label: str        # for messages: "Chinese characters", "Cyrillic script"
    language: str     # the espeak-ng language picked for it ("" = none reads it)
    readers: tuple    # espeak-ng language prefixes (id before the first "-") that read it


_SCRIPTS = {s.key: s for s in (
    Script(HAN, "Chinese characters", "cmn", ("cmn", "yue", "hak")),
    # espeak's Japanese reads kana only: kanji come out as "Chinese letter" (measured).
    Script(JAPANESE, "Japanese (kana)", "ja", ("ja",)),
    Script("Hangul", "Korean Hangul", "ko", ("ko",)),
    Script("Cyrillic", "Cyrillic script", "ru",
           ("ru", "uk", "be", "bg", "mk", "sr", "kk", "ky", "tt", "ba", "cv", "nog")),
    Script("Greek", "Greek script", "el", ("el", "grc")),
    Script("Arabic", "Arabic script", "ar", ("ar", "fa", "ur", "sd", "ug")),
    Script("Hebrew", "Hebrew script", "he", ("he",)),
    Script("Devanagari", "Devanagari script", "hi", ("hi", "mr", "ne", "kok")),
    Script("Bengali", "Bengali script", "bn", ("bn", "as", "bpy")),
    Script("Thai", "Thai script", "th", ("th",)),
    Script("Georgian", "Georgian script", "ka", ("ka",)),
    Script("Armenian", "Armenian script", "hy", ("hy", "hyw")),
    Script("Tamil", "Tamil script", "ta", ("ta",)),
    Script("Telugu", "Telugu script", "te", ("te",)),
    Script("Gujarati", "Gujarati script", "gu", ("gu",)),
    Script("Gurmukhi", "Gurmukhi script", "pa", ("pa",)),
    Script("Kannada", "Kannada script", "kn", ("kn",)),
    Script("Malayalam", "Malayalam script", "ml", ("ml",)),
    Script("Sinhala", "Sinhala script", "si", ("si",)),
    Script("Oriya", "Oriya script", "or", ("or",)),
    Script("Myanmar", "Myanmar script", "my", ("my", "shn")),
    Script("Ethiopic", "Ethiopic script", "am", ("am", "ti")),
    Script("Cherokee", "Cherokee script", "chr", ("chr",)),
)}


def letter_name(key) -> str:
    """Adjective for letters of a script: "Chinese", "Japanese", "Cyrillic"."""
    return "Chinese" if key == HAN else key


def script(key) -> Script:
    """The Script for a key; scripts espeak has no language for get language ""."""
    return _SCRIPTS.get(key) or Script(key, f"{key.title()} script", "", ())


def char_script(ch):
    """Writing system of one letter from its Unicode name ("CYRILLIC SMALL LETTER A" ->
    "Cyrillic"), or None for what is not a letter/mark (punctuation, digits, emoji)."""
    if unicodedata.category(ch)[0] not in "LM":
        return None
    words = unicodedata.name(ch, "").split()
    if not words:
        return "Unknown"
    head = words[:2]
    if "LATIN" in head:
        return LATIN
    if words[0] == "CJK" or words[0] == "IDEOGRAPHIC":
        return HAN
    if "HIRAGANA" in head or "KATAKANA" in head or words[0] == "KATAKANA-HIRAGANA":
        return "Kana"
    if "HANGUL" in head:
        return "Hangul"
    if words[0] in ("COMBINING", "MODIFIER"):
        return None   # shared by several scripts
    return words[0].title()


def letter_counts(text, merge_japanese=True) -> Counter:
    """Letters per writing system; kana and the kanji around them merged as Japanese
    unless merge_japanese is False (then kana count as "Kana" and kanji as Han)."""
    counts = Counter(s for s in map(char_script, text) if s is not None)
    if not merge_japanese:
        return counts
    kana = counts.pop("Kana", 0)
    if kana:
        han = counts[HAN]
        if kana * 4 >= han:
            counts.pop(HAN, None)
        counts[JAPANESE] = kana + (han if kana * 4 >= han else 0)
    return +counts


def dominant_script(text):
    """The Script of more than half of the text's letters, or None (Latin, or no majority)."""
    counts = letter_counts(text)
    total = sum(counts.values())
    if not total:
        return None
    key, n = counts.most_common(1)[0]
    if key == LATIN or 2 * n <= total:
        return None
    return script(key)


def reads(language, key) -> bool:
    """Whether the espeak-ng language/voice id (e.g. "cmn", "en-us+f3") reads script `key`.
    Every voice reads Latin (espeak switches to English for Latin words)."""
    if key == LATIN:
        return True
    prefix = language.split("+")[0].split("-")[0].lower()
    return prefix in script(key).readers
