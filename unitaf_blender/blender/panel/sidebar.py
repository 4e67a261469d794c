"""Where every UniTAF panel lives: the "UniTAF" tab of the 3D Viewport's sidebar (N panel)."""


class Sidebar:
    """Mixin for the tab's panels (before bpy.types.Panel in the bases)."""
    bl_space_type = 'VIEW_3D'
    bl_region_type = 'UI'
    bl_category = "UniTAF"
