"""English text normaliser (our own rules in place of the reference's WeTextProcessing
en grammars): cardinals, ordinals, years, decimals, money, dates, times, abbreviations.
Text front end: text.py; known differences: text.DEVIATIONS.
"""
from __future__ import annotations

import re

# a number as written in either language: 1,234.5 (digits, thousands commas, decimals)
NUMBER = r"\d+(?:,\d{3})*(?:\.\d+)?"

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
         "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ["", "thousand", "million", "billion", "trillion", "quadrillion"]
_MONTHS = ("january february march april may june july august september october november "
           "december").split()
_DIGIT_WORD = {str(i): w for i, w in enumerate(_ONES[:10])}


def _en_under_1000(n: int) -> str:
    words = []
    if n >= 100:
        words += [_ONES[n // 100], "hundred"]
        n %= 100
        if n:
            words.append("and")
    if n >= 20:
        words.append(_TENS[n // 10])
        if n % 10:
            words.append(_ONES[n % 10])
    elif n or not words:
        words.append(_ONES[n])
    return " ".join(words)


def en_cardinal(n: int) -> str:
    if n < 0:
        return "negative " + en_cardinal(-n)
    if n < 1000:
        return _en_under_1000(n)
    parts, i = [], 0
    while n and i < len(_SCALES):
        n, g = divmod(n, 1000)
        if g:
            words = _en_under_1000(g) + (" " + _SCALES[i] if _SCALES[i] else "")
            parts.append(("and " + words) if i == 0 and g < 100 else words)
        i += 1
    return " ".join(reversed(parts))


def en_digits(s: str, zero="oh") -> str:
    return " ".join(zero if c == "0" else _DIGIT_WORD[c] for c in s if c.isdigit())


def en_year(y: int) -> str:
    if y % 1000 < 10 or y >= 10000:  # 2000, 2005
        return en_cardinal(y)
    hi, lo = divmod(y, 100)
    if lo == 0:
        return en_cardinal(hi) + " hundred"
    return en_cardinal(hi) + " " + (f"oh {_ONES[lo]}" if lo < 10 else en_cardinal(lo))


_ORD_IRREGULAR = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                  "nine": "ninth", "twelve": "twelfth"}


def en_ordinal(n: int) -> str:
    words = en_cardinal(n).split()
    last = words[-1]
    if last in _ORD_IRREGULAR:
        words[-1] = _ORD_IRREGULAR[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def _en_decimal(s: str, strip_zeros=False) -> str:
    s = s.replace(",", "")
    neg = s.startswith("-")
    whole, _, frac = s.lstrip("-").partition(".")
    if strip_zeros:
        frac = frac.rstrip("0")
    out = en_cardinal(int(whole or "0")) if whole or not frac else ""
    if frac:
        out = (out + " point " if out else "point ") + en_digits(frac)
    return ("minus " if neg else "") + out


_EN_ABBREV = {"Mr.": "mister", "Mrs.": "missus", "Ms.": "miss", "Dr.": "doctor", "Prof.": "professor",
              "Mt.": "mount", "St.": "saint", "Jr.": "junior", "Sr.": "senior", "vs.": "versus",
              "etc.": "et cetera", "e.g.": "for example", "i.e.": "that is", "Co.": "company",
              "Inc.": "incorporated", "Ltd.": "limited", "No.": "number"}
_EN_CURRENCY = {"$": ("dollar", "dollars"), "€": ("euro", "euros"), "£": ("pound", "pounds"),
                "¥": ("yen", "yen")}
_MONTH_ABBR = {m[:3]: m for m in _MONTHS}
_MONTH_RE = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"


class _Swap:
    """A day-month-year match seen as a month-day-year one (groups 1 and 2 swapped)."""

    def __init__(self, m):
        self.m = m

    def group(self, i):
        return self.m.group({1: 2, 2: 1}.get(i, i))


def _spaced(text: str, start: int, end: int, words: str) -> str:
    """Surround replacement words with spaces where they touch letters or digits."""
    before = " " if start > 0 and text[start - 1].isalnum() else ""
    after = " " if end < len(text) and text[end].isalnum() else ""
    return before + words + after


def _sub(pattern, fn, text, flags=0):
    return re.sub(pattern, lambda m: _spaced(m.string, m.start(), m.end(), fn(m)), text, flags=flags)


def normalize_en(text: str) -> str:
    for abbr, word in _EN_ABBREV.items():
        text = re.sub(rf"(?<![\w.]){re.escape(abbr)}(?=\s|$)", word, text)

    def money(m):
        sym, amount, scale = m.group(1), m.group(2).replace(",", ""), m.group(3)
        one, many = _EN_CURRENCY[sym]
        words = _en_decimal(amount, strip_zeros=True)
        if scale:
            return f"{words} {scale.strip().lower()} {many}"
        return f"{words} {one if float(amount) == 1 else many}"

    text = _sub(rf"([$€£¥])\s?(-?{NUMBER})(\s(?:thousand|million|billion|trillion)\b)?", money, text,
                flags=re.IGNORECASE)
    text = _sub(rf"(-?{NUMBER})\s?%", lambda m: _en_decimal(m.group(1)) + " percent", text)

    def iso_date(m):
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if not (1 <= mo <= 12 and 1 <= d <= 31):
            return m.group(0)
        return f"the {en_ordinal(d)} of {_MONTHS[mo - 1]} {en_year(y)}"

    text = _sub(r"(?<![\d.])(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d|\.\d)", iso_date, text)

    def month_date(m, comma=","):
        month = _MONTH_ABBR[m.group(1).lower()[:3]]
        out = f"the {en_ordinal(int(m.group(2)))} of {month}"
        return out + (f"{comma} {en_year(int(m.group(3)))}" if m.group(3) else "")

    text = _sub(rf"\b(\d{{1,2}})\s{_MONTH_RE}(?:\s(\d{{4}}))?\b",
                lambda m: month_date(_Swap(m), comma=""), text, flags=re.IGNORECASE)
    text = _sub(rf"\b{_MONTH_RE}\s(\d{{1,2}})(?:st|nd|rd|th)?(?:,\s(\d{{4}}))?\b", month_date, text,
                flags=re.IGNORECASE)

    def clock(m):
        h, mi, sec, ampm = int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)
        if h > 24 or mi > 59:
            return f"{en_cardinal(h)} {en_cardinal(mi)}"
        if sec:
            out = f"{en_cardinal(h)} hours {en_cardinal(mi)} minutes and {en_cardinal(int(sec))} seconds"
        elif mi == 0:
            out = en_cardinal(h) + ("" if ampm else " o'clock")
        else:
            out = f"{en_cardinal(h)} " + (f"oh {_ONES[mi]}" if mi < 10 else en_cardinal(mi))
        if ampm:
            out += " AM" if ampm.lower().startswith("a") else " PM"
        return out

    text = _sub(r"(?<![\d.])(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s?([ap])\.?m\b\.?)?", clock, text,
                flags=re.IGNORECASE)
    text = _sub(r"(?<![\d.])(\d{1,2})\.(\d{2})()\s?([ap])\.?m\b\.?", clock, text, flags=re.IGNORECASE)
    text = _sub(r"(?<![\d.])(\d{1,2})\s?([ap])\.m\.", lambda m: en_cardinal(int(m.group(1))) +
                (" AM" if m.group(2).lower() == "a" else " PM"), text, flags=re.IGNORECASE)
    text = _sub(r"(?<![\d-])\d{3}-\d{3}-\d{4}(?:-\d+)?(?![\d-])",
                lambda m: ", ".join(en_digits(g, zero="oh") for g in m.group(0).split("-")), text)
    text = _sub(r"\b(\d+)(st|nd|rd|th)\b", lambda m: en_ordinal(int(m.group(1))), text)
    text = _sub(r"(?<![\d.,-])(\d+)-(\d+)(?!\d|\.\d|-)",
                lambda m: f"{en_cardinal(int(m.group(1)))} to {en_cardinal(int(m.group(2)))}", text)
    text = _sub(r"(?<![\d.])-?\d+\.\d+(?!\d|\.\d)", lambda m: _en_decimal(m.group(0)), text)
    text = _sub(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d])", lambda m: en_cardinal(int(m.group(0).replace(",", ""))),
                text)

    def integer(m):
        s = m.group(0)
        neg = s.startswith("-")
        s = s.lstrip("-")
        if len(s) > 15:
            return en_digits(s, zero="zero")
        n = int(s)
        if not neg and len(s) == 4 and 1000 < n < 3000 and s[0] != "0":
            return en_year(n)  # WeTextProcessing reads bare 4-digit numbers as years
        return ("negative " if neg else "") + en_cardinal(n)

    text = _sub(r"(?:(?<=\s)|^)-\d+|\d+", integer, text)
    return text
