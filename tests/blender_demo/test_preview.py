"""Headless preview: frame sheet PNG of the right size, MP4 with an audio track."""
import os

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from unitaf_blender.blender import preview
from unitaf_blender.blender.demo_head import SCALE, build_demo_head
from unitaf_blender.core.audio_io import write_wav


@pytest.fixture
def animated(clean_scene, tmp_path):
    scene = bpy.context.scene
    scene.render.fps = 30
    head = build_demo_head()
    preview.setup_preview_scene(scene, head, center=(0, 0, 0), height=2.2 * SCALE)
    kb = head.data.shape_keys.key_blocks["jawOpen"]
    for frame, value in ((1, 0.0), (6, 1.0), (10, 0.0)):
        kb.value = value
        kb.keyframe_insert("value", frame=frame)
    scene.frame_start, scene.frame_end = 1, 10
    return scene, head


def _png_size(path):
    img = bpy.data.images.load(str(path), check_existing=False)
    try:
        return tuple(img.size), np.array(img.pixels[:]).reshape(img.size[1], img.size[0], 4)
    finally:
        bpy.data.images.remove(img)


def test_sheet_of_two_frames_has_the_right_size_and_content(animated, tmp_path):
    scene, _ = animated
    engine_before, path_before = scene.render.engine, scene.render.filepath
    out = preview.render_preview(scene, tmp_path / "p", frames=[1, 6], resolution=(64, 48),
                                 mode="sheet", progress=None)
    assert out == [str(tmp_path / "p_sheet.png")]
    (w, h), px = _png_size(out[0])
    gap = 4
    assert (w, h) == (2 * 64 + 3 * gap, 48 + 2 * gap)
    left, right = px[gap:gap + 48, gap:gap + 64, :3], px[gap:gap + 48, 2 * gap + 64:2 * gap + 128, :3]
    assert left.std() > 0.02 and right.std() > 0.02          # a face, not a blank frame
    assert np.abs(left - right).mean() > 1e-3                # the jaw moved between frames
    # The scene's own render settings are put back.
    assert scene.render.engine == engine_before and scene.render.filepath == path_before
    assert [im.type for im in bpy.data.images] in ([], ['RENDER_RESULT'])   # no tiles left behind


@pytest.mark.skipif(not preview.can_write_video(), reason="this bpy build has no FFmpeg")
def test_video_has_video_and_audio_tracks(animated, tmp_path):
    scene, _ = animated
    if not bpy.app.build_options.audaspace:
        pytest.skip("this bpy build has no Audaspace (the 4.2 wheel): no sound strips")
    sr = 16000
    t = np.arange(sr // 3) / sr
    wav = tmp_path / "tone.wav"
    write_wav(str(wav), 0.3 * np.sin(2 * np.pi * 440 * t), sr)
    se = scene.sequence_editor_create()
    strips = se.strips if hasattr(se, "strips") else se.sequences
    strips.new_sound("tone", str(wav), 1, 1)
    out = preview.render_preview(scene, tmp_path / "v", resolution=(64, 64), mode="video",
                                 progress=None)
    assert out == [str(tmp_path / "v.mp4")]
    data = open(out[0], "rb").read()
    assert b"ftyp" in data[:16] and b"avc1" in data and b"mp4a" in data


def test_bad_arguments_are_clear_errors(animated, tmp_path):
    scene, _ = animated
    with pytest.raises(ValueError, match="preview mode"):
        preview.render_preview(scene, tmp_path / "x", mode="gif")
    with pytest.raises(ValueError, match="preview engine"):
        preview.render_preview(scene, tmp_path / "x", engine="EEVEE")
    scene.camera = None
    with pytest.raises(preview.PreviewError, match="no camera"):
        preview.render_preview(scene, tmp_path / "x", mode="sheet")
    assert not os.listdir(tmp_path)


def test_auto_falls_back_to_cycles_when_workbench_cannot_render(animated, tmp_path, monkeypatch):
    """Without any OpenGL, Workbench fails; the preview must still come out (Cycles, CPU)."""
    scene, _ = animated
    real = preview._render_still

    def no_opengl(scene_, frame, path):
        if scene_.render.engine == 'BLENDER_WORKBENCH':
            raise RuntimeError("Error: unable to create an OpenGL context")
        real(scene_, frame, path)
    monkeypatch.setattr(preview, "_render_still", no_opengl)
    said = []
    out = preview.render_preview(scene, tmp_path / "c", frames=[6], resolution=(32, 32),
                                 mode="auto", progress=said.append)
    assert out == [str(tmp_path / "c_sheet.png")]          # no slow Cycles video in auto mode
    assert any("CYCLES" in s for s in said)
    (w, h), px = _png_size(out[0])
    assert (w, h) == (32 + 8, 32 + 8) and px[4:36, 4:36, :3].std() > 0.02
