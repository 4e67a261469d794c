"""Blender-layer test helpers (imported by tests); the face mesh and synthetic performances
every folder uses are in ../helpers.py."""
import contextlib

from unitaf_blender.core.channels import ARKIT_52, HEAD_EYE_ROTATIONS


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
