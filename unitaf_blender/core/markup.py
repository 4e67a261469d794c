"""What a script may contain besides words: checked before anything is spoken, so no engine
reads markup aloud ("speak, break, time ...") or spells out an escape code ("3 1 m").

* **Control characters** (ANSI colour codes, NUL, ...) are refused with their position; tab
  and line breaks are spaces.
* **SSML subset.** A script holding a tag-like `<` (a letter, `/`, `!` or `?` after it) is read
  as XML with the standard library's expat parser, so XML's rules hold: `&` is written `&amp;`
  and a literal `<` is `&lt;`. Read elements:
    <speak>                    the optional outermost element (version, xmlns, xml:lang ignored)
    <break time="2s" | "500ms" strength="none|x-weak|weak|medium|strong|x-strong"/>
                               a pause of that length (at most MAX_BREAK_S)
    <emphasis level="strong|moderate|reduced|none">   slower, higher and louder (or the reverse)
    <prosody rate=".." pitch="..">   rate: x-slow..x-fast, "80%" (a factor), "+10%"; pitch:
                               x-low..x-high, "+10%", "-2st"; both bounded (RATE_RANGE,
                               PITCH_RANGE) and nested ones multiply
  Any other element or attribute is refused with its position, never read aloud.

`read_markup(script)` -> [Run | Pause] in script order. A Run's text may still hold the
bracket tags of core.emotion (`[happy]`), which checks them. Positions are characters of the
script, counted from 0. Pure Python, no numpy.
"""
import re
import unicodedata
import xml.parsers.expat
import xml.sax.saxutils
from dataclasses import dataclass

MAX_BREAK_S = 10.0
RATE_RANGE = (0.5, 2.0)       # speaking-rate factor
PITCH_RANGE = (0.5, 2.0)      # pitch factor (an octave each way)

_MARKUP = re.compile(r"<[A-Za-z/!?]")
_ROOT = "unitaf-script"       # our wrapper: text may sit beside SSML elements
_DECLARATION = re.compile(r"\A\s*<\?xml[^>]*\?>")
_BREAK_STRENGTHS = {"none": 0.0, "x-weak": 0.1, "weak": 0.25, "medium": 0.5, "strong": 0.75, "x-strong": 1.2}
# level -> (rate, pitch, loudness) factors
_EMPHASIS = {"strong": (0.8, 1.12, 1.3), "moderate": (0.9, 1.06, 1.15), "none": (1.0, 1.0, 1.0),
             "reduced": (1.1, 0.95, 0.8)}
_RATES = {"x-slow": 0.6, "slow": 0.8, "medium": 1.0, "default": 1.0, "fast": 1.25, "x-fast": 1.5}
_PITCHES = {"x-low": 0.75, "low": 0.88, "medium": 1.0, "default": 1.0, "high": 1.15, "x-high": 1.3}
_ALLOWED = {"speak": {"version", "xml:lang"}, "break": {"time", "strength"}, "emphasis": {"level"},
            "prosody": {"rate", "pitch"}}
_CONTROL_NAMES = {0x1B: "ESC, as in an ANSI colour code", 0x00: "NUL", 0x07: "BEL", 0x08: "backspace",
                  0x7F: "DEL"}


class MarkupError(ValueError):
    """The script holds markup or characters no voice must read; the message gives the position."""


@dataclass(frozen=True)
class Voicing:
    """How a run is spoken relative to its emotion's voice (factors, 1.0 = unchanged)."""
    rate: float = 1.0
    pitch: float = 1.0
    loudness: float = 1.0

    def times(self, rate=1.0, pitch=1.0, loudness=1.0):
        return Voicing(self.rate * rate, self.pitch * pitch, self.loudness * loudness)


PLAIN = Voicing()


@dataclass
class Run:
    text: str            # text to speak; may hold bracket tags ([happy])
    start: int           # script position of its first character
    end: int             # script position after its last character
    exact: bool          # text == script[start:end] (False where XML entities were decoded)
    voicing: Voicing


@dataclass
class Pause:
    seconds: float
    at: int              # script position of the <break>


def check_characters(script):
    """MarkupError at the first control character (other than tab and line breaks)."""
    for i, ch in enumerate(script):
        if ch not in "\t\n\r" and unicodedata.category(ch) == "Cc":
            name = _CONTROL_NAMES.get(ord(ch), "a control character")
            raise MarkupError(f"control character U+{ord(ch):04X} ({name}) at character {i}: "
                              "remove it (the voice would read it or spell it out)")


def has_markup(script) -> bool:
    return bool(_MARKUP.search(script))


def without_markup(text, markup=None) -> str:
    """`text` (a script, or a piece of one) with its SSML tags removed and entities decoded,
    for code that needs the words only. `markup`: whether the script it comes from is SSML
    (a piece may hold an entity but no tag); None decides from `text` itself."""
    if not (has_markup(text) if markup is None else markup):
        return text
    text = re.sub(r"<[^>]*>", " ", text)
    return " ".join(xml.sax.saxutils.unescape(text, {"&quot;": '"', "&apos;": "'"}).split())


def read_markup(script) -> list:
    """[Run | Pause] of `script`; MarkupError naming the position of anything refused."""
    check_characters(script)
    if not has_markup(script):
        return [Run(script, 0, len(script), True, PLAIN)]
    return _SSMLReader(script).read()


class _SSMLReader:
    def __init__(self, script):
        self.script = script
        self.prefix = f"<{_ROOT}>".encode()
        # a pasted document's XML declaration is only allowed first: blank it (same length)
        body = _DECLARATION.sub(lambda m: " " * len(m.group(0)), script, count=1)
        self.data = self.prefix + body.encode("utf-8") + f"</{_ROOT}>".encode()
        # byte offset (in the script's UTF-8) where each character starts, and the end
        self.byte_starts = []
        total = 0
        for ch in script:
            self.byte_starts.append(total)
            total += len(ch.encode("utf-8"))
        self.byte_starts.append(total)
        self.events = []
        self.stack = [(None, PLAIN)]
        self.pending = None   # [decoded text, start byte] of the character data being gathered

    def position(self, byte_index) -> int:
        """Script character at a byte index of the wrapped document."""
        import bisect
        b = min(max(byte_index - len(self.prefix), 0), self.byte_starts[-1])
        return bisect.bisect_right(self.byte_starts, b) - 1

    def where(self, byte_index):
        at = self.position(byte_index)
        return "at the end of the script" if at >= len(self.script) else f"at character {at}"

    def fail(self, byte_index, message):
        raise MarkupError(f"{message} {self.where(byte_index)}")

    def read(self):
        parser = xml.parsers.expat.ParserCreate("utf-8")
        self.parser = parser
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.text
        parser.ProcessingInstructionHandler = lambda *_: self.fail(
            parser.CurrentByteIndex, "an XML processing instruction (<?...?>) is not read")
        try:
            parser.Parse(self.data, True)
        except xml.parsers.expat.ExpatError as e:
            reason = xml.parsers.expat.ErrorString(e.code)
            hint = ""
            if "not well-formed" in reason or "undefined entity" in reason:
                hint = " (in a script with SSML tags write & as &amp; and a literal < as &lt;)"
            elif "mismatched tag" in reason or "no element found" in reason:
                hint = " (every SSML tag must be closed: <emphasis>...</emphasis>, <break/>)"
            raise MarkupError(f"the SSML markup is malformed {self.where(parser.ErrorByteIndex)}: "
                              f"{reason}{hint}") from None
        self.flush(parser.CurrentByteIndex)
        return self.events

    # -- expat callbacks ------------------------------------------------------------------------
    def flush(self, end_byte):
        if self.pending is None:
            return
        text, start_byte = self.pending
        self.pending = None
        start = self.position(start_byte)
        end = self.position(end_byte)
        self.events.append(Run(text, start, end, self.script[start:end] == text, self.stack[-1][1]))

    def text(self, data):
        if self.pending is None:
            self.pending = [data, self.parser.CurrentByteIndex]
        else:
            self.pending[0] += data

    def start(self, name, attrs):
        at = self.parser.CurrentByteIndex
        self.flush(at)
        if name == _ROOT:
            return
        if name not in _ALLOWED:
            self.fail(at, f"unsupported SSML element <{name}> (read: <speak>, <break>, <emphasis>, "
                          "<prosody rate pitch>)")
        for key in attrs:
            if key not in _ALLOWED[name] and not key.startswith("xmlns"):
                self.fail(at, f"unsupported attribute {key!r} of <{name}> (read: "
                              f"{', '.join(sorted(_ALLOWED[name])) or 'none'})")
        voicing = self.stack[-1][1]
        if name == "speak":
            if len(self.stack) > 1:
                self.fail(at, "<speak> must be the outermost element")
        elif name == "break":
            self.events.append(Pause(self._break_seconds(attrs, at), self.position(at)))
        elif name == "emphasis":
            level = attrs.get("level", "moderate")
            if level not in _EMPHASIS:
                self.fail(at, f"<emphasis level={level!r}> is not one of {', '.join(_EMPHASIS)}")
            voicing = voicing.times(*_EMPHASIS[level])
        elif name == "prosody":
            rate = _factor(attrs.get("rate"), _RATES, RATE_RANGE, "rate", semitones=False)
            pitch = _factor(attrs.get("pitch"), _PITCHES, PITCH_RANGE, "pitch", semitones=True)
            if isinstance(rate, str) or isinstance(pitch, str):
                self.fail(at, rate if isinstance(rate, str) else pitch)
            voicing = voicing.times(rate=rate, pitch=pitch)
            if not (RATE_RANGE[0] <= voicing.rate <= RATE_RANGE[1]
                    and PITCH_RANGE[0] <= voicing.pitch <= PITCH_RANGE[1]):
                self.fail(at, f"nested <prosody> multiply to rate {voicing.rate:.2f}, pitch "
                              f"{voicing.pitch:.2f}, outside {RATE_RANGE[0]:g}..{RATE_RANGE[1]:g}")
        self.stack.append((name, voicing))

    def end(self, name):
        at = self.parser.CurrentByteIndex
        if name == "break" and self.pending is not None:
            self.fail(self.pending[1], "<break> holds text: write it as <break/>")
        self.flush(at)
        if name != _ROOT:
            self.stack.pop()

    def _break_seconds(self, attrs, at):
        if "time" in attrs:
            m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s)\s*", attrs["time"])
            if not m:
                self.fail(at, f"<break time={attrs['time']!r}> is not a time like \"2s\" or \"500ms\"")
            seconds = float(m.group(1)) / (1000.0 if m.group(2) == "ms" else 1.0)
            if seconds > MAX_BREAK_S:
                self.fail(at, f"<break time={attrs['time']!r}> is longer than {MAX_BREAK_S:g} s")
            return seconds
        strength = attrs.get("strength", "medium")
        if strength not in _BREAK_STRENGTHS:
            self.fail(at, f"<break strength={strength!r}> is not one of {', '.join(_BREAK_STRENGTHS)}")
        return _BREAK_STRENGTHS[strength]


def _factor(value, names, bounds, what, semitones):
    """An SSML rate/pitch value -> a factor, or a message (str) saying why it is refused."""
    if value is None:
        return 1.0
    v = value.strip()
    factor = None
    if v in names:
        factor = names[v]
    elif m := re.fullmatch(r"([+-])(\d+(?:\.\d*)?)%", v):            # a relative change
        factor = 1.0 + float(m.group(2)) / 100.0 * (1 if m.group(1) == "+" else -1)
    elif m := re.fullmatch(r"(\d+(?:\.\d*)?)%", v):                   # a percentage of normal
        factor = float(m.group(1)) / 100.0
    elif semitones and (m := re.fullmatch(r"([+-]?)(\d+(?:\.\d*)?)st", v)):
        factor = 2.0 ** (float(m.group(2)) * (-1 if m.group(1) == "-" else 1) / 12.0)
    elif not semitones and re.fullmatch(r"\d+(?:\.\d*)?", v):           # SSML 1.1: a plain factor
        factor = float(v)
    if factor is None:
        forms = "x-low..x-high, +10%, -2st" if semitones else "x-slow..x-fast, 80%, +10%"
        return f"<prosody {what}={value!r}> is not a value this engine reads ({forms})"
    if not bounds[0] <= factor <= bounds[1]:
        return (f"<prosody {what}={value!r}> is a factor of {factor:.2f}, outside "
                f"{bounds[0]:g}..{bounds[1]:g}")
    return factor
