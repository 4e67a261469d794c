"""Blender-layer test helpers: a small face mesh and synthetic performances (imported by tests)."""
import contextlib

import numpy as np

from unitaf_blender.core.channels import ARKIT_52, HEAD_EYE_ROTATIONS
from unitaf_blender.core.performance import Performance

# mouthClose seals the lips, so jawOpen is keyed as the performance's own value (a face
# without a lip closer gets jawOpen - mouthClose: core.face_bones.sealed_jaw)
FACE_KEYS = ("jawOpen", "mouthClose", "mouthSmileLeft", "browInnerUp", "eyeBlinkLeft", "cheekSquintLeft")


def make_face(bpy, name="Face", keys=FACE_KEYS, link=True):
    """A cube mesh with a Basis and the given shape keys (each moves vertex 0 a little), all
    at 0: a neutral face (bpy 5.x gives a new key 1.0, 4.2 gives 0.0)."""
    import bmesh
    me = bpy.data.meshes.new(name)
    bm = bmesh.new()
    bmesh.ops.create_cube(bm, size=1.0)
    bm.to_mesh(me)
    bm.free()
    obj = bpy.data.objects.new(name, me)
    if link:
        bpy.context.scene.collection.objects.link(obj)
    if keys:
        obj.shape_key_add(name="Basis")
        for k in keys:
            kb = obj.shape_key_add(name=k, from_mix=False)
            kb.data[0].co.z += 0.5
            kb.value = 0.0
    return obj


def make_perf(seconds=2.0, fps=25.0, channels=ARKIT_52, seed=0, audio=True, sample_rate=16000, fn=None):
    """Random weights in [0, 1] (or fn(t[T], channel_index) -> values) and a quiet tone."""
    n = int(round(seconds * fps)) + 1
    t = np.arange(n) / fps
    if fn is None:
        w = np.random.default_rng(seed).random((n, len(channels))).astype(np.float32)
    else:
        w = np.stack([fn(t, i) for i in range(len(channels))], axis=1).astype(np.float32)
    a = np.zeros(0, np.float32)
    if audio:
        a = (0.2 * np.sin(2 * np.pi * 220 * np.arange(int(seconds * sample_rate)) / sample_rate)).astype(np.float32)
    return Performance(audio=a, sample_rate=sample_rate, fps=fps, channels=channels, weights=w,
                       meta={"engine": "test", "text": "hello", "emotion": "happy:0.5", "seed": 7})


def key_value(bpy, obj, name, frame):
    """The shape-key value Blender evaluates at `frame` (original datablock, after frame_set)."""
    bpy.context.scene.frame_set(frame)
    return obj.data.shape_keys.key_blocks[name].value



ALL_CHANNELS = ARKIT_52 + HEAD_EYE_ROTATIONS


@contextlib.contextmanager
def enabled_as_extension(bpy, root, tmp_path, module):
    """Enable the repository as Blender loads an installed extension: a user repo whose folder
    holds `unitaf_blender` (a symlink to the repo root). Yields (addon_id, module, errors) and
    disables the add-on and removes the repo afterwards."""
    import addon_utils
    repo_dir = tmp_path / "repo"
    repo_dir.mkdir()
    (repo_dir / "unitaf_blender").symlink_to(root, target_is_directory=True)
    prefs = bpy.context.preferences
    repo = prefs.extensions.repos.new(name=f"UniTAF {module}", module=module,
                                      custom_directory=str(repo_dir), source='USER')
    addon_id = f"bl_ext.{module}.unitaf_blender"
    errors = []
    try:
        mod = addon_utils.enable(addon_id, default_set=True, handle_error=errors.append)
        yield addon_id, mod, errors
    finally:
        addon_utils.disable(addon_id, default_set=True)
        prefs.extensions.repos.remove(repo)
