"""Fixtures for the demo-head / preview / demo tests (bpy module, no GPU)."""
import numpy as np
import pytest

from unitaf_blender.core.channels import ARKIT_52, HEAD_EYE_ROTATIONS


def synthetic_performance(seconds=1.0, fps=30.0, sample_rate=16000, head_yaw=None):
    """A test-only Performance: a 220 Hz tone with a jaw/smile/blink pattern (not an engine).
    head_yaw: also add the head/eye rotation channels, with this constant yaw (radians)."""
    from unitaf_blender.core.performance import Performance
    n = int(seconds * fps)
    t = np.arange(n) / fps
    channels = ARKIT_52 + (HEAD_EYE_ROTATIONS if head_yaw is not None else ())
    w = np.zeros((n, len(channels)), np.float32)
    if head_yaw is not None:
        w[:, channels.index("headYaw")] = head_yaw
    w[:, ARKIT_52.index("jawOpen")] = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    w[:, ARKIT_52.index("mouthSmileLeft")] = 0.6
    w[:, ARKIT_52.index("mouthSmileRight")] = 0.6
    w[n // 2:n // 2 + 3, ARKIT_52.index("eyeBlinkLeft")] = 1.0
    ts = np.arange(int(seconds * sample_rate)) / sample_rate
    audio = 0.2 * np.sin(2 * np.pi * 220 * ts).astype(np.float32)
    return Performance(audio=audio, sample_rate=sample_rate, fps=fps, channels=channels, weights=w,
                       meta={"engine": "test-synthetic", "text": "test"})


@pytest.fixture
def make_perf():
    return synthetic_performance
