"""UniTAF engine: a plain-PyTorch reimplementation of UniTAF (IndexTTS2 + UniTalker face head).

This package file imports nothing heavy: `engine` (the checks), `options`, `catalog`, `store` and
`assets` (model files, their status and download, the runtime installer) must work without torch
installed. Torch is imported only by the modules that need it (checkpoint, face, ...).
"""
