"""Gaze and head motion of a speaker, timed by the phrases and accents of the voice.

Gaze: fixations joined by ~40 ms saccades. Speakers look away as they start a phrase and back
to the listener as they finish it (Kendon 1967; Ho et al. 2015); between those, seeded
saccades come at a rate that rises with arousal. Head: slow drift, an emotion's pitch offset,
a small turn to a new resting yaw at each phrase start, a nod as a statement's phrase ends
(chin up and a tilt on a rising question), and a small nod into pitch accents and loud
stressed syllables (Hadar et al. 1983). The eyes counter-rotate against most of the head
motion, so they keep looking where they look; that is what makes small head motion read as
natural.

Rotation channels follow Live Link Face's convention (checked on the shared Live Link CSV,
where eyeLookDown goes with positive pitch): radians, pitch > 0 looks down, yaw > 0 turns
toward the subject's left.
"""
import numpy as np

from .performance import EMOTIONS
from .signal import gesture, slow_noise, smooth

# Head pitch offset at full intensity, radians (> 0 = down): sad heads drop, surprise lifts.
HEAD_PITCH = {"happy": -0.02, "angry": 0.03, "sad": 0.08, "afraid": -0.01, "disgusted": 0.01,
              "melancholic": 0.06, "surprised": -0.04, "calm": 0.0}
GAZE_PITCH = {"sad": 0.08, "melancholic": 0.06, "disgusted": 0.02}
EYE_WEIGHT_PER_RADIAN = 1.6   # eyeLook* weight per radian of eye rotation (Live Link CSV)
P_LOOK_AWAY, P_LOOK_BACK = 0.6, 0.6
PHRASE_TURN = (0.015, 0.05)   # radians of yaw a phrase start may turn the head by
PHRASE_NOD = 0.035            # radians down at a statement's end
QUESTION_LIFT, QUESTION_TILT = 0.03, 0.02
ACCENT_NOD, EMPHASIS_NOD = 0.025, 0.012

_HEAD_PITCH = np.array([HEAD_PITCH[e] for e in EMOTIONS], np.float64)
_GAZE_PITCH = np.array([GAZE_PITCH.get(e, 0.0) for e in EMOTIONS], np.float64)


def _fixations(rng, n_frames, fps, rate, spread, cues=None):
    """(targets [T, 2] (yaw, pitch) piecewise constant, shifts [(frame, size in radians)])."""
    out = np.zeros((n_frames, 2))
    planned = []
    if cues is not None:
        for ph in cues.phrases:
            if rng.random() < P_LOOK_AWAY:
                planned.append((ph.start / fps - rng.uniform(0.0, 0.15), "away"))
            if rng.random() < P_LOOK_BACK:
                planned.append((ph.end / fps - rng.uniform(0.1, 0.4), "back"))
    planned.sort()

    def away(k):
        s = spread[min(k, n_frames - 1)]
        return np.clip(rng.normal(0.0, [0.06 * s, 0.035 * s]), -0.18, 0.18)

    t, duration, target, shifts, i = 0.0, n_frames / fps, rng.normal(0.0, 0.008, 2), [], 0
    while t < duration:
        k0 = int(t * fps)
        nxt = t + max(0.25, rng.gamma(2.0, 0.6) / rate[min(k0, n_frames - 1)])
        while i < len(planned) and planned[i][0] <= t + 0.2:
            i += 1                                  # too close to the last saccade
        kind = "random"
        if i < len(planned) and planned[i][0] < nxt:
            nxt, kind = planned[i][0], planned[i][1]
            i += 1
        out[k0:int(nxt * fps) + 1] = target
        if nxt >= duration:
            break
        if kind == "away":
            new = away(int(nxt * fps))
        elif kind == "back" or rng.random() < 0.5:  # speakers keep coming back to the listener
            new = rng.normal(0.0, 0.008, 2)
        else:
            new = away(int(nxt * fps))
        shifts.append((int(round(nxt * fps)), float(np.hypot(*(new - target)))))
        target, t = new, nxt
    return out, shifts


def gaze_head_track(n_frames, fps, rng, emotions=None, cues=None):
    """(dict channel -> [T], gaze shifts [(frame, size)]): eye rotations (radians) with the
    matching eyeLook* weights, and head yaw/pitch/roll."""
    n_frames = int(n_frames)
    if emotions is None:
        emotions = np.zeros((n_frames, len(EMOTIONS)))
    arousal = emotions[:, EMOTIONS.index("afraid")] + 0.5 * emotions[:, EMOTIONS.index("surprised")]
    rate = 1.0 + 0.8 * arousal - 0.3 * emotions[:, EMOTIONS.index("calm")]
    gaze, shifts = _fixations(rng, n_frames, fps, np.clip(rate, 0.3, 3.0), 1.0 + 0.5 * arousal, cues)
    gaze = smooth(gaze, 0.6)                    # a saccade takes ~40 ms, not zero
    gaze += 0.004 * slow_noise(rng, n_frames, fps, 2, 0.2, 1.0)  # fixational drift
    gaze[:, 1] += emotions @ _GAZE_PITCH

    noise = slow_noise(rng, n_frames, fps, 3, 0.05, 0.35)
    head = noise * np.array([0.03, 0.018, 0.012])
    head[:, 1] += emotions @ _HEAD_PITCH
    head[:, 2] += 0.02 * emotions[:, EMOTIONS.index("happy")] * np.sign(rng.uniform(-1, 1))
    if cues is not None:
        head += phrase_gestures(rng, n_frames, fps, cues)
    eye = gaze - 0.7 * head[:, :2]

    yaw, pitch = eye[:, 0], eye[:, 1]
    k = EYE_WEIGHT_PER_RADIAN
    right_of_subject, left_of_subject = k * np.maximum(-yaw, 0), k * np.maximum(yaw, 0)
    tracks = {
        "headYaw": head[:, 0], "headPitch": head[:, 1], "headRoll": head[:, 2],
        "leftEyeYaw": yaw, "leftEyePitch": pitch, "leftEyeRoll": np.zeros(n_frames),
        "rightEyeYaw": yaw, "rightEyePitch": pitch, "rightEyeRoll": np.zeros(n_frames),
        "eyeLookOutLeft": left_of_subject, "eyeLookInRight": left_of_subject,
        "eyeLookInLeft": right_of_subject, "eyeLookOutRight": right_of_subject,
        "eyeLookDownLeft": k * np.maximum(pitch, 0), "eyeLookDownRight": k * np.maximum(pitch, 0),
        "eyeLookUpLeft": k * np.maximum(-pitch, 0), "eyeLookUpRight": k * np.maximum(-pitch, 0),
    }
    return tracks, shifts


def phrase_gestures(rng, n_frames, fps, cues):
    """[T, 3] head yaw/pitch/roll added by phrases (turns, nods, question lifts) and accents."""
    out = np.zeros((n_frames, 3))
    yaw, level = np.zeros(n_frames), 0.0
    for ph in cues.phrases:
        level = np.clip(level + rng.choice([-1, 1]) * rng.uniform(*PHRASE_TURN), -0.06, 0.06)
        yaw[ph.start:] = level
    turns = smooth(yaw, 0.12 * fps)
    out[:, 0] = turns - turns[0]
    statements = [ph.end for ph in cues.phrases if ph.question < 0.3]
    nods = gesture(n_frames, fps, statements, [rng.uniform(0.6, 1.0) for _ in statements],
                   lead_s=0.2, hold_s=0.05, release_s=0.35)
    out[:, 1] += PHRASE_NOD * nods + ACCENT_NOD * cues.accents + EMPHASIS_NOD * cues.emphasis
    out[:, 1] -= QUESTION_LIFT * cues.questions
    out[:, 2] += QUESTION_TILT * cues.questions * np.sign(rng.uniform(-1, 1))
    return out
