"""UniTAF engine: a plain-PyTorch reimplementation of UniTAF (IndexTTS2 + UniTalker face head).

This package file imports nothing heavy: `catalog`, `store` and `download` (model files, their
status and download) and `options` must work without torch installed. Torch is imported only by
the modules that need it (checkpoint, face, ...).
"""
