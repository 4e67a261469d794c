"""Writing-system detection (pure Python, from Unicode names)."""
import pytest

from unitaf_blender.engines.embedded.writing import (
    HAN,
    JAPANESE,
    LATIN,
    char_script,
    dominant_script,
    letter_counts,
    reads,
)


def test_char_script():
    assert [char_script(c) for c in "aé你カひ한я,1 🎉"] == \
        [LATIN, LATIN, HAN, "Kana", "Kana", "Hangul", "Cyrillic", None, None, None, None]
    assert char_script("ｶ") == "Kana" and char_script("々") == HAN   # half-width, iteration mark
    assert char_script("ि") == "Devanagari"                           # vowel sign (a mark)


def test_majority_rule():
    assert dominant_script("Hello world") is None
    assert dominant_script("...!?") is None
    assert dominant_script("你好").key == HAN
    assert dominant_script("Hello 你好") is None                        # 5 Latin vs 2 Han letters
    assert dominant_script("Привет wow").key == "Cyrillic"             # 6 of 9 letters
    assert dominant_script("abc абв 你好") is None                      # no majority


def test_japanese_is_kana_with_its_kanji():
    assert letter_counts("今日はいい天気ですね") == {JAPANESE: 10}
    assert letter_counts("今日はいい天気ですね", merge_japanese=False) == {HAN: 4, "Kana": 6}
    assert dominant_script("東京大学へ").key == JAPANESE                 # 1 kana for 4 kanji
    assert dominant_script("我们的アニメ很好看很好看很好看很好看很好看").key == HAN


@pytest.mark.parametrize("voice, key, ok", [
    ("cmn", HAN, True), ("yue", HAN, True), ("ja", HAN, False), ("en-us+f3", HAN, False),
    ("ja", JAPANESE, True), ("ru", "Cyrillic", True), ("uk", "Cyrillic", True),
    ("en-us", LATIN, True), ("ru", LATIN, True), ("fa", "Arabic", True), ("de", "Greek", False),
])
def test_reads(voice, key, ok):
    assert reads(voice, key) is ok
