"""Match a mesh's shape keys to blendshape channels (ARKit 52 + Live Link head/eye rotations).

Heads in the wild spell the same ARKit shape many ways: `jawOpen`, `JawOpen`, `jaw_open`,
`eyeBlink_L`, `L_eyeBlink`, `eyeBlink.L`, `Face.jawOpen`, `AK_25_JawOpen`, `jawOpen.001`.
`auto_map` scores every (channel, key) pair and assigns greedily, best score first, so
each channel gets at most one key and each key drives at most one channel.

Score (lower is better), compared as a tuple, ties broken by key name (casefolded, then raw):

    level 0  exact name                                   jawOpen
    level 1  case-insensitive                             JawOpen
    level 2  separator/side-normalised                    Jaw_Open, eyeBlink_L, L_eyeBlink
    level 3  prefixed: <prefix><sep><name>                Face.jawOpen, AK_25_JawOpen
             then: how the part after the prefix matches (exact, case-insensitive,
             normalised), then ARKit-family prefix (`AK`, `ARKit`) before others, then
             fewer prefix words
    level 4  any of the above plus a numeric suffix       jawOpen.001

So on the Rocketbox head jawOpen -> `AK_25_JawOpen` (remainder `JawOpen` equals the name
case-insensitively) beats `SR_21_Jaw_Open` (only separator-normalised), and tongueOut ->
`AK_52_TongueOut` beats `HB_08_TongueOut` (ARKit-family prefix).

Never matched through a prefix: viseme, FACS (`AU_..`) and VRoid (`Fcl_..`) families, so
`viseme_aa`, `AA_VI_10_aa`, `AU_26_JawDrop`, `Fcl_MTH_A` cannot be picked by accident.
Head/eye rotation channels map only to a key with that name (levels 0-2).
"""
import re
from dataclasses import dataclass, field

from .channels import ARKIT_52, HEAD_EYE_ROTATIONS

DEFAULT_CHANNELS = ARKIT_52 + HEAD_EYE_ROTATIONS

_SEPARATORS = "_-. :|/"
_SIDES = {"l": "left", "left": "left", "r": "right", "right": "right"}
# camelCase / PascalCase / ALLCAPS / digit runs, within one separator-delimited chunk
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_SPLIT = re.compile(r"[_\-. :|/]+")
_NUMERIC_SUFFIX = re.compile(r"^(.*?[^_\-. :|/0-9].*?)[_\-. :|/]+[0-9]+$")

_ARKIT_FAMILY = {"ak", "arkit", "arkit52", "apple"}
_FOREIGN_FAMILY = {"viseme", "vis", "vi", "au", "facs", "fcl"}
_ROTATIONS = set(HEAD_EYE_ROTATIONS)


def _words(name):
    words = []
    for chunk in _SPLIT.split(name):
        words.extend(w.lower() for w in _WORD.findall(chunk))
    return words


def normalize_key_name(name: str) -> str:
    """Canonical comparison form: lower case, no separators, one side word moved to the end.

    `eyeBlink_L`, `Eye_Blink_L`, `L_eyeBlink`, `eyeBlink.L`, `EyeBlinkLeft` all give
    `eyeblinkleft`. A name with two side words keeps them where they are.
    """
    words = _words(name)
    sides = [i for i, w in enumerate(words) if w in _SIDES]
    if len(sides) == 1:
        side = _SIDES[words.pop(sides[0])]
        words.append(side)
    return "".join(words)


def _prefix_splits(name):
    """(prefix, remainder) at every separator, shortest prefix first."""
    for i, ch in enumerate(name):
        if ch in _SEPARATORS and i > 0:
            rest = name[i + 1:].lstrip(_SEPARATORS)
            if rest:
                yield name[:i], rest


class _Matcher:
    """Scores one shape-key name against every channel."""

    def __init__(self, channels):
        self.channels = list(channels)
        self.exact = {c: c for c in self.channels}
        self.lower = {}
        self.norm = {}
        for c in self.channels:
            self.lower.setdefault(c.lower(), c)
            self.norm.setdefault(normalize_key_name(c), c)

    def _direct(self, name):
        """Levels 0-2 for the whole name -> (channel, level) or None."""
        if name in self.exact:
            return name, 0
        if name.lower() in self.lower:
            return self.lower[name.lower()], 1
        n = normalize_key_name(name)
        if n in self.norm:
            return self.norm[n], 2
        return None

    def scores(self, key):
        """{channel: score tuple} for one key."""
        found = {}

        def offer(channel, score):
            if channel not in found or score < found[channel]:
                found[channel] = score

        for base, suffix_level in ((key, 0), (_strip_numeric_suffix(key), 1)):
            if base is None:
                continue
            hit = self._direct(base)
            if hit:
                channel, level = hit
                offer(channel, (4, level) if suffix_level else (level,))
            for prefix, rest in _prefix_splits(base):
                hit = self._direct(rest)
                if not hit or hit[0] in _ROTATIONS:
                    continue
                words = _words(prefix)
                if not words or any(w in _SIDES for w in words) or _FOREIGN_FAMILY & set(words):
                    continue
                family = 0 if words[0] in _ARKIT_FAMILY else 1
                channel, level = hit
                score = (3, level, family, len(words))
                offer(channel, score if not suffix_level else (4, 3) + score[1:])
        return found


def _strip_numeric_suffix(name):
    m = _NUMERIC_SUFFIX.match(name)
    return m.group(1) if m else None


@dataclass
class ShapeKeyMapping:
    pairs: dict                                          # channel -> shape key name
    unmapped_channels: list = field(default_factory=list)  # asked channels with no key
    unused_keys: list = field(default_factory=list)        # keys no channel drives (not the reference)

    def report(self) -> str:
        """Human-readable summary for the UI and the CLI."""
        shapes = [c for c in self.pairs if c not in _ROTATIONS]
        missing = [c for c in self.unmapped_channels if c not in _ROTATIONS]
        rot_asked = [c for c in list(self.pairs) + self.unmapped_channels if c in _ROTATIONS]
        rot_mapped = [c for c in self.pairs if c in _ROTATIONS]
        total = len(shapes) + len(missing)
        line = f"{len(shapes)}/{total} channels mapped"
        line += f"; missing: {_first(missing, 24)}" if missing else "; none missing"
        lines = [line]
        if rot_asked:
            lines.append(f"head/eye rotations: {len(rot_mapped)}/{len(rot_asked)} mapped "
                         "(optional; only to shape keys with the same name)")
        lines.append(unused_line(self.unused_keys))
        return "\n".join(lines)

    def assign(self, channel, key):
        """User edit: drive `channel` with `key` (None clears it). A key moved from another
        channel leaves that channel unmapped, keeping the one-key-per-channel rule."""
        old = self.pairs.pop(channel, None)
        if channel in self.unmapped_channels:
            self.unmapped_channels.remove(channel)
        if key is not None:
            for other, k in list(self.pairs.items()):
                if k == key:
                    del self.pairs[other]
                    self.unmapped_channels.append(other)
            if key in self.unused_keys:
                self.unused_keys.remove(key)
            self.pairs[channel] = key
        else:
            self.unmapped_channels.append(channel)
        if old is not None and old != key and old not in self.pairs.values():
            self.unused_keys.append(old)

    def to_dict(self) -> dict:
        return {"version": 1, "pairs": dict(self.pairs),
                "unmapped_channels": list(self.unmapped_channels),
                "unused_keys": list(self.unused_keys)}

    @classmethod
    def from_dict(cls, d) -> "ShapeKeyMapping":
        if not isinstance(d, dict) or not isinstance(d.get("pairs"), dict):
            raise ValueError("not a shape-key mapping: expected a dict with a 'pairs' dict")
        pairs = {str(c): str(k) for c, k in d["pairs"].items()}
        if len(set(pairs.values())) != len(pairs):
            raise ValueError("shape-key mapping uses one shape key for two channels")
        return cls(pairs, [str(c) for c in d.get("unmapped_channels", [])],
                   [str(k) for k in d.get("unused_keys", [])])


def unused_line(unused_keys) -> str:
    """The report line about keys nothing drives (ShapeKeyMapping and TargetPlan reports)."""
    if unused_keys:
        return f"{len(unused_keys)} shape keys unused: {_first(unused_keys, 20)}"
    return "every shape key is used"


def _first(names, n):
    more = f", +{len(names) - n} more" if len(names) > n else ""
    return ", ".join(names[:n]) + more


def _assign(candidates, channels, keys):
    """Greedy one-to-one assignment over (score, key, channel) candidates."""
    candidates.sort(key=lambda c: (c[0], c[1].casefold(), c[1], channels.index(c[2])))
    pairs, used = {}, set()
    for _, key, channel in candidates:
        if channel not in pairs and key not in used:
            pairs[channel] = key
            used.add(key)
    ordered = {c: pairs[c] for c in channels if c in pairs}
    return ShapeKeyMapping(
        pairs=ordered,
        unmapped_channels=[c for c in channels if c not in pairs],
        unused_keys=[k for k in keys if k not in used],
    )


def _clean_inputs(shape_keys, channels, reference_key):
    keys = []
    for k in shape_keys:
        k = str(k)
        if k != reference_key and k not in keys:
            keys.append(k)
    channels = list(dict.fromkeys(str(c) for c in channels))
    return keys, channels


def auto_map(shape_keys, channels=DEFAULT_CHANNELS, reference_key="Basis") -> ShapeKeyMapping:
    """Map channels to shape keys by name (rules and score in the module docstring)."""
    keys, channels = _clean_inputs(shape_keys, channels, reference_key)
    matcher = _Matcher(channels)
    candidates = []
    for key in keys:
        for channel, score in matcher.scores(key).items():
            if channel in _ROTATIONS and score[0] > 2:
                continue
            candidates.append((score, key, channel))
    return _assign(candidates, channels, keys)


# --- presets: one naming rule each; a channel maps only to the key its rule spells ---

_UNSIDED_DIRECTIONS = {"jawLeft", "jawRight", "mouthLeft", "mouthRight"}


def _split_side(channel):
    for side, short in (("Left", "L"), ("Right", "R")):
        if channel.endswith(side) and channel not in _UNSIDED_DIRECTIONS:
            return channel[: -len(side)], short
    return channel, None


def _pascal(channel):
    return channel[:1].upper() + channel[1:]


def _rule_arkit(channel):
    return [channel]


def _rule_livelink(channel):
    return [_pascal(channel)]


def _rule_facecap(channel):
    stem, side = _split_side(channel)
    return [f"{stem}_{side}" if side else channel]


def _rule_cc(channel):
    if channel in _ROTATIONS:
        return [channel]
    words = [w.capitalize() for w in _WORD.findall(channel)]
    if words[-1] in ("Left", "Right"):
        words[-1] = words[-1][0]
    return ["_".join(words)]


PRESETS = {
    "auto": ("Automatic", "Match by name: exact, then case/separator/side-insensitive, then "
                          "prefixed (Face.jawOpen, AK_25_JawOpen); ARKit-family keys win ties"),
    "arkit": ("ARKit", "Exact ARKit camelCase names (jawOpen, eyeBlinkLeft)"),
    "livelink": ("Live Link Face", "PascalCase as in Live Link Face CSVs (JawOpen, EyeBlinkLeft)"),
    "facecap": ("Face Cap", "camelCase with _L/_R sides (eyeBlink_L, mouthSmile_R, jawOpen)"),
    "rocketbox_ak": ("Rocketbox / HeadBox", "ARKit set with numbered AK_ prefix (AK_25_JawOpen); "
                                            "ignores the visemes, FACS, HB_ and SR_ sets"),
    "cc4": ("Character Creator style", "Title-case words joined by _, sides as _L/_R "
                                       "(Eye_Blink_L, Mouth_Smile_L, Jaw_Open)"),
}

_RULES = {"arkit": _rule_arkit, "livelink": _rule_livelink, "facecap": _rule_facecap,
          "cc4": _rule_cc}
_AK_KEY = re.compile(r"^AK_[0-9]+_(.+)$")


def apply_preset(preset_id, shape_keys, channels=DEFAULT_CHANNELS,
                 reference_key="Basis") -> ShapeKeyMapping:
    """Map with one naming convention from PRESETS ("auto" is auto_map)."""
    if preset_id not in PRESETS:
        raise ValueError(f"unknown mapping preset {preset_id!r}; choose one of: {', '.join(PRESETS)}")
    if preset_id == "auto":
        return auto_map(shape_keys, channels, reference_key)
    keys, channels = _clean_inputs(shape_keys, channels, reference_key)
    candidates = []
    if preset_id == "rocketbox_ak":
        by_stem = {}
        for key in keys:
            m = _AK_KEY.match(key)
            if m:
                by_stem.setdefault(m.group(1), []).append(key)
        for channel in channels:
            for key in by_stem.get(_pascal(channel), []):
                candidates.append(((0,), key, channel))
    else:
        key_set = set(keys)
        for channel in channels:
            for name in _RULES[preset_id](channel):
                if name in key_set:
                    candidates.append(((0,), name, channel))
    return _assign(candidates, channels, keys)
