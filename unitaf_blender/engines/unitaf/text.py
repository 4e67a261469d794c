"""IndexTTS2 text front end: normalise -> split CJK -> uppercase -> BPE ids -> <=120-token segments.

Mirrors the reference `TextNormalizer` / `TextTokenizer` / `split_segments`. The reference
normalises with WeTextProcessing FST grammars, which we do not ship; `normalize_zh` /
`normalize_en` are our own rule-based normalisers that reproduce the parity fixture cases and
the common cases of those grammars (numbers, money, percentages, dates, times, phone numbers,
ordinals, ranges, a few abbreviations). Known differences are listed in DEVIATIONS.

Inline emotion tags ("[happy] Hi! [sad:0.6] Bye.") are resolved first by
`core.emotion.parse_script`; every segment carries the emotion of the span it came from.
No torch here: this module runs anywhere.
"""
from __future__ import annotations

import re
import unicodedata
import warnings
from dataclasses import dataclass

import numpy as np

from ...core.emotion import parse_script
from .spm import SentencePieceBPE

__all__ = ["TextFrontend", "TextSegment", "normalize", "normalize_zh", "normalize_en",
           "tokenize_by_cjk", "split_segments", "MAX_SCRIPT_CHARS", "DEVIATIONS"]

MAX_SCRIPT_CHARS = 20_000  # ~25 min of speech; longer scripts should be split by the caller
MAX_SEGMENT_TOKENS = 120   # reference `max_text_tokens_per_segment`

DEVIATIONS = """\
Text normalisation differs from the reference's WeTextProcessing grammars in these known ways
(all 21 parity cases match exactly):
- zh: no traditional->simplified conversion; no 幺 readings (110, 尾号...); sports scores
  written N-M are read as a range (到), not 比; only a short list of measure units.
- en: 1000 is read "one thousand" (WeTextProcessing says "thousand"); no Roman numerals, US
  states, e-mail/URL reading or telephone numbers with a leading +; a short abbreviation list.
- split_segments: a quote after a sentence end is kept with that sentence only (the reference
  also repeats it at the start of the next segment).
"""

# ---------------------------------------------------------------------------------------------
# Chinese / English decision and the reference's protections (pinyin, names, contractions)
# ---------------------------------------------------------------------------------------------
_PINYIN = (r"(?<![a-z])((?:[bpmfdtnlgkhjqxzcsryw]|[zcs]h)?(?:[aeiouüv]|[ae]i|u[aio]|ao|ou|i[aue]|"
           r"[uüv]e|[uvü]ang?|uai|[aeiuv]n|[aeio]ng|ia[no]|i[ao]ng)|ng|er)([1-5])")
_PINYIN_RE = re.compile(_PINYIN, re.IGNORECASE)
_NAME_RE = re.compile(r"[\u4e00-\u9fff]+(?:[-·—][\u4e00-\u9fff]+){1,2}")
_CONTRACTION_RE = re.compile(r"(what|where|who|which|how|t?here|it|s?he|that|this)'s", re.IGNORECASE)
_EMAIL_RE = re.compile(r"^[a-zA-Z0-9]+@[a-zA-Z0-9]+\.[a-zA-Z]+$")

_PUNCT_MAP = {"：": ",", "；": ",", ";": ",", "，": ",", "。": ".", "！": "!", "？": "?", "\n": " ",
              "·": "-", "、": ",", "...": "…", ",,,": "…", "，，，": "…", "……": "…",
              "“": "'", "”": "'", '"': "'", "‘": "'", "’": "'", "（": "'", "）": "'", "(": "'",
              ")": "'", "《": "'", "》": "'", "【": "'", "】": "'", "[": "'", "]": "'", "—": "-",
              "～": "-", "~": "-", "「": "'", "」": "'", ":": ","}
_ZH_PUNCT_MAP = {"$": ".", **_PUNCT_MAP}


def _map_re(table):
    # alternation in insertion order, like the reference (so "..." wins over "." etc. by order)
    return re.compile("|".join(re.escape(k) for k in table))


_PUNCT_RE, _ZH_PUNCT_RE = _map_re(_PUNCT_MAP), _map_re(_ZH_PUNCT_MAP)


def use_chinese(text: str) -> bool:
    if re.search(r"[\u4e00-\u9fff]", text) or not re.search(r"[a-zA-Z]", text) or _EMAIL_RE.match(text):
        return True
    return bool(_PINYIN_RE.search(text))


def _correct_pinyin(p: str) -> str:
    """j/q/x + u/ü -> v and uppercase (only for j/q/x syllables, as the reference)."""
    if p[0] not in "jqxJQX":
        return p
    return re.sub(r"([jqx])[uü](n|e|an)*(\d)", r"\g<1>v\g<2>\g<3>", p, flags=re.IGNORECASE).upper()


def _protect(text, pattern, tag):
    found = list(dict.fromkeys(m.group(0) for m in pattern.finditer(text)))
    for i, s in enumerate(found):
        text = text.replace(s, f"<{tag}_{chr(ord('a') + i)}>") if i < 26 else text
    return text, found[:26]


def _restore(text, found, tag, fix=lambda s: s):
    for i, s in enumerate(found):
        text = text.replace(f"<{tag}_{chr(ord('a') + i)}>", fix(s))
    return text


def normalize(text: str) -> str:
    """The reference `TextNormalizer.normalize` with our own zh/en normalisers."""
    if use_chinese(text):
        text = _CONTRACTION_RE.sub(r"\1 is", text)
        text, pinyin = _protect(text.rstrip(), _PINYIN_RE, "pinyin")
        text, names = _protect(text, _NAME_RE, "n")
        out = normalize_zh(text)
        out = _restore(out, names, "n")
        out = _restore(out, pinyin, "pinyin", _correct_pinyin)
        return _ZH_PUNCT_RE.sub(lambda m: _ZH_PUNCT_MAP[m.group(0)], out)
    text = _CONTRACTION_RE.sub(r"\1 is", text)
    out = normalize_en(text)
    return _PUNCT_RE.sub(lambda m: _PUNCT_MAP[m.group(0)], out)


# ---------------------------------------------------------------------------------------------
# Chinese numbers
# ---------------------------------------------------------------------------------------------
_ZH_DIGITS = "零一二三四五六七八九"
_ZH_CLASSIFIERS = "个位本只件条张名种块岁次天年周把台辆架间对双首项部家颗片句"


def zh_digits(s: str) -> str:
    return "".join(_ZH_DIGITS[int(c)] for c in s if c.isdigit())


def _zh_group(n: int, lead: bool) -> str:
    """0 < n < 10000 -> reading; `lead`: first group of the number (10-19 read 十X)."""
    out, zero = [], False
    for unit, value in (("千", 1000), ("百", 100), ("十", 10), ("", 1)):
        d = (n // value) % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        if unit == "十" and d == 1 and lead and not out:
            out.append("十")
        else:
            out.append(("两" if d == 2 and unit in ("千", "百") else _ZH_DIGITS[d]) + unit)
    return "".join(out)


def zh_cardinal(n: int) -> str:
    if n == 0:
        return "零"
    if n < 0:
        return "负" + zh_cardinal(-n)
    groups = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    out, pending_zero = [], False
    for i in range(len(groups) - 1, -1, -1):
        g = groups[i]
        unit = ["", "万", "亿", "万亿"][i] if i < 4 else "亿" * (i // 2)
        if g == 0:
            pending_zero = bool(out)
            continue
        if out and (pending_zero or g < 1000):
            out.append("零")
        pending_zero = False
        text = _zh_group(g, lead=not out)
        if unit and text == "二":
            text = "两"
        out.append(text + unit)
    return "".join(out)


def _zh_number(s: str) -> str:
    """Integer string -> reading; leading zeros or very long numbers are read digit by digit."""
    s = s.replace(",", "")
    if (len(s) > 1 and s[0] == "0") or len(s) > 12:
        return zh_digits(s)
    return zh_cardinal(int(s))


def _zh_decimal(s: str) -> str:
    neg = s.startswith("-")
    s = s.lstrip("-")
    whole, _, frac = s.partition(".")
    out = _zh_number(whole or "0") + ("点" + zh_digits(frac) if frac else "")
    return ("负" if neg else "") + out


_ZH_UNITS = [("m/s", "米每秒"), ("km²", "平方千米"), ("m²", "平方米"), ("cm²", "平方厘米"),
             ("°C", "摄氏度"), ("℃", "摄氏度"), ("kg", "千克"), ("km", "公里"), ("cm", "厘米"), ("mm", "毫米"),
             ("ms", "毫秒"), ("ml", "毫升"), ("mg", "毫克"), ("kb", "千字节"), ("GB", "G"), ("g", "克"),
             ("m", "米"), ("s", "秒"), ("h", "小时")]
_ZH_CURRENCY = [("CNY", "人民币"), ("RMB", "人民币"), ("HKD", "港元"), ("USD", "美元"), ("A$", "澳元"),
                ("HK$", "港元"), ("US$", "美元"), ("$", "美元"), ("¥", "元"), ("￥", "元"), ("€", "欧元"),
                ("£", "英镑")]
_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"


def normalize_zh(text: str) -> str:
    # full-width ASCII forms -> half width (letters, digits and symbols)
    text = "".join(chr(ord(c) - 0xFEE0) if "\uff01" <= c <= "\uff5e" else c for c in text)
    text = text.replace("\u3000", " ")

    def date_ymd(m):
        y, mo, d = m.group(1), int(m.group(2)), int(m.group(3))
        if not (1 <= mo <= 12 and 1 <= d <= 31):
            return m.group(0)
        return f"{zh_digits(y)}年{zh_cardinal(mo)}月{zh_cardinal(d)}日"

    text = re.sub(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)", date_ymd, text)
    text = re.sub(r"(?<!\d)(\d{4})[/.](\d{1,2})(?!\d|\.\d)",
                  lambda m: f"{zh_digits(m.group(1))}年{zh_cardinal(int(m.group(2)))}月"
                  if 1 <= int(m.group(2)) <= 12 else m.group(0), text)
    text = re.sub(r"(\d{4})(?=年)", lambda m: zh_digits(m.group(1)), text)
    text = re.sub(r"(\d{2})(?=后(?!\d))", lambda m: zh_digits(m.group(1)), text)  # 90后

    def clock(m):
        h, mi, sec, ampm = int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)
        if h > 24 or mi > 59 or (sec and int(sec) > 59):
            return f"{zh_cardinal(h)}比{zh_cardinal(mi)}"  # a score, e.g. 78:96
        out = ("两" if h == 2 else zh_cardinal(h)) + "点"
        if mi or sec:
            out += (("零" + _ZH_DIGITS[mi]) if mi < 10 else zh_cardinal(mi)) + "分"
        if sec:
            out += zh_cardinal(int(sec)) + "秒"
        if ampm:
            out = ("上午" if ampm.lower().startswith("a") else "下午") + out
        return out

    text = re.sub(r"(?<!\d)(\d{1,2})\s?[:：]\s?(\d{2})(?:[:：](\d{2}))?(?:\s?([ap])\.?m\.?)?", clock, text,
                  flags=re.IGNORECASE)
    # phone numbers / codes: digit by digit, hyphens dropped
    text = re.sub(r"(?<![\d.])\d{3,4}(?:-\d{3,4}){1,2}(?!\d|\.\d)", lambda m: zh_digits(m.group(0)), text)
    text = re.sub(r"(?<!\d)1[3-9]\d{9}(?!\d)", lambda m: zh_digits(m.group(0)), text)
    text = re.sub(r"(?<![\d.])(\d+(?:\.\d+){2,})(?!\d|\.\d)",  # 127.0.0.1
                  lambda m: "点".join(zh_digits(p) for p in m.group(1).split(".")), text)
    text = re.sub(rf"(-?{_NUM})\s?%", lambda m: "百分之" + _zh_decimal(m.group(1).replace(",", "")), text)
    text = re.sub(r"(?<![\d/])(\d+)\s?/\s?(\d+)(?![\d/])",
                  lambda m: f"{_zh_number(m.group(2))}分之{_zh_number(m.group(1))}", text)
    for sym, word in _ZH_CURRENCY:
        text = re.sub(rf"{re.escape(sym)}\s?({_NUM})", lambda m, w=word: _zh_decimal(m.group(1).replace(",", "")) + w,
                      text)
    text = re.sub(rf"({_NUM})\s?km/h", lambda m: "每小时" + _zh_decimal(m.group(1).replace(",", "")) + "公里", text)
    for sym, word in _ZH_UNITS:
        text = re.sub(rf"({_NUM})\s?{re.escape(sym)}(?![A-Za-z])",
                      lambda m, w=word: _zh_decimal(m.group(1).replace(",", "")) + w, text)
    text = text.replace("±", "正负")
    text = re.sub(r"(?<=\d)\s?\+\s?(?=\d)", "加", text)
    text = re.sub(r"(?<=\d)\s?=\s?(?=[\d负])", "等于", text)
    text = re.sub(r"(?<=\d)\s?<=\s?(?=\d)|\s?≤\s?", "小于等于", text)
    text = re.sub(r"(?<=\d)\s?>=\s?(?=\d)|\s?≥\s?", "大于等于", text)
    text = re.sub(r"(?<=\d)-(?=\d)", "到", text)
    text = re.sub(r"(?<![A-Za-z0-9.])-(?=\d)", "负", text)
    # "2" before a classifier is 两 (两个, 两年后), elsewhere 二
    text = re.sub(rf"(?<![\d.])2(?=[{_ZH_CLASSIFIERS}])", "两", text)
    text = re.sub(r"\d+(?:,\d{3})+(?:\.\d+)?|\d+\.\d+|\d+", lambda m: _zh_decimal(m.group(0).replace(",", "")), text)
    return text


# ---------------------------------------------------------------------------------------------
# English numbers
# ---------------------------------------------------------------------------------------------
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

    text = _sub(rf"([$€£¥])\s?(-?{_NUM})(\s(?:thousand|million|billion|trillion)\b)?", money, text,
                flags=re.IGNORECASE)
    text = _sub(rf"(-?{_NUM})\s?%", lambda m: _en_decimal(m.group(1)) + " percent", text)

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


# ---------------------------------------------------------------------------------------------
# Tokenisation and segmentation
# ---------------------------------------------------------------------------------------------
_CJK_SPLIT = re.compile(r"([\u1100-\u11ff\u2e80-\ua4cf\ua840-\uD7AF\uF900-\uFAFF\uFE30-\uFE4F"
                        r"\uFF65-\uFFDC\U00020000-\U0002FFFF])")


def tokenize_by_cjk(line: str) -> str:
    """Every CJK character becomes its own word; everything else is uppercased."""
    return " ".join(w.strip().upper() for w in _CJK_SPLIT.split(line.strip()) if w.strip())


_SENTENCE_END = (".", "!", "?", "▁.", "▁?", "▁...")
_COMMAS = (",", "▁,")


def _split_by(tokens, enders, max_len, quick):
    segments, cur = [], []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        cur.append(tok)
        if not any(c in enders for c in _COMMAS) and any(c in cur for c in _COMMAS):
            segments.extend(_split_by(cur, _COMMAS, max_len, quick))
            cur = []
        elif "-" not in enders and "-" in cur:
            segments.extend(_split_by(cur, ("-",), max_len, quick))
            cur = []
        elif len(cur) <= max_len:
            if tok in enders and len(cur) > 2:
                if i + 1 < len(tokens) and tokens[i + 1] in ("'", "▁'"):
                    cur.append(tokens[i + 1])  # a closing quote stays with its sentence
                    i += 1
                segments.append(cur)
                cur = []
        else:
            warnings.warn(f"a text segment of {len(cur)} tokens has no punctuation to split at; "
                          f"cutting it every {max_len} tokens", RuntimeWarning, stacklevel=3)
            segments.extend(cur[j:j + max_len] for j in range(0, len(cur), max_len))
            cur = []
        i += 1
    if cur:
        segments.append(cur)
    merged, total = [], 0
    for seg in segments:
        total += len(seg)
        if not seg:
            continue
        if merged and len(merged[-1]) + len(seg) <= max_len and total > quick:
            merged[-1] = merged[-1] + seg
        elif merged and len(merged[-1]) + len(seg) <= max_len / 2:
            merged[-1] = merged[-1] + seg
        else:
            merged.append(seg)
    return merged


def split_segments(tokens: list[str], max_tokens: int = MAX_SEGMENT_TOKENS,
                   quick_streaming_tokens: int = 0) -> list[list[str]]:
    """Reference `split_segments`: close at sentence ends, commas and '-', hard-cut runs longer
    than `max_tokens`, then greedily merge neighbours while they fit in `max_tokens`."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    return _split_by(list(tokens), _SENTENCE_END, max_tokens, quick_streaming_tokens) if tokens else []


@dataclass
class TextSegment:
    ids: list          # BPE ids (no start/stop), at most max_tokens long
    tokens: list       # the matching pieces
    emotion: np.ndarray  # float32 [8], from the script's inline tags / default emotion
    text: str          # the script span this segment came from (tags removed)
    char_start: int    # span position in the script
    char_end: int


class TextFrontend:
    """Text -> BPE ids with the official `bpe.model` (our own SentencePiece reader)."""

    def __init__(self, bpe_model):
        self.sp = SentencePieceBPE(bpe_model)

    @property
    def unk_id(self) -> int:
        return self.sp.unk_id

    def normalize(self, text: str) -> str:
        return normalize(text)

    def tokenize(self, text: str) -> list[str]:
        """Reference `TextTokenizer.tokenize`: pieces; a 1-character text is not normalised."""
        return [p for p, _ in self._encode(text)]

    def encode(self, text: str) -> list[int]:
        return [i for _, i in self._encode(text)]

    def _encode(self, text: str):
        if not text:
            return []
        if len(text.strip()) != 1:
            text = tokenize_by_cjk(normalize(text))
        return self.sp.encode(text)

    def convert_tokens_to_ids(self, tokens) -> list[int]:
        return [self.sp.piece_to_id(t) for t in tokens]

    def segments(self, text: str, max_tokens: int = MAX_SEGMENT_TOKENS) -> list[list[int]]:
        """Plain text (no tags) -> id segments, as the reference feeds the GPT."""
        return [self.convert_tokens_to_ids(s) for s in split_segments(self.tokenize(text), max_tokens)]

    def script_segments(self, script: str, default_emotion=None,
                        max_tokens: int = MAX_SEGMENT_TOKENS) -> list[TextSegment]:
        """A user script with inline emotion tags -> segments, each with its span's emotion.

        Raises ValueError for: non-text, an empty script or one with only tags/punctuation, a
        script longer than MAX_SCRIPT_CHARS, or text the model cannot read (mostly letters of
        scripts other than Latin and CJK, which the tokenizer maps to <unk>)."""
        if not isinstance(script, str):
            raise ValueError(f"script must be text, got {type(script).__name__}")
        if not script.strip():
            raise ValueError("the script is empty: type something to say")
        if len(script) > MAX_SCRIPT_CHARS:
            raise ValueError(f"the script has {len(script):,} characters; the limit is {MAX_SCRIPT_CHARS:,} "
                             "per generation. Split it into several shorter clips.")
        out = []
        for span in parse_script(script, default_emotion):
            _check_readable(span.text)
            for seg in split_segments(self.tokenize(span.text), max_tokens):
                ids = self.convert_tokens_to_ids(seg)
                out.append(TextSegment(ids, seg, span.emotion, span.text, span.char_start, span.char_end))
        if not out:
            raise ValueError("the script has no speakable text")
        return out


def _readable(ch: str) -> bool:
    if ch.isdigit() or _CJK_SPLIT.fullmatch(ch):
        return True
    name = unicodedata.name(ch, "")
    return name.startswith("LATIN") or name.startswith("FULLWIDTH LATIN")


def _check_readable(text: str) -> None:
    letters = [c for c in text if c.isalnum()]
    bad = [c for c in letters if not _readable(c)]
    if letters and len(bad) * 2 >= len(letters):
        sample = "".join(dict.fromkeys(bad))[:10]
        raise ValueError(f"the text {text[:40]!r} is mostly in a script the IndexTTS2 voice cannot read "
                         f"(e.g. {sample!r}); it speaks Chinese and English only")
