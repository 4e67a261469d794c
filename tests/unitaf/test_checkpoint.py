"""Safe checkpoint reading: our safetensors reader, weights_only torch.load, strict key/shape checks."""
import json
import struct

import pytest

torch = pytest.importorskip("torch")

from shared_paths import PARITY, need
from unitaf_blender.engines.unitaf.checkpoint import (
    CheckpointError,
    flatten,
    load_into,
    read_checkpoint,
    read_safetensors,
)

_TAGS = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64",
         torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL", torch.float64: "F64"}


def write_safetensors(path, tensors, pad_header=0):
    """Minimal independent writer used only to produce test files."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        raw = t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": _TAGS[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    hb = json.dumps(header).encode() + b" " * pad_header
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb + b"".join(blobs))


def _sample():
    g = torch.Generator().manual_seed(0)
    return {
        "a.weight": torch.randn(3, 5, generator=g),
        "a.half": torch.randn(4, generator=g).half(),
        "a.bf16": torch.randn(2, 3, generator=g).bfloat16(),
        "ids": torch.arange(-3, 4, dtype=torch.int64),
        "ids32": torch.tensor([7, -1], dtype=torch.int32),
        "mask": torch.tensor([True, False, True]),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 4),
    }


def test_safetensors_roundtrip(tmp_path):
    src = _sample()
    write_safetensors(tmp_path / "m.safetensors", src, pad_header=5)
    got = read_safetensors(tmp_path / "m.safetensors")
    assert set(got) == set(src)
    for k, v in src.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape
        assert torch.equal(got[k], v), k
    # read_checkpoint dispatches on the extension
    assert torch.equal(read_checkpoint(tmp_path / "m.safetensors")["a.bf16"], src["a.bf16"])


def test_safetensors_truncated(tmp_path):
    write_safetensors(tmp_path / "m.safetensors", _sample())
    data = (tmp_path / "m.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[:-7])
    with pytest.raises(CheckpointError, match=r"cut\.safetensors.*(truncated|corrupt)"):
        read_safetensors(tmp_path / "cut.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(CheckpointError, match="junk.safetensors"):
        read_safetensors(tmp_path / "junk.safetensors")


def test_safetensors_parity_files_match_key_listing():
    for rel in ("semantic/semantic_codec/model.safetensors", "semantic/w2v-bert-2.0/model.safetensors"):
        path = need(PARITY / rel)
        got = read_safetensors(path)
        rows = [line.split("\t") for line in (path.parent / (path.name + ".keys.txt")).read_text().splitlines()]
        assert len(got) == len(rows)
        for key, shape, dtype in rows:
            want = json.loads(shape.replace("(", "[").replace(",)", "]").replace(")", "]"))
            assert tuple(got[key].shape) == tuple(want)
            assert str(got[key].dtype) == f"torch.{dtype}"
            assert torch.isfinite(got[key]).all()


def test_read_checkpoint_containers(tmp_path):
    sd = {"w": torch.ones(2), "b": torch.zeros(3)}
    torch.save(sd, tmp_path / "plain.pt")
    torch.save({"model": sd, "step": 5}, tmp_path / "wrapped.pt")
    torch.save({"net": {"cfm": {"x": torch.ones(1)}, "length_regulator": {"y": torch.zeros(2)}},
                "optimizer": {"state": {}}, "iters": 10}, tmp_path / "nested.pth")
    assert set(read_checkpoint(tmp_path / "plain.pt")) == {"w", "b"}
    assert set(read_checkpoint(tmp_path / "wrapped.pt", container="model")) == {"w", "b"}
    assert set(read_checkpoint(tmp_path / "nested.pth", container="net")) == {"cfm.x", "length_regulator.y"}
    assert set(read_checkpoint(tmp_path / "nested.pth", container="net.cfm")) == {"x"}
    with pytest.raises(CheckpointError, match=r"nested\.pth.*'generator'"):
        read_checkpoint(tmp_path / "nested.pth", container="generator")
    assert flatten({"a": {"b": {"c": 1}}, "d": 2}) == {"a.b.c": 1, "d": 2}


def test_read_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match=r"not found: .*nope\.pt"):
        read_checkpoint(tmp_path / "nope.pt")
    (tmp_path / "corrupt.pt").write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(CheckpointError, match=r"corrupt\.pt.*(unreadable|corrupt)"):
        read_checkpoint(tmp_path / "corrupt.pt")
    torch.save({"w": torch.ones(1)}, tmp_path / "good.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "good.pt").read_bytes()[:100])
    with pytest.raises(CheckpointError, match="cut.pt"):
        read_checkpoint(tmp_path / "cut.pt")
    torch.save({"meta": 3}, tmp_path / "notensors.pt")
    with pytest.raises(CheckpointError, match="no tensors"):
        read_checkpoint(tmp_path / "notensors.pt")


def test_safetensors_key_filter(tmp_path):
    src = _sample()
    write_safetensors(tmp_path / "m.safetensors", src)
    path = tmp_path / "m.safetensors"
    got = read_safetensors(path, keys=lambda k: k.startswith("a."))     # a predicate
    assert sorted(got) == ["a.bf16", "a.half", "a.weight"]
    for k, v in got.items():
        assert v.dtype == src[k].dtype and torch.equal(v, src[k]), k
    got = read_safetensors(path, keys={"ids", "ids32", "mask", "not.in.file"})   # a set of names
    assert sorted(got) == ["ids", "ids32", "mask"] and torch.equal(got["ids"], src["ids"])
    assert read_safetensors(path, keys=()) == {}
    assert torch.equal(read_checkpoint(path, keys=["scalar"])["scalar"], src["scalar"])
    with pytest.raises(CheckpointError, match="no tensors matching the key filter"):
        read_checkpoint(path, keys=lambda k: False)
    with pytest.raises(TypeError, match="single string"):
        read_safetensors(path, keys="ids")
    # the whole header is still checked: a bad entry of a skipped tensor is an error
    data = bytearray(path.read_bytes())
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    header["a.weight"]["data_offsets"][1] += 1000
    hb = json.dumps(header).encode()
    (tmp_path / "bad.safetensors").write_bytes(struct.pack("<Q", len(hb)) + hb + bytes(data[8 + n:]))
    with pytest.raises(CheckpointError, match=r"'a\.weight'.*(truncated|corrupt)"):
        read_safetensors(tmp_path / "bad.safetensors", keys={"ids"})


def test_torch_checkpoint_key_filter(tmp_path):
    torch.save({"net": {"cfm": {"x": torch.ones(2)}, "skip": {"y": torch.zeros(3)}}}, tmp_path / "n.pth")
    assert set(read_checkpoint(tmp_path / "n.pth", container="net", keys=lambda k: k.startswith("cfm."))) == {"cfm.x"}
    assert set(read_checkpoint(tmp_path / "n.pth", keys={"net.skip.y"})) == {"net.skip.y"}


def _record_reads(monkeypatch, module) -> list:
    """The names of every tensor `module`'s read_checkpoint returns from now on."""
    read = []

    def spy(path, *args, **kwargs):
        out = read_checkpoint(path, *args, **kwargs)
        read.extend(out)
        return out
    monkeypatch.setattr(module, "read_checkpoint", spy)
    return read


def test_w2v_bert_loader_reads_only_the_layers_it_builds(monkeypatch):
    """IndexTTS2 uses 17 of w2v-BERT's 24 layers: the other 7 (~680 MB) must never be read."""
    from unitaf_blender.engines.unitaf import semantic
    src = need(PARITY / "semantic" / "w2v-bert-2.0")
    read = _record_reads(monkeypatch, semantic)
    model = semantic.load_w2v_bert(src)
    layers = {int(k.split(".")[2]) for k in read if k.startswith("encoder.layers.")}
    assert layers == set(range(semantic.SEMANTIC_LAYER)) and len(model.encoder.layers) == semantic.SEMANTIC_LAYER
    assert len(read) == len(model.state_dict())   # exactly the tensors the model holds, nothing else


class Payload:  # a class torch's weights_only unpickler must refuse
    def __reduce__(self):
        return (print, ("this must never run",))


def test_non_tensor_payload_refused(tmp_path, capsys):
    torch.save({"w": torch.ones(1), "evil": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match=r"evil\.pt: refused.*print") as exc:
        read_checkpoint(tmp_path / "evil.pt")
    assert "this must never run" not in capsys.readouterr().out
    assert "refused as unsafe (it contains Python objects, not just tensors" in str(exc.value)
    assert "corrupt" not in str(exc.value) and "weights_only" not in str(exc.value)


def test_emotion_matrix_with_objects_is_unsafe_and_never_advises_weights_only_false(tmp_path):
    from unitaf_blender.engines.unitaf.emotion_matrix import load_emotion_matrices
    torch.save(torch.ones(3, 4), tmp_path / "feat1.pt")
    torch.save({"m": torch.ones(3, 4), "evil": Payload()}, tmp_path / "feat2.pt")
    with pytest.raises(CheckpointError) as exc:
        load_emotion_matrices(tmp_path / "feat1.pt", tmp_path / "feat2.pt")
    text = str(exc.value)
    assert "feat2.pt" in text and "refused as unsafe" in text
    assert "weights_only" not in text and "corrupt" not in text


def test_torch_reason_strips_the_unsafe_advice():
    from unitaf_blender.engines.unitaf.checkpoint import torch_reason
    err = RuntimeError("Weights only load failed. Re-running `torch.load` with `weights_only` set to `False` "
                       "will likely succeed. Do it only if you got the file from a trusted source.\nmore")
    assert torch_reason(err) == "Weights only load failed."


def _model():
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))


def test_load_into_ok_with_prefix_rename_ignore():
    src = _model()
    state = {"module." + k: v.clone() + 1 for k, v in src.state_dict().items()}
    state["module.inference_model.x"] = torch.ones(1)
    state["module.0.w"] = state.pop("module.0.weight")
    dst = _model()
    load_into(dst, state, "test.pt", strip_prefix="module.", rename={"0.w": "0.weight"},
              ignore=("inference_model.",))
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v + 1)
    # callable rename that drops a key
    dst2 = _model()
    load_into(dst2, {**{k: v for k, v in src.state_dict().items()}, "junk": torch.ones(1)}, "x.pt",
              rename=lambda k: None if k == "junk" else k)


def test_load_into_shape_mismatch_names_first_key_and_shapes():
    state = dict(_model().state_dict())
    state["2.weight"] = torch.zeros(5, 3)
    with pytest.raises(CheckpointError, match=r"bad\.pt: key '2\.weight' has shape \(5, 3\).*expects \(2, 3\)"):
        load_into(_model(), state, "bad.pt")


def test_load_into_missing_and_unexpected():
    state = dict(_model().state_dict())
    del state["0.bias"]
    state["extra.weight"] = torch.ones(1)
    with pytest.raises(CheckpointError, match=r"m\.pt.*1 missing \(first: '0\.bias'\).*1 unexpected"):
        load_into(_model(), state, "m.pt")
    dst = _model()
    before = dst.state_dict()["0.bias"].clone()
    load_into(dst, state, "m.pt", strict=False)  # partial load keeps the missing tensor
    assert torch.equal(dst.state_dict()["0.bias"], before)
    assert torch.equal(dst.state_dict()["0.weight"], state["0.weight"])


def test_garbage_is_reported_as_corrupt_not_unsafe(tmp_path):
    (tmp_path / "garbage.pt").write_bytes(b"garbage" * 10)
    with pytest.raises(CheckpointError, match=r"garbage\.pt: unreadable or corrupt"):
        read_checkpoint(tmp_path / "garbage.pt")


def test_legacy_torch_format_and_mmap(tmp_path):
    sd = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "n": torch.tensor(3)}
    torch.save(sd, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)  # campplus-style file
    got = read_checkpoint(tmp_path / "legacy.pt")
    assert torch.equal(got["w"], sd["w"]) and got["n"].item() == 3
    torch.save(sd, tmp_path / "zip.pt")
    assert torch.equal(read_checkpoint(tmp_path / "zip.pt")["w"], sd["w"])


def test_load_into_meta_module_takes_the_tensors_one_by_one():
    """A meta-device module takes the checkpoint tensors themselves (no second copy; cast only
    where the dtype differs) and consume=True empties the state as it goes, so loading peaks at
    ~1x the weights (full-size GPT: 6.78 -> 3.54 GiB peak RSS, bench/README.md)."""
    from unitaf_blender.engines.unitaf.checkpoint import load_into
    src = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    state = {f"model.{k}": v.clone() for k, v in src.state_dict().items()}
    ptrs = {k: v.data_ptr() for k, v in state.items()}
    with torch.device("meta"):
        dst = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    load_into(dst, state, "test", strip_prefix="model.", consume=True)
    assert state == {}
    for k, v in dst.state_dict().items():
        assert not v.is_meta and v.data_ptr() == ptrs[f"model.{k}"]      # the same memory, not a copy
        assert torch.equal(v, src.state_dict()[k])
    assert isinstance(dst[0].weight, torch.nn.Parameter)
    with torch.device("meta"):
        half = torch.nn.Linear(4, 3).to(torch.bfloat16)
    load_into(half, {k: v.clone() for k, v in src[0].state_dict().items()}, "test", consume=True)
    assert half.weight.dtype == torch.bfloat16 and torch.equal(half.weight, src[0].weight.bfloat16())
    kept = torch.nn.Linear(4, 3)                                           # allocated: copied into
    weight = kept.weight
    state = dict(src[0].state_dict())
    load_into(kept, state, "test")
    assert kept.weight is weight and torch.equal(kept.weight, src[0].weight) and len(state) == 2


def test_load_on_meta_refuses_a_buffer_left_on_meta():
    """A non-persistent buffer computed in __init__ is not in any checkpoint: built on meta it stays
    there unless its loader recomputes it, and `load_on_meta` says so instead of running on it."""
    from unitaf_blender.engines.unitaf.checkpoint import load_on_meta

    class Windowed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(4, 4)
            self.register_buffer("window", torch.hann_window(4), persistent=False)

    state = {k: v.clone() for k, v in Windowed().state_dict().items()}
    with pytest.raises(CheckpointError, match=r"src\.pt: 1 tensors were not loaded \(first: 'window'\)"):
        load_on_meta(Windowed, state, "src.pt")
    model = load_on_meta(lambda: torch.nn.Linear(4, 4), {"weight": torch.ones(4, 4), "bias": torch.zeros(4)}, "ok")
    assert torch.equal(model.weight, torch.ones(4, 4))


def test_repcodec_loader_never_reads_the_decoder(monkeypatch):
    """RepCodec's decoder half (unused: only codes and their embeddings are needed) is never read."""
    import yaml

    from unitaf_blender.engines.unitaf import semantic
    sem = need(PARITY / "semantic")
    read = _record_reads(monkeypatch, semantic)
    cfg = yaml.safe_load((sem / "config.yaml").read_text())
    model = semantic.load_repcodec(sem / "semantic_codec" / "model.safetensors",
                                   semantic.RepCodecDims.from_config(cfg["semantic_codec"]))
    assert any(k.startswith("decoder.") for k in read_safetensors(sem / "semantic_codec" / "model.safetensors"))
    assert not any(k.startswith("decoder.") for k in read) and len(read) == len(model.state_dict())
