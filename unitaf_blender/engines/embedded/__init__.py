"""Embedded default engine: speech (a natural English voice, or espeak-ng) and a procedural face
from ONE timeline.

Speech (natural.py, espeak.py, prosody.py, speech.py) produces audio plus a sample-exact phoneme
timeline and an emotion timeline; the face (visemes.py, face.py) is computed from that same
timeline, never by re-listening to the audio. No download needed, no GPU, no torch.
"""
