"""Fixtures for the demo-head / preview / demo tests (bpy module, no GPU)."""
import numpy as np
import pytest
from helpers import make_perf as synthetic

from unitaf_blender.core.channels import ARKIT_52, HEAD_EYE_ROTATIONS


def synthetic_performance(seconds=1.0, fps=30.0, sample_rate=16000, head_yaw=None):
    """A test-only Performance: a 220 Hz tone with a jaw/smile/blink pattern (not an engine).
    head_yaw: also add the head/eye rotation channels, with this constant yaw (radians)."""
    channels = ARKIT_52 + (HEAD_EYE_ROTATIONS if head_yaw is not None else ())
    n = int(seconds * fps)

    def pattern(t, i):
        name = channels[i]
        if name == "headYaw":
            return np.full_like(t, head_yaw)
        if name == "jawOpen":
            return 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
        if name in ("mouthSmileLeft", "mouthSmileRight"):
            return np.full_like(t, 0.6)
        if name == "eyeBlinkLeft":
            return ((np.arange(len(t)) >= n // 2) & (np.arange(len(t)) < n // 2 + 3)).astype(float)
        return np.zeros_like(t)
    return synthetic(seconds, fps, channels, fn=pattern, frames=n, sample_rate=sample_rate,
                     meta={"engine": "test-synthetic", "text": "test"})


@pytest.fixture
def make_perf():
    return synthetic_performance
