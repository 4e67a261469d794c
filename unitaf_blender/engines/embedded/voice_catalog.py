"""The embedded engine's voices: ids, the natural (hibari) voices, their downloadable model
files, and the voice characters of a cast. Data and id parsing only: no I/O, no onnxruntime.

Voice ids:
* `hibari:heart` - a natural voice (hibari-tts, English). `heart` ships inside the hibari
  wheel; the other four are one download of about 8 MB each (`DOWNLOADABLE`).
* `hibari:heart+deep` - the same voice as a character (`CHARACTERS`): F0 scaling plus a
  frequency warp of the predicted spectral envelope, made before the waveform exists.
* `espeak:en-us+f3` - an espeak-ng voice (any language). The bare espeak ids of earlier
  versions (`en-us`, `en-us+f3`, `cmn`) still mean the espeak voice.
"""
from dataclasses import dataclass
from typing import Optional

from ..model_files import ModelFile, human_size
from ..model_store import ModelStore
from .voice_edit import VoiceEdit

HIBARI = "hibari"
ESPEAK = "espeak"
DEFAULT_NATURAL = "hibari:heart"
HIBARI_LANGUAGES = ("en-us", "en")   # hibari reads English only (American or British G2P)

# Where the downloadable voices live (hibari's own registry, voices.json in the pinned wheel,
# gives the same files, sizes and sha256 sums; a test keeps the two in step).
HIBARI_REPO = "maureesewilliams/hibari"
HIBARI_REVISION = "main"   # UNVERIFIED: no commit hash could be read; content pinned by sha256
HIBARI_LICENCE = ("Apache-2.0 (hibari-tts by Maureese Williams; voices distilled from Kokoro-82M by "
                  "hexgrad, Apache-2.0)")


@dataclass(frozen=True)
class NaturalVoice:
    name: str
    description: str
    british: bool          # hibari's British G2P (misaki gb lexicon) for this voice
    bundled: bool          # inside the hibari wheel: no download

    @property
    def label(self) -> str:
        """The description and how the voice comes: built in, or its download's size."""
        if self.bundled:
            return f"{self.description} (natural, built in)"
        return f"{self.description} (natural, {human_size(download_spec(self.name).expected_size)} download)"


NATURAL_VOICES = (
    NaturalVoice("heart", "American English, female", False, True),
    NaturalVoice("fenrir", "American English, male", False, False),
    NaturalVoice("kore", "American English, female 2", False, False),
    NaturalVoice("emma", "British English, female", True, False),
    NaturalVoice("fable", "British English, male", True, False),
)
NATURAL = {v.name: v for v in NATURAL_VOICES}

# The downloadable voices as model files of the shared model store (feature = voice name):
# (voice, file in the repository, bytes, sha256).
_DOWNLOADS = (
    ("fenrir", "voices/am_fenrir_v2.int8.onnx", 8031158,
     "f59fbd87908c91f827bc21b1b89443757b9a8580db9eee20aa948deb731321f4"),
    ("kore", "voices/af_kore.int8.onnx", 7936868,
     "346885752673e45d42f9864c9e2432094bc4b6385df060d4b83273da764d2fa9"),
    ("emma", "voices/bf_emma.int8.onnx", 7936868,
     "f709f0488ee63b583a22189a955aaf4257b9806dd330be3490661e53af0a89c1"),
    ("fable", "voices/bm_fable.int8.onnx", 7936868,
     "c28529302f2d27cd12f62625c24425888c4e3c2675583100ec530259136b8bc6"),
)
DOWNLOADABLE = tuple(ModelFile(f"hibari.{name}", HIBARI_REPO, path, HIBARI_REVISION, size, (name,), size=size,
                               sha256=sha, licence=HIBARI_LICENCE) for name, path, size, sha in _DOWNLOADS)


def download_spec(name: str) -> Optional[ModelFile]:
    """The model file to download for a natural voice; None for the built-in one."""
    return next((f for f in DOWNLOADABLE if f.features == (name,)), None)


VOICE_FEATURES = {v.name: v.label for v in NATURAL_VOICES if not v.bundled}

# Voice characters: one offline model, several people. pitch scales F0; formant scales the
# spectral envelope's frequency axis (0.85 ~ a vocal tract 18 % longer).
CHARACTERS = {
    "deep": ("deeper, larger speaker", VoiceEdit(pitch=0.62, formant=0.86)),
    "older": ("older, narrower pitch", VoiceEdit(pitch=0.86, pitch_range=0.75, formant=0.93)),
    "younger": ("younger, smaller speaker", VoiceEdit(pitch=1.18, formant=1.08)),
}


@dataclass(frozen=True)
class VoiceId:
    backend: str                 # HIBARI or ESPEAK
    name: str                    # hibari voice name, or the espeak voice (with +variant)
    character: Optional[str] = None   # hibari only: a CHARACTERS key

    def __str__(self):
        if self.backend == HIBARI:
            return f"{HIBARI}:{self.name}" + (f"+{self.character}" if self.character else "")
        return f"{ESPEAK}:{self.name}"

    @property
    def language(self) -> str:
        """The espeak-ng language the voice reads (hibari: en-us or en)."""
        if self.backend == HIBARI:
            return "en" if NATURAL[self.name].british else "en-us"
        return self.name.split("+")[0]


class VoiceIdError(ValueError):
    """A voice id that names no voice; the message lists the ones that exist."""


def parse_voice(text: str) -> VoiceId:
    """'hibari:heart+deep' / 'espeak:en-us+f3' / a bare espeak id -> VoiceId. Names are
    lower-cased; espeak names are checked by the espeak binding, hibari ones here."""
    text = str(text).strip()
    backend, sep, rest = text.partition(":")
    if not sep:
        return VoiceId(ESPEAK, text)
    backend = backend.lower()
    if backend == ESPEAK:
        return VoiceId(ESPEAK, rest.strip())
    if backend != HIBARI:
        raise VoiceIdError(f"Unknown voice kind '{backend}' in '{text}': use 'hibari:NAME' or 'espeak:NAME'.")
    name, _, character = rest.strip().lower().partition("+")
    if name not in NATURAL:
        raise VoiceIdError(f"Unknown natural voice '{name}'; the hibari voices are "
                           f"{', '.join(NATURAL)} (e.g. 'hibari:heart').")
    if character and character not in CHARACTERS:
        raise VoiceIdError(f"Unknown voice character '{character}'; choose {', '.join(CHARACTERS)} "
                           f"(e.g. 'hibari:{name}+deep').")
    return VoiceId(HIBARI, name, character or None)


def natural_voice_list() -> list:
    """[(id, label)]: every natural voice, then its characters."""
    out = []
    for v in NATURAL_VOICES:
        out.append((f"{HIBARI}:{v.name}", f"{v.name.capitalize()}: {v.label}"))
        out += [(f"{HIBARI}:{v.name}+{c}", f"{v.name.capitalize()}, {label}")
                for c, (label, _) in CHARACTERS.items()]
    return out


def download_feature(voice_id) -> Optional[str]:
    """The download a voice id needs (its voice name), or None: built in, not a natural voice, or
    no voice at all."""
    text = str(voice_id or "").strip()
    if not text.lower().startswith(HIBARI + ":"):
        return None
    try:
        spec = download_spec(parse_voice(text).name)
    except VoiceIdError:
        return None
    return spec.features[0] if spec is not None else None


VOICE_TITLE = "natural voice"
VOICE_DOWNLOAD_HINT = ("download it with `voices download {name}` (CLI) or Download Voice in the panel "
                       "(needs Blender's Allow Online Access)")


def voice_store(cache_dir=None, model_dir=None, endpoint=None, name="NAME") -> ModelStore:
    """The shared model store over the downloadable natural voices: the same cache (or model
    folder) as the UniTAF weights, sha256-checked downloads, progress, cancel, licences.
    `name` is the voice its messages tell the user to download."""
    return ModelStore(cache_dir=cache_dir, model_dir=model_dir, files=DOWNLOADABLE, endpoint=endpoint,
                      features=VOICE_FEATURES, title=VOICE_TITLE, download_hint=VOICE_DOWNLOAD_HINT.format(name=name))
