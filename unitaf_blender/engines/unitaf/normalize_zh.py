"""Chinese text normaliser (our own rules in place of the reference's WeTextProcessing
zh grammars): numbers, money, percentages, dates, times, phone numbers, ranges, units.
Text front end: text.py; known differences: text.DEVIATIONS.
"""
from __future__ import annotations

import re

from .normalize_en import NUMBER

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
    text = re.sub(rf"(-?{NUMBER})\s?%", lambda m: "百分之" + _zh_decimal(m.group(1).replace(",", "")), text)
    text = re.sub(r"(?<![\d/])(\d+)\s?/\s?(\d+)(?![\d/])",
                  lambda m: f"{_zh_number(m.group(2))}分之{_zh_number(m.group(1))}", text)
    for sym, word in _ZH_CURRENCY:
        text = re.sub(rf"{re.escape(sym)}\s?({NUMBER})", lambda m, w=word: _zh_decimal(m.group(1).replace(",", "")) + w,
                      text)
    text = re.sub(rf"({NUMBER})\s?km/h", lambda m: "每小时" + _zh_decimal(m.group(1).replace(",", "")) + "公里", text)
    for sym, word in _ZH_UNITS:
        text = re.sub(rf"({NUMBER})\s?{re.escape(sym)}(?![A-Za-z])",
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
