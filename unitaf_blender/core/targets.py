"""What a take drives on one mesh: the generalisation of `mapping.ShapeKeyMapping` to rigs
whose shape keys are not ARKit.

`plan_targets(keys)` returns a `TargetPlan` with three routes from the 52 ARKit channels
(+ head/eye rotations) to shape keys:

    direct    channel -> key, 1:1: ARKit-named keys (`mapping.auto_map`, or a stored table)
    derived   key -> {channel: weight}: value = clip(sum weight * channel, 0, 1)
              (FACS action units, VRoid/CC/MMD blink and brow keys)
    visemes   key -> "<set>:<target>": solved from the take's mouth channels by
              `core.visemes.solve_visemes` (Oculus / RPM / Rocketbox visemes, VRoid and MMD
              vowels, Character Creator lip and tongue visemes)

Conventions recognised (CONVENTIONS) and their tables:

    ARKit      any spelling auto_map knows (jawOpen, JawOpen, eyeBlink_L, AK_25_JawOpen ...)
    Oculus     viseme_sil ... viseme_U (Ready Player Me), vrc.v_aa (VRChat) -> 15 visemes
    Rocketbox  AA_VI_00_Sil ... AA_VI_14_U -> the same 15
    FACS       AU_26_JawDrop, AU26, au_26, JawDrop, AU_02_L_OuterBrowRaiser, InnerBrowRaiser_Left
               -> FACS_AUS (AU number -> ARKit channels)
    VRoid      Fcl_MTH_A/I/U/E/O (+ Fcl_MTH_Close) -> five vowels; Fcl_EYE_Close(_L/_R) <- blink;
               Fcl_BRW_Angry <- browDown, Fcl_BRW_Surprised <- browOuterUp,
               Fcl_BRW_Sorrow <- browInnerUp - browOuterUp (inner corners raised alone read sad).
               Never driven: Fcl_ALL_* (whole-face presets), Fcl_HA_* (teeth), Fcl_EYE_Iris_Hide,
               Fcl_EYE_Highlight_Hide, and the expression eyes/mouths (Fcl_EYE_Joy ...).
    CC         V_Open ... V_Lip_Open -> 8 lip visemes; V_Tongue_* -> tongue (follows the Oculus
               solve); Eye_Blink_L/R, Brow_Raise_Inner_L/R, Brow_Raise_Outer_L/R, Brow_Drop_L/R,
               Cheek_Raise_L/R, Eye_L_Look_L/R/Up/Down (the CC4 names auto_map does not match)
    MMD        あ い う え お (+ ん closed) -> five vowels; まばたき <- mean blink; ウィンク / ウィンク右
               <- one eye each, only when the model has no まばたき

Rules (each region of the face is deformed by ONE route, never two):

1. Keys in `ignore_keys` (the caller passes keys whose geometry equals the basis) are never
   driven and never count as "present".
2. Direct ARKit pairs come first. The mouth is ARKit's when jawOpen has a key (or the
   stored table drives any mouth channel). Otherwise the mouth goes to the first of: FACS
   (a jaw AU 25/26/27 exists), a viseme set (Oculus > CC lips > five vowels; one set only),
   the ARKit mouth keys that exist. When FACS or visemes take the mouth, ARKit mouth keys
   without jawOpen are released: half an ARKit mouth plus visemes would deform it twice.
3. Derived keys claim the channels they read, per side (a joint key claims both sides).
   A channel already driven directly, or claimed by an earlier derived key, blocks the
   key: ARKit blink present -> Fcl_EYE_Close / AU_45 / まばたき untouched. Order: rank
   (AU24 before AU23; AU26 before AU27 before AU25; AU07 before AU44; まばたき before the
   winks), then one-sided keys before joint ones (AU_43_L/R before AU_45_Blink, so each eye
   keeps its own blink), then name.
4. CC tongue keys follow the Oculus solve only when no ARKit tongueOut key is mapped.

FACS choices (FACS_AUS): AU23 lip tightener and AU24 lip pressor both read mouthPress
(ARKit has no separate tightener), AU24 first. AU25 lips part, AU26 jaw drop and AU27
mouth stretch (jaw pulled wide) all read jawOpen; the rig gets the first it has, because
FACS codes them as alternative degrees of one opening and driving two opens the jaw twice.
AU28 lip suck <- the mean of both lip rolls. AU41/42/43/45 (lid droop, slit, closed,
blink) all read eyeBlink, one is driven. AU61-64 eye turns <- the mean of both eyes' look
channels in that direction. AU11 (nasolabial deepener), AU21, AU38/39 have no ARKit
counterpart and stay unused.
"""
import re
from dataclasses import dataclass, field

import numpy as np

from .channels import ARKIT_52, HEAD_EYE_ROTATIONS, index_of
from .mapping import _AK_KEY, _SIDES, _first, _words, auto_map, unused_line
from .signal import DEFAULT_FPS
from .visemes import VISEME_SETS, is_mouth_channel, solve_visemes

_ROTATIONS = set(HEAD_EYE_ROTATIONS)

CONVENTIONS = {
    "arkit": ("ARKit", "ARKit channel names in any spelling auto_map knows"),
    "oculus": ("Oculus visemes", "viseme_sil ... viseme_U (Ready Player Me), vrc.v_* (VRChat)"),
    "rocketbox_visemes": ("Rocketbox visemes", "AA_VI_00_Sil ... AA_VI_14_U"),
    "facs": ("FACS action units", "AU_26_JawDrop, AU26, au_26, JawDrop; _L_/_R_/Left/Right sides"),
    "vroid": ("VRoid / VRM", "Fcl_MTH_A/I/U/E/O, Fcl_EYE_Close(_L/_R), Fcl_BRW_*"),
    "cc": ("Character Creator", "V_* lip and tongue visemes, Eye_Blink_L, Brow_Raise_Inner_L ..."),
    "mmd": ("MMD", "あ い う え お ん, まばたき, ウィンク, ウィンク右"),
}

# Viseme sets in the order they are preferred for the mouth (richest first).
_MOUTH_SETS = ("oculus", "cc_lips", "vowels5")

# --- FACS: AU -> (names, {channel or Left/Right stem: weight}, rank among AUs on the same channels)
FACS_AUS = {
    1: (("InnerBrowRaiser",), {"browInnerUp": 1.0}, 0),
    2: (("OuterBrowRaiser",), {"browOuterUp": 1.0}, 0),
    4: (("BrowLowerer",), {"browDown": 1.0}, 0),
    5: (("UpperLidRaiser",), {"eyeWide": 1.0}, 0),
    6: (("CheekRaiser",), {"cheekSquint": 1.0}, 0),
    7: (("LidTightener",), {"eyeSquint": 1.0}, 0),
    9: (("NoseWrinkler",), {"noseSneer": 1.0}, 0),
    10: (("UpperLipRaiser",), {"mouthUpperUp": 1.0}, 0),
    12: (("LipCornerPuller",), {"mouthSmile": 1.0}, 0),
    13: (("CheekPuffer",), {"cheekPuff": 1.0}, 0),
    14: (("Dimpler",), {"mouthDimple": 1.0}, 0),
    15: (("LipCornerDepressor",), {"mouthFrown": 1.0}, 0),
    16: (("LowerLipDepressor",), {"mouthLowerDown": 1.0}, 0),
    17: (("ChinRaiser",), {"mouthShrugLower": 1.0}, 0),
    18: (("LipPuckerer", "LipPucker"), {"mouthPucker": 1.0}, 0),
    19: (("TongueShow",), {"tongueOut": 1.0}, 0),
    20: (("LipStretcher",), {"mouthStretch": 1.0}, 0),
    22: (("LipFunneler",), {"mouthFunnel": 1.0}, 0),
    23: (("LipTightener",), {"mouthPress": 1.0}, 1),
    24: (("LipPressor",), {"mouthPress": 1.0}, 0),
    25: (("LipsPart",), {"jawOpen": 1.0}, 2),
    26: (("JawDrop",), {"jawOpen": 1.0}, 0),
    27: (("MouthStretch",), {"jawOpen": 1.0}, 1),
    28: (("LipSuck",), {"mouthRollLower": 0.5, "mouthRollUpper": 0.5}, 0),
    29: (("JawThrust",), {"jawForward": 1.0}, 0),
    34: (("Puff",), {"cheekPuff": 1.0}, 1),
    41: (("LidDroop",), {"eyeBlink": 1.0}, 2),
    42: (("Slit",), {"eyeBlink": 1.0}, 1),
    43: (("EyesClosed", "EyeClosed", "EyeClosure"), {"eyeBlink": 1.0}, 0),
    44: (("Squint",), {"eyeSquint": 1.0}, 1),
    45: (("Blink",), {"eyeBlink": 1.0}, 0),
    # AU46 (wink) is left out: it is one eye by definition, and a take's both-eye blink is no
    # wink (a bare key named "Wink" must not blink on every blink).
    61: (("EyesTurnLeft",), {"eyeLookOutLeft": 0.5, "eyeLookInRight": 0.5}, 0),
    62: (("EyesTurnRight",), {"eyeLookInLeft": 0.5, "eyeLookOutRight": 0.5}, 0),
    63: (("EyesUp",), {"eyeLookUpLeft": 0.5, "eyeLookUpRight": 0.5}, 0),
    64: (("EyesDown",), {"eyeLookDownLeft": 0.5, "eyeLookDownRight": 0.5}, 0),
}
# Bare FACS names that are also ARKit stems mean something else there (ARKit mouthStretch
# is AU20): they count as FACS only with an AU number.
_NEEDS_NUMBER = {"mouthstretch"}
_FACS_BY_NAME = {"".join(_words(n)): au for au, (names, _, _) in FACS_AUS.items() for n in names}
_AU_NUMBER = re.compile(r"^au$|^facs$")

# --- VRoid, CC, MMD: exact names (case-insensitive for the ASCII ones)
_VROID = {
    "Fcl_EYE_Close_L": ({"eyeBlinkLeft": 1.0}, 0), "Fcl_EYE_Close_R": ({"eyeBlinkRight": 1.0}, 0),
    "Fcl_EYE_Close": ({"eyeBlink": 1.0}, 0),
    "Fcl_BRW_Angry": ({"browDown": 1.0}, 0), "Fcl_BRW_Surprised": ({"browOuterUp": 1.0}, 0),
    "Fcl_BRW_Sorrow": ({"browInnerUp": 1.0, "browOuterUp": -1.0}, 0),
}
_VROID_VISEMES = {"Fcl_MTH_A": "A", "Fcl_MTH_I": "I", "Fcl_MTH_U": "U", "Fcl_MTH_E": "E",
                  "Fcl_MTH_O": "O", "Fcl_MTH_Close": "Close"}
_VROID_KEEP = re.compile(r"^Fcl_(ALL_|HA_|EYE_Iris_Hide$|EYE_Highlight_Hide$)", re.IGNORECASE)

_CC = {
    "Eye_Blink_L": ({"eyeBlinkLeft": 1.0}, 0), "Eye_Blink_R": ({"eyeBlinkRight": 1.0}, 0),
    "Brow_Raise_Inner_L": ({"browInnerUp": 1.0}, 0), "Brow_Raise_Inner_R": ({"browInnerUp": 1.0}, 0),
    "Brow_Raise_Outer_L": ({"browOuterUpLeft": 1.0}, 0), "Brow_Raise_Outer_R": ({"browOuterUpRight": 1.0}, 0),
    "Brow_Drop_L": ({"browDownLeft": 1.0}, 0), "Brow_Drop_R": ({"browDownRight": 1.0}, 0),
    "Cheek_Raise_L": ({"cheekSquintLeft": 1.0}, 0), "Cheek_Raise_R": ({"cheekSquintRight": 1.0}, 0),
    # CC4: Eye_<eye>_Look_<direction>; the left eye looking left looks out
    "Eye_L_Look_L": ({"eyeLookOutLeft": 1.0}, 0), "Eye_L_Look_R": ({"eyeLookInLeft": 1.0}, 0),
    "Eye_R_Look_L": ({"eyeLookInRight": 1.0}, 0), "Eye_R_Look_R": ({"eyeLookOutRight": 1.0}, 0),
    "Eye_L_Look_Up": ({"eyeLookUpLeft": 1.0}, 0), "Eye_R_Look_Up": ({"eyeLookUpRight": 1.0}, 0),
    "Eye_L_Look_Down": ({"eyeLookDownLeft": 1.0}, 0), "Eye_R_Look_Down": ({"eyeLookDownRight": 1.0}, 0),
}
_CC_SIDE = {"Brow_Raise_Inner_L": "L", "Brow_Raise_Inner_R": "R"}

_MMD = {"まばたき": ({"eyeBlink": 1.0}, 0), "ウィンク": ({"eyeBlinkLeft": 1.0}, 1),
        "ウィンク右": ({"eyeBlinkRight": 1.0}, 1)}
_MMD_VISEMES = {"あ": "A", "い": "I", "う": "U", "え": "E", "お": "O", "ん": "Close"}

_OCULUS_NAMES = {"sil": "sil", "pp": "PP", "ff": "FF", "th": "TH", "dd": "DD", "kk": "kk", "ch": "CH",
                 "ss": "SS", "nn": "nn", "rr": "RR", "aa": "aa", "e": "E", "ih": "ih", "i": "ih",
                 "oh": "oh", "o": "oh", "ou": "ou", "u": "ou"}
_OCULUS_KEY = re.compile(r"^(?:viseme|vrc\.v)_([A-Za-z]+)$", re.IGNORECASE)
_ROCKETBOX_KEY = re.compile(r"^AA_VI_[0-9]+_([A-Za-z]+)$")


def _expand(mix, side):
    """{channel or Left/Right stem: weight} -> {ARKit channel: weight} for a key on `side`.

    A stem on a one-sided key reads that side; on a joint key, the mean of both sides.
    """
    out = {}
    for name, weight in mix.items():
        if name in ARKIT_52:
            out[name] = out.get(name, 0.0) + weight
            continue
        pair = (name + "Left", name + "Right")
        if side == "L":
            out[pair[0]] = weight
        elif side == "R":
            out[pair[1]] = weight
        else:
            out[pair[0]] = out[pair[1]] = 0.5 * weight
    return out


def _channel_side(channel, key_side):
    """The sides a key claims on a channel: a Left/Right channel has its own."""
    if channel.endswith("Left") and channel[:-4] + "Right" in ARKIT_52:
        return ("L",)
    if channel.endswith("Right") and channel[:-5] + "Left" in ARKIT_52:
        return ("R",)
    return (key_side,) if key_side else ("L", "R")


@dataclass(frozen=True)
class _Candidate:
    key: str
    convention: str
    mix: dict = None          # derived: {channel: weight}
    target: str = None        # viseme: "<set>:<target>"
    side: str = None          # "L", "R" or None (both / joint)
    rank: int = 0


def _parse_facs(key):
    """(AU number, side) of a FACS-named key, or None."""
    words = _words(key)
    if not words:
        return None
    number = None
    if _AU_NUMBER.match(words[0]) and len(words) > 1 and words[1].isdigit():
        number, rest = int(words[1]), words[2:]
    elif len(words[0]) > 2 and words[0][:2] == "au" and words[0][2:].isdigit():
        number, rest = int(words[0][2:]), words[1:]
    else:
        rest = words
    joined = "".join(rest)
    if number is None:
        if joined in _NEEDS_NUMBER:
            return None
        sideless = "".join(w for w in rest if w not in _SIDES)
        if joined in _FACS_BY_NAME:
            return _FACS_BY_NAME[joined], None
        if sideless in _FACS_BY_NAME:
            sides = {_SIDES[w] for w in rest if w in _SIDES}
            return _FACS_BY_NAME[sideless], (None if len(sides) != 1 else sides.pop()[0].upper())
        return None
    if number not in FACS_AUS:
        return None
    if number >= 61 or joined in _FACS_BY_NAME:        # eye turns: "Left" is a direction
        return number, None
    sides = {_SIDES[w] for w in rest if w in _SIDES}
    return number, (sides.pop()[0].upper() if len(sides) == 1 else None)


def _recognise(key):
    """The candidate route of one non-ARKit key, or None."""
    m = _OCULUS_KEY.match(key)
    if m and m.group(1).lower() in _OCULUS_NAMES:
        return _Candidate(key, "oculus", target="oculus:" + _OCULUS_NAMES[m.group(1).lower()])
    m = _ROCKETBOX_KEY.match(key)
    if m and m.group(1).lower() in _OCULUS_NAMES:
        return _Candidate(key, "rocketbox_visemes", target="oculus:" + _OCULUS_NAMES[m.group(1).lower()])
    folded = {k.casefold(): k for k in (*_VROID, *_VROID_VISEMES, *_CC)}.get(key.casefold())
    if folded in _VROID_VISEMES:
        return _Candidate(key, "vroid", target="vowels5:" + _VROID_VISEMES[folded])
    if folded in _VROID:
        mix, rank = _VROID[folded]
        side = folded[-1] if folded.endswith(("_L", "_R")) else None
        return _Candidate(key, "vroid", mix=_expand(mix, side), side=side, rank=rank)
    if folded in _CC:
        mix, rank = _CC[folded]
        return _Candidate(key, "cc", mix=_expand(mix, None), side=_CC_SIDE.get(folded), rank=rank)
    for vset in ("cc_lips", "cc_tongue"):
        for target in VISEME_SETS[vset].targets:
            if key.casefold() == target.casefold():
                return _Candidate(key, "cc", target=f"{vset}:{target}")
    if key in _MMD_VISEMES:
        return _Candidate(key, "mmd", target="vowels5:" + _MMD_VISEMES[key])
    if key in _MMD:
        mix, rank = _MMD[key]
        return _Candidate(key, "mmd", mix=_expand(mix, None), rank=rank)
    if key.casefold().startswith("fcl_"):
        return None                       # other VRoid keys: expressions, teeth, presets
    facs = _parse_facs(key)
    if facs:
        number, side = facs
        _, mix, rank = FACS_AUS[number]
        return _Candidate(key, "facs", mix=_expand(mix, side), side=side, rank=rank)
    return None


@dataclass
class TargetPlan:
    conventions: list                                   # detected, human readable
    direct: dict                                        # channel -> key
    derived: dict                                       # key -> {channel: weight}
    visemes: dict                                       # key -> "<set>:<target>"
    unused_keys: list = field(default_factory=list)     # keys the plan leaves alone
    missing_channels: list = field(default_factory=list)  # channels nothing reads
    notes: list = field(default_factory=list)           # routing decisions, one sentence each

    def keys(self) -> list:
        """Every key the plan drives, sorted."""
        return sorted(set(self.direct.values()) | set(self.derived) | set(self.visemes))

    def channels_read(self) -> set:
        """The channels that move at least one key."""
        used = set(self.direct)
        for mix in self.derived.values():
            used |= {c for c, w in mix.items() if w > 0}
        for set_id in {t.split(":")[0] for t in self.visemes.values()}:
            used |= VISEME_SETS[VISEME_SETS[set_id].source or set_id].mouth_channels()
        return used

    def evaluate(self, channels, weights, fps=DEFAULT_FPS) -> dict:
        """{key: float32 [T]} at the input frames.

        direct: the channel's values; derived: clip(sum weight * channel, 0, 1); visemes:
        `solve_visemes` on the take's mouth. Keys whose channels the take lacks are left
        out (not forced to zero).
        """
        weights = np.asarray(weights, np.float32)
        idx = index_of(channels)
        if weights.ndim != 2 or weights.shape[1] != len(idx):
            raise ValueError(f"weights must be [T, {len(idx)}], got {weights.shape}")
        out = {}
        for channel, key in self.direct.items():
            if channel in idx:
                out[key] = weights[:, idx[channel]].copy()
        for key, mix in self.derived.items():
            present = [(idx[c], w) for c, w in mix.items() if c in idx]
            if any(w > 0 for _, w in present):
                total = sum(w * weights[:, i] for i, w in present)
                out[key] = np.clip(total, 0.0, 1.0).astype(np.float32)
        solved = {}
        for key, target in self.visemes.items():
            set_id, name = target.split(":", 1)
            if set_id not in solved:
                solved[set_id] = solve_visemes(tuple(channels), weights, set_id, fps)
            out[key] = solved[set_id][name]
        return out

    def report(self) -> str:
        """Human-readable summary: coverage line (as ShapeKeyMapping.report), conventions,
        routing notes, rotations, unused keys."""
        read = self.channels_read()
        shapes = [c for c in ARKIT_52 if c in read]
        missing = [c for c in self.missing_channels if c not in _ROTATIONS]
        n_direct = sum(1 for c in self.direct if c not in _ROTATIONS)
        line = (f"{len(shapes)}/{len(ARKIT_52)} channels mapped ({n_direct} direct, "
                f"{len(self.derived)} combination keys, {len(self.visemes)} viseme keys)")
        line += f"; missing: {_first(missing, 24)}" if missing else "; none missing"
        lines = [line, "conventions: " + ("; ".join(self.conventions) or "none recognised")]
        lines += self.notes
        rotations = [c for c in self.direct if c in _ROTATIONS]
        if rotations:
            lines.append(f"head/eye rotations: {len(rotations)}/{len(HEAD_EYE_ROTATIONS)} mapped "
                         "(only to shape keys with the same name)")
        lines.append(unused_line(self.unused_keys))
        return "\n".join(lines)


def _arkit_style(pairs):
    """How a mesh spells its ARKit keys, by majority: for the conventions line."""
    styles = {}
    for channel, key in pairs.items():
        if key == channel:
            style = "exact names"
        elif _AK_KEY.match(key):
            style = "AK_ prefix"
        elif key == channel[:1].upper() + channel[1:]:
            style = "PascalCase"
        elif key.endswith(("_L", "_R")):
            style = "_L/_R sides"
        else:
            style = "other spellings"
        styles[style] = styles.get(style, 0) + 1
    return max(styles, key=lambda s: (styles[s], s))


def plan_targets(shape_keys, reference_key="Basis", stored_pairs=None, ignore_keys=()) -> TargetPlan:
    """The TargetPlan of one mesh's shape keys (rules in the module docstring).

    `stored_pairs` (channel -> key, e.g. a saved ShapeKeyMapping's pairs) replaces
    `auto_map` for the direct route, unchanged except for keys the mesh lacks or that are
    in `ignore_keys`.
    """
    ignored = {str(k) for k in ignore_keys}
    keys = [k for k in dict.fromkeys(str(k) for k in shape_keys) if k != reference_key]
    live = [k for k in keys if k not in ignored]
    live_set = set(live)
    notes = []
    if stored_pairs is not None:
        direct = {str(c): str(k) for c, k in stored_pairs.items() if str(k) in live_set}
    else:
        # viseme keys are never ARKit keys, though auto_map would read V_Tongue_Out as tongueOut
        viseme_keys = {k for k in live if (c := _recognise(k)) is not None and c.target}
        direct = dict(auto_map([k for k in live if k not in viseme_keys]).pairs)
    used = set(direct.values())
    candidates = [c for c in (_recognise(k) for k in live if k not in used) if c is not None]

    # conventions found (before routing: a convention may be present and still left alone)
    conventions = []
    arkit_keys = [k for c, k in direct.items() if c not in _ROTATIONS]
    if arkit_keys:
        style = "stored table" if stored_pairs is not None else _arkit_style(
            {c: k for c, k in direct.items() if c not in _ROTATIONS})
        conventions.append(f"ARKit ({style}): {len(arkit_keys)} keys")
    for conv, (label, _) in CONVENTIONS.items():
        n = sum(1 for c in candidates if c.convention == conv)
        if n:
            conventions.append(f"{label}: {n} keys")

    # the mouth: one route only
    mouth_direct = [c for c in direct if is_mouth_channel(c)]
    if stored_pairs is not None:
        arkit_mouth = bool(mouth_direct)
    else:
        arkit_mouth = "jawOpen" in direct
    facs_jaw = any(c.convention == "facs" and "jawOpen" in c.mix for c in candidates)
    viseme_sets = {}
    for c in candidates:
        if c.target:
            viseme_sets.setdefault(c.target.split(":")[0], []).append(c)
    mouth_set = next((s for s in _MOUTH_SETS if s in viseme_sets), None)
    if arkit_mouth:
        source = "arkit"
    elif facs_jaw:
        source = "facs"
    elif mouth_set:
        source = mouth_set
    else:
        source = "arkit" if mouth_direct else None
    if source not in (None, "arkit") and mouth_direct:
        for c in mouth_direct:
            del direct[c]
        notes.append(f"mouth: the ARKit mouth keys have no jawOpen; {len(mouth_direct)} of them are left "
                     f"alone so that {'FACS' if source == 'facs' else VISEME_SETS[source].label} alone "
                     "deform the mouth")
    visemes = {}
    if source in VISEME_SETS:
        for c in viseme_sets[source]:
            visemes[c.key] = c.target
        notes.append(f"mouth: {VISEME_SETS[source].label} solved from the take's mouth channels")
    skipped = [c.key for s, cs in viseme_sets.items() if s != source and s != "cc_tongue" for c in cs]
    if skipped:
        why = "the ARKit mouth keys" if source == "arkit" else (
            "FACS" if source == "facs" else VISEME_SETS[source].label)
        notes.append(f"mouth: {len(skipped)} viseme keys left alone because {why} already drive the mouth")
    if "cc_tongue" in viseme_sets:
        if "tongueOut" in direct:
            notes.append("tongue: CC tongue keys left alone, tongueOut has an ARKit key")
        else:
            for c in viseme_sets["cc_tongue"]:
                visemes[c.key] = c.target

    # derived keys: claim channels per side, best first
    claimed = {(c, s) for c in direct for s in ("L", "R")}
    if source in VISEME_SETS:
        claimed |= {(c, s) for c in ARKIT_52 if is_mouth_channel(c) for s in ("L", "R")}
    derived = {}
    blocked = []
    for cand in sorted((c for c in candidates if c.mix), key=lambda c: (c.rank, c.side is None, c.key)):
        claims = {(ch, s) for ch, w in cand.mix.items() if w > 0 for s in _channel_side(ch, cand.side)}
        if claims & claimed:
            blocked.append(cand.key)
            continue
        claimed |= claims
        derived[cand.key] = dict(cand.mix)
    if blocked:
        notes.append(f"{len(blocked)} combination keys left alone, their channels already drive "
                     f"other keys: {_first(sorted(blocked), 8)}")
    kept = [k for k in live if _VROID_KEEP.match(k)]
    if kept:
        notes.append(f"never driven (VRoid presets, teeth, iris/highlight): {_first(kept, 6)}")
    if ignored & set(keys):
        notes.append(f"{len(ignored & set(keys))} keys ignored (no geometry): "
                     f"{_first([k for k in keys if k in ignored], 8)}")

    plan = TargetPlan(conventions, direct, derived, visemes, notes=notes)
    driven = set(plan.keys())
    plan.unused_keys = [k for k in keys if k not in driven]
    read = plan.channels_read()
    plan.missing_channels = [c for c in ARKIT_52 + HEAD_EYE_ROTATIONS if c not in read]
    return plan
