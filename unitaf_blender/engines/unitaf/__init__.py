"""UniTAF engine: a plain-PyTorch reimplementation of UniTAF (IndexTTS2 + UniTalker face head).

This package file imports nothing heavy: `store` (model download/status) must work without
torch installed. Torch is imported only by the modules that need it (checkpoint, face, ...).
"""
