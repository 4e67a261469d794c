# Extension root shim: Blender loads the folder holding blender_manifest.toml as the add-on
# package; the code lives in the `unitaf_blender` sub-package. Preferences must be keyed by
# this top-level package name, so it is passed down.
from .unitaf_blender import register as _register
from .unitaf_blender import unregister as unregister  # re-exported for Blender


def register():
    _register(addon_id=__package__)
