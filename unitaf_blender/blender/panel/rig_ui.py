"""The "Face Bones" sub-panel: what the character's armature moves (face rig, jaw, head, neck
and eye bones, each choosable), and its pose map with Auto-fill and Clear."""
import bpy

from ...core.pose_map import MOUTH_SHAPES
from .. import character, face_rigs, pose_library, props, rig
from .settings import target_object
from .sidebar import SidebarSection


def target_armature(context):
    """The armature of the panel's target: the target itself, or the armature deforming it."""
    obj = target_object(context)
    if obj is None:
        return None
    return obj if obj.type == 'ARMATURE' else character.armature_of(obj)


class UNITAF_UL_poses(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0, flt_flag=0):
        row = layout.row(align=True)
        row.label(text=item.shape)
        row.prop(item, "action", text="")
        row.prop(item, "use_frame", text="")
        sub = row.row(align=True)
        sub.enabled = item.use_frame
        sub.prop(item, "frame", text="")


class UNITAF_PT_face_bones(SidebarSection, bpy.types.Panel):
    bl_idname = "UNITAF_PT_face_bones"
    bl_label = "Face Bones"

    def draw(self, context):
        layout = self.layout
        armature = target_armature(context)
        if armature is None:
            layout.label(text="No armature moves the target", icon='INFO')
            return
        found = rig.find_bones(armature)
        layout.label(text=face_rigs.face_rig_summary(face_rigs.find_face_rig(armature, found))[:120])
        box = layout.box()
        box.label(text=f"Bones of '{armature.name}':")
        for role, label in props.BONE_ROLES:
            row = box.row()
            row.prop_search(armature, f"unitaf_{role}_bone", armature.data, "bones", text=label)
            if not getattr(armature, f"unitaf_{role}_bone") and role in found:
                row.label(text=found[role])
        box = layout.box()
        box.label(text="Pose map (mouth chart and expressions):")
        row = box.row(align=True)
        row.operator("unitaf.poses_auto_fill")
        row.operator("unitaf.poses_clear")
        # drawing must not create the table on the object (that would change the file)
        if pose_library.has_table(armature):
            box.template_list("UNITAF_UL_poses", "", armature.unitaf_poses, "rows",
                              armature.unitaf_poses, "active_index", rows=6)
            pose_map = pose_library.stored_map(armature)
            mouth = len(pose_map.mouth_shapes()) if pose_map else 0
            box.label(text=f"{mouth} of {len(MOUTH_SHAPES)} mouth shapes mapped")
        else:
            box.label(text="No pose map: the face rig and bones are used")


class _PoseOperator:
    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def poll(cls, context):
        return target_armature(context) is not None


class UNITAF_OT_poses_auto_fill(_PoseOperator, bpy.types.Operator):
    """Fill the pose map from the names of actions and pose markers (MBP, mouth_AI, blink.L ...)"""
    bl_idname = "unitaf.poses_auto_fill"
    bl_label = "Auto-fill"

    def execute(self, context):
        armature = target_armature(context)
        found = pose_library.auto_fill_into(armature)
        self.report({'INFO'}, f"UniTAF: {found} pose(s) found for '{armature.name}'")
        return {'FINISHED'}


class UNITAF_OT_poses_clear(_PoseOperator, bpy.types.Operator):
    """Forget the pose map: the face rig and bones drive the face again"""
    bl_idname = "unitaf.poses_clear"
    bl_label = "Clear"

    def execute(self, context):
        pose_library.clear_map(target_armature(context))
        return {'FINISHED'}


CLASSES = (UNITAF_UL_poses, UNITAF_PT_face_bones, UNITAF_OT_poses_auto_fill, UNITAF_OT_poses_clear)
