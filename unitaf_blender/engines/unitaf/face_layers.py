"""The face a take keys from the neural face head's output: our expression layer over the neural
mouth (core's upper face driven by the same emotion timeline), or the face as a trained
expression model made it."""
from __future__ import annotations

import numpy as np

from ...core.channels import ARKIT_52
from ...core.upper_face import FACE_CHANNELS, FACE_INDEX, merge_layers, upper_face
from ...core.voice_prosody import VoiceProsody
from .audio import SPEAKER_RATE
from .face import FACE_FPS, to_performance_channels


def with_upper_face(face: np.ndarray, audio: np.ndarray, emotion_times, emotion_vectors,
                    seed: int = 0, fps: float = FACE_FPS, sample_rate: int = SPEAKER_RATE) -> tuple:
    """The expression layer (option expression_layer) over the neural mouth: core's whole upper
    face (emotion shapes, blinks, gaze, head motion) driven by the same emotion timeline. The published model carries emotion only
    through the speech, so without this an angry line would not look angry.
    Returns (FACE_CHANNELS, weights [T, 61]) with ARKit weights clipped to [0, 1]."""
    names, weights = to_performance_channels(face)
    n = len(weights)
    mouth = np.zeros((n, len(FACE_CHANNELS)), np.float32)
    for j, name in enumerate(names):
        mouth[:, FACE_INDEX[name]] = weights[:, j]
    mouth[:, :len(ARKIT_52)] = np.clip(mouth[:, :len(ARKIT_52)], 0.0, 1.0)
    prosody = VoiceProsody.from_audio(audio, sample_rate, n, fps)
    upper = upper_face(emotion_times, emotion_vectors, n, fps, seed, prosody=prosody)
    return FACE_CHANNELS, merge_layers(mouth, upper)


def face_layers(face, audio, sample_rate, times, vectors, layer: str, models, seed) -> tuple:
    """(channels, weights, expression meta): our expression layer over the neural face, or the
    face as the model made it. `layer` is the expression_layer option: on, off, or auto (with a
    trained expression model, "auto" leaves the layer off)."""
    use_layer = layer == "on" or (layer == "auto" and models.face.expression is None)
    if use_layer:
        channels, weights = with_upper_face(face, audio, times, vectors, int(seed), sample_rate=sample_rate)
    else:
        channels, weights = to_performance_channels(face)
    return channels, weights, ("layer" if use_layer else "none") + ("+model" if models.face.expression is not None else "")
