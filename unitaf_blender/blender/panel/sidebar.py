"""Where every UniTAF panel lives: the "UniTAF" tab of the 3D Viewport's sidebar (N panel)."""


class Sidebar:
    """Mixin for the tab's panels (before bpy.types.Panel in the bases)."""
    bl_space_type = 'VIEW_3D'
    bl_region_type = 'UI'
    bl_category = "UniTAF"


class SidebarSection(Sidebar):
    """Mixin for the collapsible sections under the main UniTAF panel (closed at first)."""
    bl_parent_id = "UNITAF_PT_main"
    bl_options = {'DEFAULT_CLOSED'}
