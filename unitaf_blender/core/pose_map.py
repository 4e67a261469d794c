"""Pose maps: a mouth chart of the user's own poses, and how a take weighs them (pure Python).

Animators who rig faces with bones keep a mouth chart: one pose per mouth shape (Preston
Blair's set, as Rhubarb-style lip-sync tools use it) and a few expression poses. A pose map
names, for each shape, the pose to use: an action (a Blender pose asset is one) and
optionally the frame of it that holds the pose (one action holding the whole chart, one pose
per frame or pose marker).

Mouth shapes (solved from the take's mouth channels with `core.visemes.solve_visemes`, each
shape's ARKit signature being its recipe over the 15 Oculus visemes):

    rest  the closed, relaxed mouth (takes 1 - the sum of the others)
    MBP   m b p: lips pressed                 PP
    AI    open: a, i (as in "ride")           aa
    E     ee, eh: spread                      E + ih
    O     oh: round, open                     oh
    U     oo: round, small                    ou
    FV    f v: lower lip under the teeth      FF
    L     l, th: tongue up, teeth apart       TH + nn
    WQ    w, q: puckered                      RR + ou
    etc   c d g k n r s t y z: teeth close    DD + kk + SS + nn

Only the shapes the map has are solved (a four-pose chart of rest, MBP, AI, O fits every
frame with those four), so the weights of the mapped mouth shapes sum to at most 1.

Expression poses (optional; driven straight from channels, added on top of the mouth):

    blink      mean(eyeBlinkLeft, eyeBlinkRight)  (blink_L / blink_R: one eye each; they win
               over blink for their side)
    brows_up   mean(browInnerUp, browOuterUpLeft, browOuterUpRight)
    brows_down mean(browDownLeft, browDownRight)
    smile      mean(mouthSmileLeft, mouthSmileRight)
    frown      mean(mouthFrownLeft, mouthFrownRight)

A pose map file (`--poses map.json`):

    {"armature": "Rig",                       # optional: which armature it is for
     "poses": {"rest": "mouth_rest", "MBP": "mouth_MBP", "AI": {"action": "chart", "frame": 10}}}

A bare object of shape -> pose is accepted as "poses".
"""
import os
from dataclasses import dataclass

import numpy as np

from .channels import index_of
from .json_files import read_json
from .mapping import normalize_key_name
from .signal import DEFAULT_FPS
from .visemes import VisemeSet, solve_visemes

MOUTH_SHAPES = {
    "rest": {}, "MBP": {"PP": 1.0}, "AI": {"aa": 1.0}, "E": {"E": 0.5, "ih": 0.5}, "O": {"oh": 1.0},
    "U": {"ou": 1.0}, "FV": {"FF": 1.0}, "L": {"TH": 0.5, "nn": 0.5}, "WQ": {"RR": 0.5, "ou": 0.5},
    "etc": {"DD": 0.25, "kk": 0.25, "SS": 0.25, "nn": 0.25},
}
EXPRESSION_POSES = {
    "blink": {"eyeBlinkLeft": 0.5, "eyeBlinkRight": 0.5},
    "blink_L": {"eyeBlinkLeft": 1.0}, "blink_R": {"eyeBlinkRight": 1.0},
    "brows_up": {"browInnerUp": 1 / 3, "browOuterUpLeft": 1 / 3, "browOuterUpRight": 1 / 3},
    "brows_down": {"browDownLeft": 0.5, "browDownRight": 0.5},
    "smile": {"mouthSmileLeft": 0.5, "mouthSmileRight": 0.5},
    "frown": {"mouthFrownLeft": 0.5, "mouthFrownRight": 0.5},
}
SHAPES = tuple(MOUTH_SHAPES) + tuple(EXPRESSION_POSES)

# Names an action (or pose marker) may carry for each shape, compared after
# `normalize_key_name` and after dropping a leading word such as "mouth" or "pose".
ALIASES = {
    "rest": ("rest", "neutral", "idle", "closed", "sil", "silence", "x"),
    "MBP": ("mbp", "bmp", "pbm", "pp", "m", "closedlips"),
    "AI": ("ai", "aa", "a", "ah"),
    "E": ("e", "ee", "eh", "i", "ih"),
    "O": ("o", "oh"),
    "U": ("u", "oo", "ou", "uw"),
    "FV": ("fv", "ff", "f"),
    "L": ("l", "th", "lth"),
    "WQ": ("wq", "w", "qw", "rr"),
    "etc": ("etc", "cdgknrsthyz", "consonants", "dd", "kk", "ss", "nn"),
    "blink": ("blink", "eyesclosed", "closeeyes", "eyeblink", "blinkboth"),
    "blink_L": ("blinkleft", "eyeblinkleft", "winkleft"),
    "blink_R": ("blinkright", "eyeblinkright", "winkright"),
    "brows_up": ("browsup", "browup", "browsraised", "browraise"),
    "brows_down": ("browsdown", "browdown", "browslowered", "frownbrows"),
    "smile": ("smile", "happy"),
    "frown": ("frown", "sad"),
}
_PREFIXES = ("mouth", "mth", "viseme", "vis", "pose", "lips", "lip", "face", "shape", "phoneme", "expr")
_BY_ALIAS = {alias: shape for shape, aliases in ALIASES.items() for alias in aliases}


class PoseMapError(ValueError):
    """A pose map that cannot be used; the message says why."""


@dataclass(frozen=True)
class PoseRef:
    action: str
    frame: float = None       # None: the action's first keyed frame


@dataclass
class PoseMap:
    poses: dict                               # shape -> PoseRef
    armature: str = None                      # the armature it is for (None: any)
    source: str = ""                          # where it came from, for messages

    def mouth_shapes(self) -> list:
        return [s for s in MOUTH_SHAPES if s in self.poses]

    def expression_shapes(self) -> list:
        return [s for s in EXPRESSION_POSES if s in self.poses]


def shape_for_name(name: str):
    """The shape a pose called `name` stands for ("Mouth_MBP" -> "MBP", "blink.L" ->
    "blink_L", "mouth_L" -> "L"), or None."""
    plain = "".join(c for c in name.lower() if c.isalnum())
    for form in (plain, normalize_key_name(name)):    # "L" is a shape, not only a side
        if form in _BY_ALIAS:
            return _BY_ALIAS[form]
        for prefix in _PREFIXES:
            if form.startswith(prefix) and form[len(prefix):] in _BY_ALIAS:
                return _BY_ALIAS[form[len(prefix):]]
        for suffix in ("pose", "shape"):
            if form.endswith(suffix) and form[:-len(suffix)] in _BY_ALIAS:
                return _BY_ALIAS[form[:-len(suffix)]]
    return None


def auto_fill(candidates) -> dict:
    """{shape: PoseRef} from (action name, frame or None, label) candidates: the first
    candidate whose label names a shape wins (an action's own name, or one of its pose
    markers)."""
    out = {}
    for action, frame, label in candidates:
        shape = shape_for_name(label)
        if shape is not None and shape not in out:
            out[shape] = PoseRef(action, frame)
    return out


def parse_pose_map(data, source="pose map") -> PoseMap:
    """A PoseMap from JSON data (module docstring); every problem raises PoseMapError."""
    if not isinstance(data, dict):
        raise PoseMapError(f"{source}: expected a JSON object of shape -> pose")
    armature = data.get("armature")
    poses = data.get("poses", None)
    if poses is None:
        poses = {k: v for k, v in data.items() if k != "armature"}
    elif set(data) - {"armature", "poses"}:
        raise PoseMapError(f"{source}: unknown fields {sorted(set(data) - {'armature', 'poses'})}; "
                           "use 'armature' and 'poses'")
    if armature is not None and not isinstance(armature, str):
        raise PoseMapError(f"{source}: 'armature' must be an object name")
    if not isinstance(poses, dict) or not poses:
        raise PoseMapError(f"{source}: no poses (expected e.g. {{\"MBP\": \"mouth_MBP\"}})")
    out = {}
    for shape, ref in poses.items():
        canonical = shape if shape in SHAPES else shape_for_name(shape)
        if canonical is None:
            raise PoseMapError(f"{source}: unknown shape '{shape}'; shapes are {', '.join(SHAPES)}")
        if isinstance(ref, str) and ref.strip():
            out[canonical] = PoseRef(ref)
        elif isinstance(ref, dict) and isinstance(ref.get("action"), str) and ref["action"].strip() \
                and set(ref) <= {"action", "frame"}:
            frame = ref.get("frame")
            if frame is not None and (isinstance(frame, bool) or not isinstance(frame, (int, float))
                                      or not np.isfinite(frame)):
                raise PoseMapError(f"{source}: '{shape}': frame must be a number")
            out[canonical] = PoseRef(ref["action"], None if frame is None else float(frame))
        else:
            raise PoseMapError(f"{source}: '{shape}' must be an action name or "
                               "{\"action\": NAME, \"frame\": N}")
    if not any(s != "rest" for s in out):
        raise PoseMapError(f"{source}: a rest pose alone animates nothing: map at least one other shape")
    return PoseMap(out, armature, source)


def load_pose_map(path) -> PoseMap:
    data = read_json(path, "pose map", PoseMapError)
    return parse_pose_map(data, source=os.path.basename(path))


def mouth_set(shapes) -> VisemeSet:
    """The viseme set of the mouth shapes a map has (rest, if mapped, is the rest target)."""
    shapes = [s for s in MOUTH_SHAPES if s in shapes]
    contacts = tuple(s for s in ("MBP", "FV") if s in shapes)
    return VisemeSet("poses", "pose map", tuple(shapes), {s: MOUTH_SHAPES[s] for s in shapes},
                     contacts=contacts, rest="rest" if "rest" in shapes else None)


def shape_channels(shapes) -> set:
    """The channels the given shapes read."""
    used = set()
    mouth = [s for s in shapes if s in MOUTH_SHAPES and s != "rest"]
    if mouth:
        used |= mouth_set(mouth).mouth_channels()
    for s in shapes:
        used |= set(EXPRESSION_POSES.get(s, {}))
    return used


def pose_weights(shapes, channels, weights, fps=DEFAULT_FPS) -> dict:
    """{shape: float32 [T]}: how much of each mapped pose every frame holds (module
    docstring). Shapes whose channels the take lacks are left out."""
    weights = np.asarray(weights, np.float32)
    idx = index_of(channels)
    out = {}
    mouth = [s for s in MOUTH_SHAPES if s in shapes]
    if any(s != "rest" for s in mouth):
        out.update(solve_visemes(tuple(channels), weights, mouth_set(mouth), fps))
    for shape in (s for s in EXPRESSION_POSES if s in shapes):
        mix = dict(EXPRESSION_POSES[shape])
        if shape == "blink":   # a side with its own blink pose is left to it
            for side, own in (("eyeBlinkLeft", "blink_L"), ("eyeBlinkRight", "blink_R")):
                if own in shapes:
                    mix.pop(side)
            if not mix:
                continue
            mix = {c: 1.0 / len(mix) for c in mix}
        present = [(idx[c], w) for c, w in mix.items() if c in idx]
        if present:
            out[shape] = np.clip(sum(w * weights[:, i] for i, w in present), 0.0, 1.0).astype(np.float32)
    return out


def blend_poses(weights: dict, poses: dict, base: dict) -> dict:
    """{(path, index): float64 [T]} for every property any weighted pose sets.

    weights: {shape: [T]}; poses: {shape: {(path, index): value}}; base: {(path, index):
    value} the value with no pose (the rest pose where mapped, else the property's value now).
    Quaternion components are blended like any value; the caller renormalises them."""
    n = len(next(iter(weights.values()))) if weights else 0
    props = sorted({p for shape in weights for p in poses.get(shape, {})})
    out = {}
    for prop in props:
        b = float(base[prop])
        total = np.full(n, b, np.float64)
        for shape, w in weights.items():
            value = poses.get(shape, {}).get(prop)
            if value is not None:
                total += np.asarray(w, np.float64) * (float(value) - b)
        out[prop] = total
    return out
