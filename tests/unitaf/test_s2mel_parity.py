"""S2Mel parity against the reference fixtures (../shared/parity/s2mel): gpt_layer, length regulator,
DiT estimator and the CFM Euler sampler with CFG, loading the tiny `s2mel.pth` unchanged."""
import numpy as np
import pytest
import yaml

torch = pytest.importorskip("torch")

from shared_paths import PARITY, need
from unitaf_blender.engines.unitaf.checkpoint import CheckpointError
from unitaf_blender.engines.unitaf.s2mel import S2Mel, S2MelDims, load_s2mel, target_mel_frames

S2 = PARITY / "s2mel"
MODULE_TOL = dict(atol=1e-4, rtol=1e-4)
CHAIN_TOL = dict(atol=1e-3, rtol=1e-3)   # 25-step CFM (parity README)


@pytest.fixture(scope="module")
def model():
    return load_s2mel(need(S2 / "config.yaml"))


@pytest.fixture(scope="module")
def io():
    ins = np.load(need(S2 / "inputs.npz"))
    exp = np.load(need(S2 / "expected.npz"))
    return ({k: torch.from_numpy(ins[k]) for k in ins.files}, {k: torch.from_numpy(exp[k]) for k in exp.files})


def _stage(model, i, name):
    """Run the pipeline up to `name` exactly as infer_generator does; returns the output tensor."""
    g = model.gpt_layer(i["gpt_latent"])
    if name == "gpt_layer_out":
        return g
    s_infer = i["S_codes_emb"] + g
    if name == "S_infer":
        return s_infer
    cond = model.regulate(s_infer, target_mel_frames(i["code_lens"]))
    if name == "cond":
        return cond
    prompt = model.regulate(i["S_ref"], i["ref_mel"].shape[-1])
    if name == "prompt_condition":
        return prompt
    mu = torch.cat([prompt, cond], dim=1)
    if name == "cat_condition":
        return mu
    if name == "estimator_out":
        return model.estimator(i["est_x"], i["est_prompt_x"], i["est_x_lens"], i["est_t"], i["est_style"], i["est_cond"])
    steps, rate = {"cfm_out_steps25": (25, 0.7), "vc_target_steps25": (25, 0.7), "cfm_out_steps4": (4, 0.7),
                   "vc_target_steps4": (4, 0.7), "cfm_out_steps4_nocfg": (4, 0.0)}[name]
    if rate:
        assert float(i["inference_cfg_rate"]) == pytest.approx(rate)
    out = model.sample(mu, i["ref_mel"], i["style"], steps=steps, cfg_rate=rate, noise=i["z_noise"])
    return out[:, :, i["ref_mel"].shape[-1]:] if name.startswith("vc_target") else out


KEYS = ["gpt_layer_out", "S_infer", "cond", "prompt_condition", "cat_condition", "estimator_out",
        "cfm_out_steps4_nocfg", "cfm_out_steps4", "cfm_out_steps25", "vc_target_steps4", "vc_target_steps25"]


@pytest.mark.parametrize("key", KEYS, ids=lambda k: f"s2mel-{k}")
def test_parity(model, io, key):
    i, e = io
    with torch.no_grad():
        got = _stage(model, i, key)
    tol = CHAIN_TOL if key.startswith(("cfm", "vc_target")) else MODULE_TOL
    assert tuple(got.shape) == tuple(e[key].shape)
    np.testing.assert_allclose(got.numpy(), e[key].numpy(), **tol)


def test_parity_target_length_rule(io):
    i, e = io
    assert torch.equal(target_mel_frames(i["code_lens"]), e["target_lengths"])
    # (n * 1.72) truncated in float32, ≈ 1.72 mel frames per 50 Hz code
    assert [int(target_mel_frames(n)) for n in (1, 25, 50, 250)] == [1, 43, 86, 430]


def test_segment_path_matches_stages(model, io):
    """S2Mel.forward (the per-segment call) = regulate + sample + crop the prompt frames."""
    i, e = io
    content = i["S_codes_emb"] + model.gpt_layer(i["gpt_latent"])
    out = model(content, i["S_ref"], i["ref_mel"], i["style"], steps=4, cfg_rate=0.7, noise=i["z_noise"])
    np.testing.assert_allclose(out.numpy(), e["vc_target_steps4"].numpy(), **CHAIN_TOL)


def test_generator_noise_is_reproducible(model, io):
    i, _ = io
    mu = torch.randn(1, 40, 32, generator=torch.Generator().manual_seed(0))
    prompt = i["ref_mel"][:, :, :10]
    a = model.sample(mu, prompt, i["style"], steps=2, generator=torch.Generator().manual_seed(7))
    b = model.sample(mu, prompt, i["style"], steps=2, generator=torch.Generator().manual_seed(7))
    c = model.sample(mu, prompt, i["style"], steps=2, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.all(a[:, :, :10] == 0)           # prompt frames stay zero
    with pytest.raises(ValueError, match="noise must have shape"):
        model.sample(mu, prompt, i["style"], steps=2, noise=torch.zeros(1, 80, 39))


def _official_dims():
    cfg = yaml.safe_load((need(S2 / "config.yaml")).read_text())["s2mel"]
    cfg["length_regulator"].update(channels=512, in_channels=1024)
    cfg["DiT"].update(hidden_dim=512, num_heads=8, content_dim=512)
    cfg["wavenet"].update(hidden_dim=512)
    for k in ("gpt_layer_in_dim", "gpt_layer_out_dim"):
        cfg.pop(k)
    return S2MelDims.from_config(cfg)


def test_official_size_shapes():
    """The official config builds the shapes listed in the reference spec (§5), on the meta device."""
    with torch.device("meta"):
        sd = S2Mel(_official_dims()).state_dict()
    want = {"gpt_proj.0.weight": (256, 1280), "gpt_proj.2.weight": (1024, 128),
            "length_regulator.content_in_proj.weight": (512, 1024), "length_regulator.model.12.weight": (512, 512, 1),
            "estimator.transformer.layers.12.attention.wqkv.weight": (1536, 512),
            "estimator.transformer.layers.0.feed_forward.w1.weight": (1536, 512),
            "estimator.transformer.layers.0.skip_in_linear.weight": (512, 1024),
            "estimator.cond_x_merge_linear.weight": (512, 864), "estimator.skip_linear.weight": (512, 592),
            "estimator.wavenet.cond_layer.weight": (8192, 512, 1), "estimator.wavenet.in_layers.7.weight": (1024, 512, 5),
            "estimator.wavenet.res_skip_layers.6.weight": (1024, 512, 1),
            "estimator.wavenet.res_skip_layers.7.weight": (512, 512, 1), "estimator.conv2.weight": (80, 512, 1)}
    assert {k: tuple(sd[k].shape) for k in want} == want


def _write_variant(tmp_path, edit):
    ckpt = torch.load(need(S2 / "s2mel.pth"), map_location="cpu", weights_only=True)
    edit(ckpt["net"])
    path = tmp_path / "s2mel.pth"
    torch.save(ckpt, path)
    return path


def test_mismatched_checkpoint_names_file_and_key(tmp_path):
    dims = S2MelDims.from_config(yaml.safe_load((need(S2 / "config.yaml")).read_text())["s2mel"])
    key = "estimator.transformer.layers.3.attention.wo.weight"

    def shrink(net):
        net["cfm"]["estimator.transformer.layers.3.attention.wo.weight"] = torch.zeros(32, 16)
    path = _write_variant(tmp_path, shrink)
    with pytest.raises(CheckpointError) as err:
        S2Mel.from_checkpoint(path, dims)
    assert str(path) in str(err.value) and key in str(err.value) and "(32, 16)" in str(err.value)

    def drop(net):
        del net["length_regulator"]["model.6.bias"]
    with pytest.raises(CheckpointError, match="length_regulator.model.6.bias"):
        S2Mel.from_checkpoint(_write_variant(tmp_path, drop), dims)

    def bad_norm(net):
        net["cfm"]["estimator.wavenet.in_layers.2.conv.conv.weight_g"] = torch.ones(3, 1, 1)
    with pytest.raises(CheckpointError, match=r"in_layers\.2\.conv\.conv\.weight_g"):
        S2Mel.from_checkpoint(_write_variant(tmp_path, bad_norm), dims)


def test_corrupt_checkpoint_names_file(tmp_path):
    dims = S2MelDims.from_config(yaml.safe_load((need(S2 / "config.yaml")).read_text())["s2mel"])
    data = need(S2 / "s2mel.pth").read_bytes()
    path = tmp_path / "s2mel.pth"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=str(path)):
        S2Mel.from_checkpoint(path, dims)


def test_unsupported_config_is_rejected():
    cfg = yaml.safe_load((need(S2 / "config.yaml")).read_text())["s2mel"]
    cfg["DiT"]["time_as_token"] = True
    with pytest.raises(ValueError, match="time_as_token"):
        S2MelDims.from_config(cfg)
    with pytest.raises(ValueError, match="missing"):
        S2MelDims.from_config({"DiT": {}})


def test_reduced_precision_path_stays_close(io):
    """bf16 autocast (the fast CPU option) is not bit-exact but must stay near the fp32 result."""
    i, e = io
    m = load_s2mel(need(S2 / "config.yaml"), dtype=torch.bfloat16)
    assert m.compute_dtype == torch.bfloat16 and m.estimator.conv2.weight.dtype == torch.float32
    mu = e["cat_condition"]
    out = m.sample(mu, i["ref_mel"], i["style"], steps=4, cfg_rate=0.7, noise=i["z_noise"])
    want = e["cfm_out_steps4"]
    rel = float((out - want).pow(2).mean().sqrt() / want.pow(2).mean().sqrt())
    assert out.dtype == torch.float32 and 0 < rel < 0.05
    with pytest.raises(ValueError, match="compute dtype"):
        m.set_compute_dtype(torch.int8)


def test_weight_norm_folds_in_place_only_when_asked():
    """in_place (a state just read, owned by the loader) writes the folded weight into weight_v,
    so no second tensor sits beside the file's pages; the default never touches the caller's."""
    from unitaf_blender.engines.unitaf.s2mel import fold_weight_norm
    torch.manual_seed(0)
    state = {"c.weight_v": torch.randn(4, 3, 5), "c.weight_g": torch.rand(4, 1, 1) + 0.5, "c.bias": torch.zeros(4)}
    v = state["c.weight_v"].clone()
    copied = fold_weight_norm(state, "t")["c.weight"]
    assert torch.equal(state["c.weight_v"], v) and copied.data_ptr() != state["c.weight_v"].data_ptr()
    folded = fold_weight_norm(state, "t", in_place=True)["c.weight"]
    assert folded.data_ptr() == state["c.weight_v"].data_ptr() and torch.equal(folded, copied)
