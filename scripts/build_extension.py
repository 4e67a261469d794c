"""Build the installable extension zip exactly as `blender --command extension build` does.

Runs Blender's own extension builder (bl_pkg's blender_ext.py, shipped inside the bpy module)
on the repository root, after fetching the pinned wheels. Usage:
    python scripts/build_extension.py [--output-dir dist] [--split-platforms]
"""
import argparse
import glob
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import fetch_wheels  # noqa: E402


def blender_ext_script():
    import importlib.util
    spec = importlib.util.find_spec("bpy")  # the builder ships with Blender and the bpy module
    if spec is None:
        raise SystemExit("the bpy module is not installed (run scripts/test.sh once to make .venv)")
    base = pathlib.Path(spec.origin).parent
    hits = glob.glob(str(base / "*" / "scripts" / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"))
    if not hits:
        raise SystemExit("Blender's extension builder (bl_pkg/cli/blender_ext.py) was not found")
    return hits[0]


def build(output_dir, split_platforms=False):
    fetch_wheels.main()
    out = pathlib.Path(output_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    script = blender_ext_script()
    subprocess.run([sys.executable, script, "validate", str(ROOT)], check=True)
    cmd = [sys.executable, script, "build", "--source-dir", str(ROOT), "--output-dir", str(out)]
    if split_platforms:
        cmd.append("--split-platforms")
    subprocess.run(cmd, check=True)
    zips = sorted(out.glob("unitaf_blender-*.zip"), key=os.path.getmtime)
    return [str(z) for z in zips]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output-dir", default=str(ROOT / "dist"))
    ap.add_argument("--split-platforms", action="store_true",
                    help="one zip per platform (smaller downloads)")
    args = ap.parse_args(argv)
    for z in build(args.output_dir, args.split_platforms):
        print(z)
    return 0


if __name__ == "__main__":
    sys.exit(main())
