"""What face bones do with the 52 channels: one table of motions per face region, shared by
every rig whose face moves with bones (Rigify's face, a 3ds Max Biped face, a lone jaw bone).

A rig profile (blender/face_rigs.py) names the bone of each region it has; this module says
how each region moves, in the *character frame* (facing -Y, +Z up, +X the character's left:
Blender's front view) and in lengths relative to the face, so one table serves rigs of any
size and orientation:

    turn   radians about a character-frame axis through the bone's head
    move   a character-frame vector, in multiples of the region's unit:
           E = the distance between the eyes (bone to bone), the face's yardstick
           G = the gap between the upper and lower lid controls (Rigify: translate-lid rigs)
           D = the distance from the eyes to the gaze target (Rigify's `eyes` control)

Amounts were measured on the ARKit shape keys of the Rocketbox HeadBox face (MIT, in
../shared/assets; eye distance 60 mm): how far each key moves the vertices that each face bone
carries, divided by the eye distance, rounded. The jaw turns 0.2 rad at jawOpen 1 (the
HeadBox jawOpen key fits a 0.16-0.18 rad turn about the jaw bone); the Biped's upper lid turns
0.78 rad at eyeBlink 1 (fitted the same way on its blink key).

Lip seal: a jaw bone carries `jawOpen - mouthClose` (ARKit's mouthClose is the lips sealing
over an open jaw), so every bilabial closes the mouth even on a rig with no lip bone and no
closing key (`sealed_jaw`). Gaze on a target control reads the eye rotations; sources that
record only the eyeLook* weights get rotations from them (`with_gaze_rotations`).
"""
from dataclasses import dataclass

import numpy as np

from .channels import index_of

# Character frame: +X the character's left, +Y its back, +Z up.
LEFT, BACK, UP = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)

JAW_OPEN_RADIANS = 0.2
JAW_SIDE_RADIANS = 0.06      # jawLeft 1: the chin 5 mm sideways on a 60 mm-eyed face
BIPED_BLINK_RADIANS = 0.78
EYE_LOOK_RADIANS = 0.5       # eyeLook* 1.0 as an eye rotation (Live Link's eyes reach ~0.6)


@dataclass(frozen=True)
class Motion:
    """One way a region moves: `kind` "turn" (about `vector`, `amount` radians per unit of
    drive) or "move" (along `vector` scaled by `amount` units of `unit`); the drive is
    sum(weight * channel) over `drive` ((channel, weight), ...)."""
    kind: str
    vector: tuple
    amount: float
    drive: tuple
    unit: str = "E"

    def channels(self) -> tuple:
        return tuple(c for c, _ in self.drive)


def _move(vector, amount, *drive, unit="E"):
    return Motion("move", tuple(float(v) for v in vector), float(amount), tuple(drive), unit)


def _turn(axis, radians, *drive):
    return Motion("turn", tuple(float(v) for v in axis), float(radians), tuple(drive), unit="")


def _mirror(motion, side_from="Left", side_to="Right"):
    """The other side's motion: x flipped (a turn about X keeps its sense, about Y/Z flips),
    channels renamed Left -> Right (and mouthLeft <-> mouthRight)."""
    def rename(c):
        if c in ("mouthLeft", "mouthRight", "jawLeft", "jawRight"):
            return {"mouthLeft": "mouthRight", "mouthRight": "mouthLeft",
                    "jawLeft": "jawRight", "jawRight": "jawLeft"}[c]
        return c[:-len(side_from)] + side_to if c.endswith(side_from) else c
    x, y, z = motion.vector
    vector = (x, -y, -z) if motion.kind == "turn" else (-x, y, z)
    return Motion(motion.kind, vector, motion.amount, tuple((rename(c), w) for c, w in motion.drive), motion.unit)


def _both(*motions):
    return tuple(motions), tuple(_mirror(m) for m in motions)


_CORNER_L, _CORNER_R = _both(
    _move((0.035, 0, 0.055), 1.0, ("mouthSmileLeft", 1.0)),
    _move(UP, -0.077, ("mouthFrownLeft", 1.0)),
    _move((0.062, 0, -0.047), 1.0, ("mouthStretchLeft", 1.0)),
    _move((0.06, 0, 0.028), 1.0, ("mouthDimpleLeft", 1.0)),
    _move((-0.05, -0.07, 0), 1.0, ("mouthPucker", 1.0)),
    _move((-0.048, -0.033, 0), 1.0, ("mouthFunnel", 1.0)),
    _move(LEFT, 0.055, ("mouthLeft", 1.0), ("mouthRight", -1.0)),
)
_LIP_UPPER_SIDE_L, _LIP_UPPER_SIDE_R = _both(
    _move(UP, 0.09, ("mouthUpperUpLeft", 1.0)),
    _move((0, -0.13, 0.02), 1.0, ("mouthFunnel", 1.0)),
    _move(LEFT, 0.07, ("mouthLeft", 1.0), ("mouthRight", -1.0)),
)
_LIP_LOWER_SIDE_L, _LIP_LOWER_SIDE_R = _both(
    _move(UP, -0.08, ("mouthLowerDownLeft", 1.0)),
    _move((0, -0.1, 0), 1.0, ("mouthFunnel", 1.0)),
    _move(LEFT, 0.07, ("mouthLeft", 1.0), ("mouthRight", -1.0)),
)
_BROW_INNER_L, _BROW_INNER_R = _both(
    _move(UP, 0.13, ("browInnerUp", 1.0)), _move(UP, -0.06, ("browDownLeft", 1.0)))
_BROW_MID_L, _BROW_MID_R = _both(
    _move(UP, 0.06, ("browInnerUp", 1.0), ("browOuterUpLeft", 0.6)), _move(UP, -0.065, ("browDownLeft", 1.0)))
_BROW_OUTER_L, _BROW_OUTER_R = _both(
    _move(UP, 0.075, ("browOuterUpLeft", 1.0)), _move(UP, -0.07, ("browDownLeft", 1.0)))
_CHEEK_L, _CHEEK_R = _both(
    _move(UP, 0.12, ("cheekSquintLeft", 1.0), ("mouthSmileLeft", 0.4), ("noseSneerLeft", 0.5)),
    _move(LEFT, 0.05, ("cheekPuff", 1.0)))
_NOSE_L, _NOSE_R = _both(_move(UP, 0.03, ("noseSneerLeft", 1.0)))
# Lids that translate (Rigify): the upper lid travels 80 % of the lid gap, the lower 20 %,
# so a blink meets in between.
_LID_UPPER_MOVE_L, _LID_UPPER_MOVE_R = _both(
    _move(UP, -0.8, ("eyeBlinkLeft", 1.0), ("eyeSquintLeft", 0.15), unit="G"),
    _move(UP, 0.15, ("eyeWideLeft", 1.0), unit="G"))
_LID_LOWER_MOVE_L, _LID_LOWER_MOVE_R = _both(
    _move(UP, 0.2, ("eyeBlinkLeft", 1.0), ("eyeSquintLeft", 0.15), ("cheekSquintLeft", 0.1), unit="G"))
# Lids that turn about the eyeball (Biped): +X turns a forward-pointing lid down.
_LID_UPPER_TURN_L, _LID_UPPER_TURN_R = _both(
    _turn(LEFT, BIPED_BLINK_RADIANS, ("eyeBlinkLeft", 1.0), ("eyeSquintLeft", 0.15), ("eyeWideLeft", -0.15)))
_LID_LOWER_TURN_L, _LID_LOWER_TURN_R = _both(
    _turn(LEFT, -0.15, ("eyeBlinkLeft", 1.0), ("eyeSquintLeft", 0.5)))

# region -> motions. "jaw" reads the sealed jaw (see module docstring).
REGIONS = {
    "jaw": (_turn(LEFT, JAW_OPEN_RADIANS, ("jawOpen", 1.0)),
            _turn(UP, JAW_SIDE_RADIANS, ("jawLeft", 1.0), ("jawRight", -1.0))),
    "jaw_forward": (_move(BACK, -0.12, ("jawForward", 1.0)),),
    "lip_upper": (_move(UP, 0.045, ("mouthUpperUpLeft", 1.0), ("mouthUpperUpRight", 1.0)),
                  _move(UP, 0.07, ("mouthShrugUpper", 1.0)),
                  _move((0, 0.06, -0.05), 1.0, ("mouthRollUpper", 1.0)),
                  _move(UP, -0.01, ("mouthPressLeft", 1.0), ("mouthPressRight", 1.0)),
                  _move((0, -0.14, 0.05), 1.0, ("mouthFunnel", 1.0)),
                  _move(BACK, -0.05, ("mouthPucker", 1.0)),
                  _move(LEFT, 0.07, ("mouthLeft", 1.0), ("mouthRight", -1.0))),
    "lip_lower": (_move(UP, -0.035, ("mouthLowerDownLeft", 1.0), ("mouthLowerDownRight", 1.0)),
                  _move(UP, 0.1, ("mouthShrugLower", 1.0)),
                  _move((0, 0.12, 0.05), 1.0, ("mouthRollLower", 1.0)),
                  _move(UP, 0.01, ("mouthPressLeft", 1.0), ("mouthPressRight", 1.0)),
                  _move((0, -0.13, 0), 1.0, ("mouthFunnel", 1.0)),
                  _move(BACK, -0.05, ("mouthPucker", 1.0)),
                  _move(LEFT, 0.07, ("mouthLeft", 1.0), ("mouthRight", -1.0))),
    "lip_upper.L": _LIP_UPPER_SIDE_L, "lip_upper.R": _LIP_UPPER_SIDE_R,
    "lip_lower.L": _LIP_LOWER_SIDE_L, "lip_lower.R": _LIP_LOWER_SIDE_R,
    "corner.L": _CORNER_L, "corner.R": _CORNER_R,
    "brow_inner.L": _BROW_INNER_L, "brow_inner.R": _BROW_INNER_R,
    "brow_mid.L": _BROW_MID_L, "brow_mid.R": _BROW_MID_R,
    "brow_outer.L": _BROW_OUTER_L, "brow_outer.R": _BROW_OUTER_R,
    "brow_centre": (_move(UP, 0.15, ("browInnerUp", 1.0)),
                    _move(UP, -0.01, ("browDownLeft", 0.5), ("browDownRight", 0.5))),
    "cheek.L": _CHEEK_L, "cheek.R": _CHEEK_R,
    "nose.L": _NOSE_L, "nose.R": _NOSE_R,
    "nose": (_move(UP, 0.012, ("noseSneerLeft", 0.5), ("noseSneerRight", 0.5)),),
    "chin": (_move(UP, 0.05, ("mouthShrugLower", 1.0)),),
    "tongue": (_move((0, -0.41, 0.135), 1.0, ("tongueOut", 1.0)),),
    "lid_upper_move.L": _LID_UPPER_MOVE_L, "lid_upper_move.R": _LID_UPPER_MOVE_R,
    "lid_lower_move.L": _LID_LOWER_MOVE_L, "lid_lower_move.R": _LID_LOWER_MOVE_R,
    "lid_upper_turn.L": _LID_UPPER_TURN_L, "lid_upper_turn.R": _LID_UPPER_TURN_R,
    "lid_lower_turn.L": _LID_LOWER_TURN_L, "lid_lower_turn.R": _LID_LOWER_TURN_R,
    # gaze on one target in front of both eyes: yaw > 0 looks to the character's left,
    # pitch > 0 looks down (Live Link); tan(a) ~ a over the eyes' range
    "gaze_target": (_move(LEFT, 1.0, ("leftEyeYaw", 0.5), ("rightEyeYaw", 0.5), unit="D"),
                    _move(UP, -1.0, ("leftEyePitch", 0.5), ("rightEyePitch", 0.5), unit="D")),
}


def drive_values(motion, columns: dict):
    """sum(weight * channel) over the motion's channels present in `columns` ({name: [T]}),
    or None when none of them is."""
    present = [(columns[c], w) for c, w in motion.drive if c in columns]
    if not present:
        return None
    return sum(w * np.asarray(v, np.float64) for v, w in present)


def sealed_jaw(channels, weights) -> np.ndarray:
    """weights with jawOpen replaced by max(jawOpen - mouthClose, 0): the jaw of a face that
    has nothing else to seal the lips with closes on every bilabial."""
    idx = index_of(channels)
    out = np.array(weights, np.float32, copy=True)
    if "jawOpen" in idx and "mouthClose" in idx:
        out[:, idx["jawOpen"]] = np.maximum(out[:, idx["jawOpen"]] - out[:, idx["mouthClose"]], 0.0)
    return out


_LOOK = {"Left": ("eyeLookOutLeft", "eyeLookInLeft", "eyeLookDownLeft", "eyeLookUpLeft"),
         "Right": ("eyeLookInRight", "eyeLookOutRight", "eyeLookDownRight", "eyeLookUpRight")}


def with_gaze_rotations(channels, weights):
    """(channels, weights) with eye yaw/pitch, from the eyeLook* weights when the source has no
    eye rotation that moves (a neural face). Yaw > 0 looks to the character's left: out for
    the left eye, in for the right. Unchanged when rotations move or no eyeLook* exists."""
    idx = index_of(channels)
    weights = np.asarray(weights, np.float32)
    rotations = [f"{side}Eye{a}" for side in ("left", "right") for a in ("Yaw", "Pitch")]
    if any(r in idx and np.abs(weights[:, idx[r]]).max(initial=0.0) > 1e-6 for r in rotations):
        return tuple(channels), weights
    if not any(c in idx for names in _LOOK.values() for c in names):
        return tuple(channels), weights
    def col(name):
        return weights[:, idx[name]] if name in idx else np.zeros(len(weights), np.float32)
    extra = {}
    for side, (toward_left, toward_right, down, up) in _LOOK.items():
        extra[f"{side.lower()}EyeYaw"] = EYE_LOOK_RADIANS * (col(toward_left) - col(toward_right))
        extra[f"{side.lower()}EyePitch"] = EYE_LOOK_RADIANS * (col(down) - col(up))
    keep = [i for i, c in enumerate(channels) if c not in extra]
    names = tuple(channels[i] for i in keep) + tuple(extra)
    values = np.concatenate([weights[:, keep], np.stack(list(extra.values()), 1)], 1).astype(np.float32)
    return names, values
