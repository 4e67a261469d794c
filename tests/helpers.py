"""Small helpers shared by tests in several folders (import from here, like shared_paths)."""
import os
import pathlib
import subprocess
import sys
import tempfile
import threading

import numpy as np

from unitaf_blender.core.channels import ARKIT_52
from unitaf_blender.core.performance import EMOTIONS, Performance


def neutral():
    """An emotion timeline (times, vectors) that stays neutral."""
    return np.array([0.0]), np.zeros((1, 8))


def emotion(name, value=1.0):
    """An emotion timeline (times, vectors) holding one emotion from time 0."""
    v = np.zeros((1, 8))
    v[0, EMOTIONS.index(name)] = value
    return np.array([0.0]), v


def in_threads(work, n=2):
    """Run work(0) ... work(n - 1) on n threads at once and wait for all of them."""
    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# A person's lips meet by mouthClose over a jaw still 0.1-0.25 open, pressing at most moderately
# (the real iPhone capture in ../shared/assets/performances: jaw ~0.2 when the lips meet, press
# p95 ~0.17); embedded/face.py seals the lips this way.
SEAL_JAW = (0.1, 0.25)
MAX_PRESS = 0.3


def sealed_frames(weights, channels, frame, reach=1):
    """Frames within `reach` of `frame` where the lips are sealed the human way: mouthClose
    equals the jaw opening, and the jaw is SEAL_JAW open (neither snapped shut nor hanging)."""
    jaw = weights[:, channels.index("jawOpen")]
    close = weights[:, channels.index("mouthClose")]
    frames = [j for j in range(frame - reach, frame + reach + 1) if 0 <= j < len(jaw)]
    return [j for j in frames if abs(jaw[j] - close[j]) <= 1e-5
            and SEAL_JAW[0] - 1e-6 <= jaw[j] <= SEAL_JAW[1] + 1e-6]


def csv_without_columns(source, names, path):
    """Write `source` (a CSV with a header row) to `path` without the columns named `names`, as a
    trimmed export would be; returns `path`."""
    import csv
    rows = list(csv.reader(pathlib.Path(source).read_text().splitlines()))
    drop = {rows[0].index(name) for name in names}
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([[c for i, c in enumerate(row) if i not in drop] for row in rows])
    return path


def load_script(path, name=None):
    """A script that is no package module (bench/, scripts/, ../shared/tools/) loaded from its
    file as a module named `name` (default: the file's stem)."""
    import importlib.util
    path = pathlib.Path(path)
    spec = importlib.util.spec_from_file_location(name or path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fresh_temp_folder():
    """A new empty folder to run a command with as its TMPDIR. Short and lower-case, so espeak's
    voice files would go there too rather than to /tmp (espeak._voice_folder_parent)."""
    folder = tempfile.mkdtemp(prefix="unitaf-t-", dir="/tmp" if os.path.isdir("/tmp") else None)
    assert folder == folder.lower() and len(folder) < 40, folder
    return folder


def start_cli(temp_folder, *args):
    """`python -m unitaf_blender *args` in a new process with TMPDIR=temp_folder; its progress
    lines come on .stderr."""
    from shared_paths import ROOT
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(temp_folder))
    return subprocess.Popen([sys.executable, "-m", "unitaf_blender", *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def signal_at(proc, stage, signum):
    """Send `signum` to a start_cli process once it reports `stage`; wait for it to end and
    return everything it printed on stderr."""
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if stage in line:
            proc.send_signal(signum)
            break
    seen.append(proc.stderr.read())
    proc.wait(timeout=600)
    return "".join(seen)


def f0_yin(audio, sr, fmin=60.0, fmax=500.0, threshold=0.15):
    """Median F0 (Hz) of the louder 40 ms frames by YIN (the first dip of the cumulative-mean-
    normalised difference below `threshold`), a measure independent of any voice's internals.
    YIN rather than the autocorrelation peak: a low voice with a strong second harmonic fools
    the peak by an octave."""
    n, hop = int(0.04 * sr), int(0.02 * sr)
    lo, hi = int(sr / fmax), int(sr / fmin)
    starts = range(0, len(audio) - n - hi, hop)
    energy = np.array([np.sqrt(np.mean(audio[i:i + n] ** 2)) for i in starts])
    out = []
    for i, e in zip(starts, energy):
        if e < 0.2 * energy.max():
            continue
        x = audio[i:i + n].astype(np.float64)
        diff = np.array([np.sum((x - audio[i + tau:i + tau + n]) ** 2) for tau in range(1, hi + 1)])
        cmnd = diff * np.arange(1, hi + 1) / np.maximum(np.cumsum(diff), 1e-12)
        below = np.flatnonzero(cmnd[lo - 1:] < threshold)
        if len(below):
            k = below[0] + lo - 1
            while k + 1 < len(cmnd) and cmnd[k + 1] < cmnd[k]:
                k += 1
            out.append(sr / (k + 1))
    assert len(out) > 10, "too few voiced frames"
    return float(np.median(out))


def spectral_centroid(audio, sr):
    """Mean spectral centroid (Hz) of the louder 40 ms frames."""
    n = int(0.04 * sr)
    frames = np.lib.stride_tricks.sliding_window_view(audio, n)[::n // 2]
    energy = np.sqrt(np.mean(frames ** 2, axis=1))
    loud = frames[energy > 0.2 * energy.max()] * np.hanning(n)
    power = np.abs(np.fft.rfft(loud, axis=1)) ** 2
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    return float(np.mean(power @ freqs / np.maximum(power.sum(1), 1e-12)))


def rms(audio):
    return float(np.sqrt(np.mean(np.asarray(audio, np.float64) ** 2)))


# mouthClose seals the lips, so jawOpen is keyed as the performance's own value (a face
# without a lip closer gets jawOpen - mouthClose: core.face_bones.sealed_jaw)
FACE_KEYS = ("jawOpen", "mouthClose", "mouthSmileLeft", "browInnerUp", "eyeBlinkLeft", "cheekSquintLeft")


def make_face(bpy, name="Face", keys=FACE_KEYS, link=True):
    """A cube mesh with a Basis and the given shape keys (each moves vertex 0 a little), all
    at 0: a neutral face (bpy 5.x gives a new key 1.0, 4.2 gives 0.0)."""
    import bmesh
    me = bpy.data.meshes.new(name)
    bm = bmesh.new()
    bmesh.ops.create_cube(bm, size=1.0)
    bm.to_mesh(me)
    bm.free()
    obj = bpy.data.objects.new(name, me)
    if link:
        bpy.context.scene.collection.objects.link(obj)
    if keys:
        obj.shape_key_add(name="Basis")
        for k in keys:
            kb = obj.shape_key_add(name=k, from_mix=False)
            kb.data[0].co.z += 0.5
            kb.value = 0.0
    return obj


def make_perf(seconds=2.0, fps=25.0, channels=ARKIT_52, seed=0, audio=True, sample_rate=16000, fn=None,
              frames=None, meta=None):
    """The tests' synthetic Performance (not an engine's): random weights in [0, 1] (or
    fn(t[T], channel_index) -> values) over `frames` frames (default: seconds * fps + 1) and a
    quiet 220 Hz tone (`audio` False: none)."""
    n = int(round(seconds * fps)) + 1 if frames is None else frames
    t = np.arange(n) / fps
    if fn is None:
        w = np.random.default_rng(seed).random((n, len(channels))).astype(np.float32)
    else:
        w = np.stack([fn(t, i) for i in range(len(channels))], axis=1).astype(np.float32)
    a = np.zeros(0, np.float32)
    if audio:
        a = (0.2 * np.sin(2 * np.pi * 220 * np.arange(int(seconds * sample_rate)) / sample_rate)).astype(np.float32)
    return Performance(audio=a, sample_rate=sample_rate, fps=fps, channels=channels, weights=w,
                       meta={"engine": "test", "text": "hello", "emotion": "happy:0.5", "seed": 7} if meta is None
                       else meta)
