"""Face head parity against the reference fixtures (../shared/parity/unitaf_a2f), loaded through
the same loader used for the official checkpoints."""
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from shared_paths import PARITY, need
from unitaf_blender.core.channels import ARKIT_52
from unitaf_blender.engines.unitaf import face
from unitaf_blender.engines.unitaf.checkpoint import CheckpointError

A2F = PARITY / "unitaf_a2f"
TOL = dict(atol=1e-4, rtol=1e-4)
CASES = ["case_L37", "case_L40"]


def _case(name):
    data = np.load(need(A2F / f"{name}.npz"))
    return {k: torch.from_numpy(data[k]) for k in data.files}


@pytest.fixture(scope="module")
def head():
    return face.FaceHead.from_dir(need(A2F))


def _close(got, want):
    np.testing.assert_allclose(got.detach().numpy(), want.numpy(), **TOL)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"unitaf_a2f-{c}")
def test_parity(head, case):
    d = _case(case)
    with torch.no_grad():
        _close(head.projector(d["padded_input"]), d["projector_out"])
        _close(head.decoder.features(d["projector_out"], d["style_idx"]), d["decoder_features"])
        # end to end through the wrapper: pad one frame (non-stream), pivot identity by default
        mouth = head(d["audio_feature"])
        assert mouth.shape == d["mouth_motion"].shape
        _close(mouth, d["mouth_motion"])
        _close(head.projector(head.pad_input(d["audio_feature"], "odd")), d["projector_out_stream"])
    assert head.expression is None  # no expression_model.pt in the folder -> stays off


@pytest.mark.parametrize("mode", ["film", "cross_attn"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"unitaf_a2f-{c}")
def test_parity_expression(case, mode):
    d = _case(case)
    expr = face.load_expression(need(A2F / f"expression_model_{mode}.pt"), mode=mode)
    with torch.no_grad():
        residual = expr(d["audio_feature"], d["mouth_motion"], d["emovec_contrl"])
    _close(residual, d[f"expr_residual_{mode}"])
    _close(d["mouth_motion"] + residual, d[f"final_motion_{mode}"])


@pytest.mark.parametrize("mode", ["film", "cross_attn"])
def test_from_dir_with_expression(tmp_path, mode):
    need(A2F)
    for name in (face.PROJECTOR_FILE, face.DECODER_FILE):
        shutil.copy(A2F / name, tmp_path / name)
    shutil.copy(A2F / f"expression_model_{mode}.pt", tmp_path / face.EXPRESSION_FILE)
    head = face.FaceHead.from_dir(tmp_path, expression_mode=mode)
    d = _case("case_L40")
    _close(head(d["audio_feature"], d["emovec_contrl"]), d[f"final_motion_{mode}"])
    # without an emotion vector the expression residual is not applied
    _close(head(d["audio_feature"]), d["mouth_motion"])


def blend_transition(motion, last_frame, n: int = 3):
    """The reference's streaming glue (we never stream): a new chunk fades in from the previous
    chunk's last frame over `n` frames (alpha = (i+1)/n)."""
    out = motion.clone()
    k = min(n, motion.shape[1])
    alpha = torch.arange(1, k + 1, dtype=motion.dtype, device=motion.device)[None, :, None] / n
    out[:, :k] = (1 - alpha) * last_frame + alpha * motion[:, :k]
    return out


def decay_to_rest(last_frame, num_frames: int, decay_frames: int = 10):
    """The reference's silence frames: the last face frame fading linearly to zero."""
    i = torch.arange(num_frames, dtype=last_frame.dtype, device=last_frame.device)
    w = torch.clamp(1 - i / decay_frames, min=0)[None, :, None]
    return last_frame.reshape(last_frame.shape[0], 1, -1) * w


def test_stream_glue():
    """Our reading of the reference's stream glue reproduces its fixture (documents the
    behaviour align_face replaces with its own gap handling)."""
    d = {k: torch.from_numpy(v) for k, v in np.load(need(A2F / "stream_glue.npz")).items()}
    _close(blend_transition(d["mouth_motion_in"], d["last_face_motion"]), d["blended_motion"])
    _close(decay_to_rest(d["last_face_motion"], int(d["zero_face_num_frames"]),
                         int(d["zero_face_decay_frames"])), d["zero_face_motion"])


def test_channel_names_and_performance_channels():
    names = face.channel_names()
    assert len(names) == 51 and set(names) <= set(ARKIT_52) and "tongueOut" not in names
    assert names[19] == "jawOpen" and names[0] == "eyeBlinkLeft" and names[50] == "cheekSquintRight"
    motion = torch.arange(3 * 61, dtype=torch.float32).reshape(1, 3, 61) - 50.0
    got_names, weights = face.to_performance_channels(motion)
    assert got_names == names and weights.shape == (3, 51) and weights.dtype == np.float32
    np.testing.assert_array_equal(weights, motion[0, :, :51].numpy())  # unclamped, 51-60 dropped
    with pytest.raises(ValueError):
        face.to_performance_channels(np.zeros((4, 10)))
    all_names, all_weights = face.to_performance_channels(motion, keep_unnamed=True)
    assert len(all_names) == 61 == len(set(all_names)) and all_weights.shape == (3, 61)
    assert "tongueOut" in face.NOT_PRODUCED and not set(face.NOT_PRODUCED) & set(names)


def test_bad_input_shape(head):
    with pytest.raises(ValueError, match=r"\[B, L, 64\]"):
        head(torch.zeros(1, 10, 63))
    with pytest.raises(ValueError, match="pad"):
        head(torch.zeros(1, 10, 64), pad="sometimes")


def test_wrong_checkpoint_is_named(tmp_path):
    need(A2F)
    # decoder file where the projector is expected: clear error naming the file and a key
    shutil.copy(A2F / face.DECODER_FILE, tmp_path / face.PROJECTOR_FILE)
    shutil.copy(A2F / face.DECODER_FILE, tmp_path / face.DECODER_FILE)
    with pytest.raises(CheckpointError, match="head.conv1.weight"):
        face.FaceHead.from_dir(tmp_path)


def test_truncated_head_weight_rejected(tmp_path):
    need(A2F)
    sd = torch.load(A2F / face.DECODER_FILE, weights_only=True)
    sd["decoder.tcn.first_net.conv_layers.1.conv.weight"] = torch.zeros(32, 32, 5)
    torch.save(sd, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=r"conv_layers\.1\.conv\.weight.*\(32, 32, 5\).*\(32, 32, 3\)"):
        face.load_decoder(tmp_path / "bad.pt")


def test_official_size_layout_matches_reference():
    """At official widths the modules have exactly the keys/shapes/sizes the reference documents (§4, §5)."""
    proj = face.AudioFeatureProjector(face.ProjectorDims()).state_dict()
    assert len(proj) == 59 and sum(v.numel() for v in proj.values()) == 922_122
    assert proj["head.conv2.weight"].shape == (256, 32, 3) and proj["tail.conv3.weight"].shape == (768, 64, 1)
    assert proj["tail.shortcut.weight"].shape == (768, 256, 1) and proj["audio_scale"].shape == ()
    expr = face.ExpressionModel(face.ExpressionDims()).state_dict()
    assert len(expr) == 133 and sum(v.numel() for v in expr.values()) == 8_716_350
    dec = face.UniTalkerDecoder(face.DecoderDims(n_identities=935)).state_dict()
    assert dec["decoder.tcn.first_net.conv_layers.0.conv.weight"].shape == (256, 320, 3)
    assert dec["decoder.tcn.first_net.conv_layers.0.residual_layer.0.weight"].shape == (256, 320, 3)
    assert dec[f"out_head_dict.{face.HEAD_KEY}.weight"].shape == (61, 256)


def test_film_layer_count_read_from_weights(tmp_path):
    sd = torch.load(need(A2F / "expression_model_film.pt"), weights_only=True)
    sd = {k: v for k, v in sd.items() if not k.startswith("transformer_film.layers.3.")}
    torch.save(sd, tmp_path / "film3.pt")
    model = face.load_expression(tmp_path / "film3.pt", mode="film")
    assert len(model.transformer_film.layers) == 3 and len(model.cross_layers) == 4
    with pytest.raises(ValueError, match="mode"):
        face.load_expression(tmp_path / "film3.pt", mode="concat")
