"""Canonical blendshape channel names.

ARKit's 52 names (camelCase, Apple's documentation order) are the lingua franca of the
project: every engine produces channels named from this list (plus a few extras), and the
mapping layer matches a mesh's shape keys against them.
"""
import numpy as np

ARKIT_52 = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft",
    "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight",
    "jawForward", "jawLeft", "jawRight", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight",
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)
assert len(ARKIT_52) == 52 and len(set(ARKIT_52)) == 52

# Head and eye rotations as Live Link Face records them (radians-ish, signed). They are
# channels like any other, so a mesh with matching shape keys (or a driver) can use them.
HEAD_EYE_ROTATIONS = (
    "headYaw", "headPitch", "headRoll",
    "leftEyeYaw", "leftEyePitch", "leftEyeRoll",
    "rightEyeYaw", "rightEyePitch", "rightEyeRoll",
)

# Region of each ARKit channel, used for per-group intensity in the keying layer.
GROUPS = ("mouth", "brows", "eyes", "other")
# Keyframe interpolations a take can be keyed with (Blender Keyframe.interpolation ids).
INTERPOLATIONS = ("LINEAR", "BEZIER", "CONSTANT")


def channel_group(name: str) -> str:
    """Which intensity group a canonical channel belongs to."""
    if name.startswith(("mouth", "jaw", "tongue", "cheekPuff")):
        return "mouth"
    if name.startswith("brow"):
        return "brows"
    if name.startswith(("eye", "leftEye", "rightEye")):
        return "eyes"
    return "other"


_LOWER = {n.lower(): n for n in ARKIT_52 + HEAD_EYE_ROTATIONS}


def canonical(name: str):
    """The canonical spelling of an ARKit/Live Link name (`JawOpen` -> `jawOpen`), or None."""
    return _LOWER.get(name.lower())


def index_of(channels) -> dict:
    """{channel name: column} of a channel tuple (one spelling of this lookup everywhere)."""
    return {n: i for i, n in enumerate(channels)}


def expand(name):
    """'mouthSmile' -> ('mouthSmileLeft', 'mouthSmileRight'); an exact ARKit name -> itself."""
    if name in ARKIT_52:
        return (name,)
    pair = (name + "Left", name + "Right")
    if all(p in ARKIT_52 for p in pair):
        return pair
    raise ValueError(f"'{name}' is not an ARKit channel (or a Left/Right pair of them)")


def shape_vector(shape: dict) -> np.ndarray:
    """ARKit weights of a {channel: weight} table as a vector over ARKIT_52."""
    out = np.zeros(len(ARKIT_52), np.float32)
    for name, weight in shape.items():
        for full in expand(name):
            out[ARKIT_52.index(full)] = weight
    return out
