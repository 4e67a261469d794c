"""The takes the face is measured on: four `generate` takes (two lines, neutral and angry) and two
`lipsync` takes (LJ001-0001, jfk), exported as .npz + .wav for `../shared/tools/face_stats.py`.

Run:  .venv/bin/python bench/face_takes.py OUT_DIR [--seed 0] [--shared ../shared]
      .venv/bin/python ../shared/tools/face_stats.py OUT_DIR/*.npz
"""
import argparse
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from eval_alignment import REAL  # noqa: E402  (the recordings and their transcripts)

LINES = {
    "letter": "When my brother finally sent the letter, mother read it twice, folded it carefully, "
              "and put it back in the drawer without a word.",
    "bridge": "Do you really believe they will open the bridge before the first snow? Nobody in this "
              "town buys it, and frankly, maybe I don't either.",
}
EMOTIONS = {"neutral": "calm:0.0", "angry": "angry:0.8"}


def make_takes(out_dir, seed=0, shared=ROOT.parent / "shared"):
    """Writes the six takes into out_dir; returns their .npz paths."""
    from unitaf_blender.core.audio_io import read_wav
    from unitaf_blender.engines import GenerateRequest, LipsyncRequest
    from unitaf_blender.engines.embedded.engine import EmbeddedEngine

    engine, out = EmbeddedEngine(), pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for line, text in LINES.items():
        for name, emotion in EMOTIONS.items():
            perf = engine.generate(GenerateRequest(text=text, emotion=emotion, seed=seed))
            paths.append(out / f"generate_{line}_{name}.npz")
            perf.save(str(paths[-1]))
    for name, transcript in REAL.items():
        audio, sr = read_wav(str(pathlib.Path(shared) / "assets" / "audio" / name))
        perf = engine.lipsync(LipsyncRequest(audio=audio, sample_rate=sr, transcript=transcript, seed=seed))
        paths.append(out / f"lipsync_{pathlib.Path(name).stem}.npz")
        perf.save(str(paths[-1]))
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"), help="the shared assets folder")
    args = ap.parse_args()
    for p in make_takes(args.out_dir, args.seed, args.shared):
        print(p)


if __name__ == "__main__":
    main()
