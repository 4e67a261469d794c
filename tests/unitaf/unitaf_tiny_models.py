"""A test-only UniTAF model folder built from the tiny parity weights (../shared/parity), laid out
like the download cache (`<dir>/<repo_id>/<filename>`) with store.build_model_dir. One folder per
test session, so the engine's model cache is shared by every test file that uses it."""
import atexit
import functools
import os
import shutil
import tempfile

from helpers import make_face

from shared_paths import PARITY, need

E2E = PARITY / "end_to_end"
SPEAKER = E2E / "spk_prompt_22050.wav"        # 1 s prompt: keeps the CFM fast
EXPRESSION = PARITY / "unitaf_a2f" / "expression_model_cross_attn.pt"


def sources():
    p = need(PARITY)
    return {
        "indextts2.gpt": p / "gpt" / "gpt.pth", "indextts2.s2mel": p / "s2mel" / "s2mel.pth",
        "indextts2.bpe": p / "frontend" / "bpe.model", "indextts2.w2v_stats": p / "semantic" / "wav2vec2bert_stats.pt",
        "indextts2.config": p / "end_to_end" / "config.yaml",
        "indextts2.feat1": p / "end_to_end" / "feat1.pt", "indextts2.feat2": p / "end_to_end" / "feat2.pt",
        "w2vbert.model": p / "semantic" / "w2v-bert-2.0" / "model.safetensors",
        # the tiny w2v-BERT is not the official width: the catalogue's (optional) config.json says so
        "w2vbert.config": p / "semantic" / "w2v-bert-2.0" / "config.json",
        "w2vbert.preprocessor": p / "semantic" / "w2v-bert-2.0" / "preprocessor_config.json",
        "maskgct.semantic_codec": p / "semantic" / "semantic_codec" / "model.safetensors",
        "campplus.model": p / "campplus" / "campplus_cn_common.bin",
        "bigvgan.generator": p / "bigvgan" / "bigvgan_generator.pt", "bigvgan.config": p / "bigvgan" / "config.json",
        "unitaf.projector": p / "unitaf_a2f" / "audio_feature_projector.pt",
        "unitaf.a2f": p / "unitaf_a2f" / "a2f_model.pt",
    }


@functools.lru_cache(maxsize=None)
def tiny_model_dir() -> str:
    from unitaf_blender.engines.unitaf.store import build_model_dir
    src = sources()
    root = tempfile.mkdtemp(prefix="unitaf-tiny-models-")
    atexit.register(shutil.rmtree, root, True)
    build_model_dir(root, src, copy=True)
    return root


def tiny_head_blend(bpy, path, keys=("jawOpen", "browDownLeft", "eyeBlinkLeft")):
    """Save a neutral mesh 'Head' (helpers.make_face) with these shape keys as `path` (an input .blend)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    make_face(bpy, "Head", keys)
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return path


def run_fresh_python(code: str) -> str:
    """Run `code` in a fresh interpreter from the repository root (so nothing this test process
    imported counts) and return what it printed; fails the test on a non-zero exit."""
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert out.returncode == 0, out.stderr
    return out.stdout
