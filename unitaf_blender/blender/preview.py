"""Headless preview renders of an animated face: a frame sheet PNG and an MP4 with the audio.

Works in background mode and in the bpy module with no GPU:
- Workbench is tried first. Without a GPU it runs on a software OpenGL (Mesa llvmpipe,
  ~40 ms per 320x320 frame without anti-aliasing on a 2-core VM). Where no OpenGL context
  can be made at all, the render raises or comes back blank.
- Then Cycles on the CPU with a few samples (~1 s per frame): good enough for a frame sheet,
  too slow for a video, so `mode="auto"` skips the video in that case.
The MP4 (H.264 + AAC) uses Blender's own FFmpeg writer, which mixes the scene's sound strips,
so the video carries the speech in sync. Render settings are restored afterwards.
"""
import math
import os
import sys
import tempfile
import time
from contextlib import contextmanager

import bpy
import numpy as np
from mathutils import Vector

MODES = ("auto", "sheet", "video")
ENGINES = ("auto", "WORKBENCH", "CYCLES")
SHEET_FRAMES = 12


class PreviewError(RuntimeError):
    """The preview could not be rendered; the message says why."""


# --- scene setup -----------------------------------------------------------------------------

def setup_preview_scene(scene, obj, center=None, height=None, name="UniTAF_Preview"):
    """Add a camera framing `obj` from the front (-Y), soft lights and a world colour.

    center: world point to frame (default: the top of the bounding box, where a head is);
    height: world height to fit in the frame. Returns the camera object.
    """
    corners = [obj.matrix_world @ Vector(c) for c in obj.bound_box]
    lo = Vector([min(c[i] for c in corners) for i in range(3)])
    hi = Vector([max(c[i] for c in corners) for i in range(3)])
    size = hi - lo
    if height is None:
        height = min(size.z, 1.4 * max(size.x, size.y))
    if center is None:
        center = Vector((0.5 * (lo.x + hi.x), 0.5 * (lo.y + hi.y), hi.z - 0.5 * height))
    center = Vector(center)
    cam_data = bpy.data.cameras.new(name)
    cam_data.lens = 85.0
    cam_data.sensor_fit = 'VERTICAL'
    fov = 2 * math.atan(0.5 * cam_data.sensor_height / cam_data.lens)
    dist = 1.1 * height / (2 * math.tan(0.5 * fov)) + 0.5 * size.y
    cam = bpy.data.objects.new(name, cam_data)
    cam.location = center + Vector((0.12 * dist, -dist, 0.05 * dist))
    cam.rotation_euler = (center - cam.location).to_track_quat('-Z', 'Y').to_euler()
    cam_data.clip_start = max(1e-3, 0.05 * dist)
    cam_data.clip_end = 20 * dist
    scene.collection.objects.link(cam)
    scene.camera = cam
    # Key, fill and rim lights (Cycles/EEVEE; Workbench uses studio lighting instead).
    for label, offset, power, size_ in (("Key", (-0.8, -1.0, 0.7), 18.0, 0.6),
                                        ("Fill", (1.0, -0.8, 0.1), 6.0, 1.0),
                                        ("Rim", (0.3, 1.0, 0.9), 10.0, 0.5)):
        light = bpy.data.lights.new(f"{name}_{label}", 'AREA')
        light.energy = power * dist ** 2
        light.size = size_ * dist
        lobj = bpy.data.objects.new(light.name, light)
        lobj.location = center + Vector(offset) * dist
        lobj.rotation_euler = (center - lobj.location).to_track_quat('-Z', 'Y').to_euler()
        scene.collection.objects.link(lobj)
    world = scene.world or bpy.data.worlds.new(name)
    scene.world = world
    world.color = (0.18, 0.20, 0.24)
    tree = getattr(world, "node_tree", None)
    if tree is None and hasattr(world, "use_nodes"):
        world.use_nodes = True
        tree = world.node_tree
    bg = next((n for n in tree.nodes if n.type == 'BACKGROUND'), None) if tree else None
    if bg is not None:
        bg.inputs["Color"].default_value = (0.18, 0.20, 0.24, 1.0)
        bg.inputs["Strength"].default_value = 0.5
    shading = scene.display.shading
    shading.light = 'STUDIO'
    shading.color_type = 'MATERIAL'
    return cam


# --- settings save/restore -------------------------------------------------------------------

_RENDER_ATTRS = ("engine", "filepath", "resolution_x", "resolution_y", "resolution_percentage",
                 "use_file_extension", "use_stamp", "stamp_font_size", "film_transparent")


class _Saved:
    """Remember the render settings we touch and put them back (the .blend stays as it was)."""

    def __init__(self, scene):
        r = scene.render
        self.scene = scene
        self.render = {a: getattr(r, a) for a in _RENDER_ATTRS if hasattr(r, a)}
        self.stamp = {p.identifier: getattr(r, p.identifier) for p in r.bl_rna.properties
                      if p.identifier.startswith("use_stamp_")}
        im = r.image_settings
        self.media = getattr(im, "media_type", None)
        self.file_format = im.file_format
        self.ffmpeg = {a: getattr(r.ffmpeg, a) for a in ("format", "codec", "audio_codec",
                                                         "constant_rate_factor", "ffmpeg_preset")}
        self.aa = scene.display.render_aa
        self.frame = scene.frame_current
        self.cycles = None
        if hasattr(scene, "cycles"):
            self.cycles = {a: getattr(scene.cycles, a) for a in ("samples", "use_denoising", "device")
                           if hasattr(scene.cycles, a)}

    def restore(self):
        s, r = self.scene, self.scene.render
        _set_format(r, self.media, self.file_format)
        for a, v in self.ffmpeg.items():
            _try_set(r.ffmpeg, a, v)
        for a, v in {**self.render, **self.stamp}.items():
            _try_set(r, a, v)
        s.display.render_aa = self.aa
        for a, v in (self.cycles or {}).items():
            _try_set(s.cycles, a, v)
        s.frame_set(self.frame)


def _try_set(owner, attr, value):
    try:
        setattr(owner, attr, value)
    except (AttributeError, TypeError, ValueError):
        pass


def _set_format(r, media, file_format):
    im = r.image_settings
    if media is not None and hasattr(im, "media_type"):   # 5.0+: pick image/video first
        im.media_type = media
    im.file_format = file_format


def _configure(scene, engine, resolution, antialias):
    """antialias: a Workbench setting ('OFF', 'FXAA', '5', '8', ...)."""
    r = scene.render
    r.engine = 'BLENDER_WORKBENCH' if engine == "WORKBENCH" else 'CYCLES'
    r.resolution_x, r.resolution_y = int(resolution[0]), int(resolution[1])
    r.resolution_percentage = 100
    r.film_transparent = False
    scene.display.render_aa = antialias
    if engine == "CYCLES":
        c = scene.cycles
        c.device = 'CPU'
        c.samples = 12
        c.use_denoising = False
    # Burn the time code into each frame: the sheet and the video show where they are.
    for p in r.bl_rna.properties:
        if p.identifier.startswith("use_stamp_"):
            _try_set(r, p.identifier, p.identifier in ("use_stamp_time", "use_stamp_frame"))
    r.use_stamp = True
    r.stamp_font_size = max(10, int(resolution[1]) // 22)


# --- rendering -------------------------------------------------------------------------------

@contextmanager
def _quiet(enabled=True):
    """Blender prints a line per frame (and EGL warnings without a GPU) on the C-level
    stdout/stderr; send them to a temporary log, shown only if the render fails."""
    try:
        if not enabled:
            raise OSError
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
    except (OSError, AttributeError, ValueError):
        yield
        return
    log = tempfile.TemporaryFile()
    ok = False
    try:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        yield
        ok = True
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
        if not ok:
            log.seek(0)
            tail = log.read()[-4000:].decode("utf-8", "replace")
            sys.stderr.write(f"--- Blender output before the failure ---\n{tail}\n")
        log.close()


def _render_still(scene, frame, path):
    scene.frame_set(frame)
    scene.render.filepath = path
    _set_format(scene.render, 'IMAGE', 'PNG')
    bpy.ops.render.render(write_still=True)
    if not os.path.isfile(path):
        raise PreviewError(f"the renderer wrote no image for frame {frame}")


def _load_pixels(path):
    img = bpy.data.images.load(path, check_existing=False)
    try:
        w, h = img.size
        px = np.empty(w * h * 4, dtype=np.float32)
        img.pixels.foreach_get(px)
    finally:
        bpy.data.images.remove(img)
    return px.reshape(h, w, 4)


def _looks_rendered(px):
    """A failed GL context gives a blank or uniform image; a real render has contrast."""
    return float(px[..., :3].std()) > 0.01


def _write_png(path, rgba):
    h, w = rgba.shape[:2]
    img = bpy.data.images.new("UniTAF_sheet", w, h, alpha=False)
    try:
        img.pixels.foreach_set(np.ascontiguousarray(rgba, dtype=np.float32).ravel())
        img.filepath_raw = path
        img.file_format = 'PNG'
        img.save()
    finally:
        bpy.data.images.remove(img)


def _sheet(tiles, cols, gap=4):
    """Tiles [h, w, 4] (bottom-up rows, as Blender stores pixels) -> one grid image."""
    h, w = tiles[0].shape[:2]
    rows = math.ceil(len(tiles) / cols)
    out = np.full((rows * h + (rows + 1) * gap, cols * w + (cols + 1) * gap, 4), 0.08, np.float32)
    out[..., 3] = 1.0
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        y0 = out.shape[0] - (r + 1) * (h + gap)          # first tile at the top-left
        x0 = gap + c * (w + gap)
        out[y0:y0 + h, x0:x0 + w] = t
    return out


def default_frames(scene, n=SHEET_FRAMES):
    a, b = scene.frame_start, scene.frame_end
    return sorted(set(int(round(f)) for f in np.linspace(a, b, min(n, b - a + 1))))


def can_write_video() -> bool:
    return bool(getattr(bpy.app.build_options, "codec_ffmpeg", False))


def render_preview(scene, out_path_stem, frames=None, resolution=(320, 320), mode="auto",
                   engine="auto", progress=print, quiet=True):
    """Render a preview of `scene` (its camera, its frame range). Returns the written paths.

    mode "sheet": a PNG grid of `frames` (default 12 spread over the range) with time stamps;
    "video": an MP4 of the whole range with the scene's audio; "auto": both when a fast
    renderer is available, else only the sheet. engine: "auto" | "WORKBENCH" | "CYCLES".
    quiet: hide Blender's per-frame log lines (shown if a render fails).
    """
    if mode not in MODES:
        raise ValueError(f"preview mode must be one of {', '.join(MODES)}, got {mode!r}")
    if engine not in ENGINES:
        raise ValueError(f"preview engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if scene.camera is None:
        raise PreviewError("the scene has no camera (use setup_preview_scene first)")
    if mode == "video" and not can_write_video():
        raise PreviewError("this Blender build has no FFmpeg: use mode='sheet'")
    progress = progress or (lambda *a: None)
    out_path_stem = os.path.abspath(os.fspath(out_path_stem))
    os.makedirs(os.path.dirname(out_path_stem), exist_ok=True)
    frames = list(frames) if frames is not None else default_frames(scene)
    if not frames:
        raise ValueError("no frames to render")
    written, saved = [], _Saved(scene)
    t0 = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="unitaf_preview_") as tmp:
            with _quiet(quiet):
                used, first = _pick_engine(scene, engine, resolution, frames[0], tmp)
            progress(f"preview: rendering with {used}")
            if mode in ("auto", "sheet"):
                tiles = [first]
                for i, f in enumerate(frames[1:], 1):
                    path = os.path.join(tmp, f"f{i:04d}.png")
                    with _quiet(quiet):
                        _render_still(scene, f, path)
                    tiles.append(_load_pixels(path))
                cols = min(len(tiles), max(1, math.ceil(math.sqrt(len(tiles) * 4 / 3))))
                sheet = out_path_stem + "_sheet.png"
                _write_png(sheet, _sheet(tiles, cols))
                written.append(sheet)
                progress(f"preview: frame sheet ({len(tiles)} frames) -> {sheet}")
            if mode == "video" or (mode == "auto" and used == "WORKBENCH" and can_write_video()):
                with _quiet(quiet):
                    written.append(_render_video(scene, out_path_stem + ".mp4", used, resolution))
                progress(f"preview: video -> {written[-1]}")
    finally:
        saved.restore()
    progress(f"preview: done in {time.perf_counter() - t0:.1f} s")
    return written


def _pick_engine(scene, engine, resolution, frame, tmp):
    """Render the first still with the requested/first working engine -> (engine, pixels)."""
    tried = []
    for candidate in (("WORKBENCH", "CYCLES") if engine == "auto" else (engine,)):
        if candidate == "CYCLES" and not getattr(bpy.app.build_options, "cycles", True):
            continue
        _configure(scene, candidate, resolution, antialias='5')
        path = os.path.join(tmp, f"probe_{candidate}.png")
        try:
            _render_still(scene, frame, path)
            px = _load_pixels(path)
        except (RuntimeError, PreviewError) as e:
            tried.append(f"{candidate}: {e}")
            continue
        if _looks_rendered(px):
            return candidate, px
        tried.append(f"{candidate}: blank image")
    raise PreviewError("no renderer worked here (" + "; ".join(tried) + ")")


def _render_video(scene, path, engine, resolution):
    r = scene.render
    # Multi-sample AA costs ~6x per frame on software GL; FXAA ~3x and looks close.
    _configure(scene, engine, resolution, antialias='FXAA')
    _set_format(r, 'VIDEO', 'FFMPEG')
    r.ffmpeg.format = 'MPEG4'
    r.ffmpeg.codec = 'H264'
    r.ffmpeg.constant_rate_factor = 'MEDIUM'
    r.ffmpeg.ffmpeg_preset = 'REALTIME'
    r.ffmpeg.audio_codec = 'AAC'
    r.use_file_extension = False
    r.filepath = path
    if os.path.exists(path):
        os.remove(path)
    bpy.ops.render.render(animation=True)
    if not os.path.isfile(path):
        raise PreviewError(f"the video was not written to {path}")
    return path
