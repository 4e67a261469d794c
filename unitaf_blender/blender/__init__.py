"""Blender layer of UniTAF: the only package that imports bpy.

Keying a take (takes.py and what it uses), batch files, recordings, characters, rigs and the demo
live here and never import the panel; the panel (panel/: its properties, operators, jobs and
registration) is loaded by `unitaf_blender.register()` only, so the headless CLI never loads it.
"""
