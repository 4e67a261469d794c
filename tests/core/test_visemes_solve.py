"""core.visemes: the NNLS fit, the conflict rule, smoothing, and the solve on a real
embedded-engine performance (closures on PP / Close, open vowels on aa, rounded on ou/oh)."""
import itertools

import numpy as np
import pytest

from unitaf_blender.core import visemes as CV
from unitaf_blender.core.channels import ARKIT_52
from unitaf_blender.engines import GenerateRequest
from unitaf_blender.engines.embedded import visemes as EV
from unitaf_blender.engines.embedded.engine import EmbeddedEngine


def _brute_nnls(A, y):
    """Exact NNLS by trying every support: the best least-squares fit with all coefficients >= 0."""
    best, best_x = np.inf, np.zeros(A.shape[1])
    for r in range(A.shape[1] + 1):
        for support in itertools.combinations(range(A.shape[1]), r):
            x = np.zeros(A.shape[1])
            if support:
                sol, *_ = np.linalg.lstsq(A[:, support], y, rcond=None)
                if (sol < 0).any():
                    continue
                x[list(support)] = sol
            err = float(np.sum((A @ x - y) ** 2))
            if err < best:
                best, best_x = err, x
    return best, best_x


def test_nnls_matches_exhaustive_search():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(12, 6))
    Y = rng.normal(size=(40, 12))
    X = CV.nnls(A, Y, iterations=5000)
    assert (X >= 0).all()
    for x, y in zip(X, Y):
        best, best_x = _brute_nnls(A, y)
        assert float(np.sum((A @ x - y) ** 2)) == pytest.approx(best, rel=1e-6, abs=1e-9)
        np.testing.assert_allclose(x, best_x, atol=1e-4)


def test_tables_moved_to_core_and_embedded_uses_them():
    assert EV.VISEMES is CV.VISEMES and EV.VISEME_SHAPES is CV.VISEME_SHAPES
    sig = CV.viseme_signatures()
    assert sig.shape == (15, 52) and sig.dtype == np.float32
    np.testing.assert_array_equal(EV.viseme_tables()[0], sig)
    assert not sig[CV.VISEME_INDEX["sil"]].any()
    # the fit reads the mouth only
    assert {c for c in ARKIT_52 if CV.is_mouth_channel(c)} >= {"jawOpen", "mouthClose", "tongueOut"}
    assert not any(CV.is_mouth_channel(c) for c in ("eyeBlinkLeft", "browInnerUp", "cheekPuff"))


@pytest.mark.parametrize("set_id", ["oculus", "vowels5", "cc_lips"])
def test_each_pure_signature_is_recovered(set_id):
    """A frame that is exactly one target's signature is solved as that target alone."""
    vset = CV.VISEME_SETS[set_id]
    sig = vset.signatures()
    fitted = [t for t in vset.targets if t != vset.rest]
    # each shape held 10 frames (a long phoneme at 30 fps), then 10 frames of rest
    weights = np.zeros((20 * len(fitted), len(ARKIT_52)), np.float32)
    for k, target in enumerate(fitted):
        weights[20 * k:20 * k + 10] = sig[vset.targets.index(target)]
    out = CV.solve_visemes(ARKIT_52, weights, set_id)
    for k, target in enumerate(fitted):
        mid = 20 * k + 5
        row = {t: float(out[t][mid]) for t in fitted}
        assert max(row, key=row.get) == target, (target, row)
        assert row[target] > 0.8, (target, row)


def test_conflict_rule_and_rest_share():
    """Never two visemes above 0.5; weights sum to <= 1; sil is the rest; upper face ignored."""
    rng = np.random.default_rng(0)
    weights = rng.uniform(0, 1, size=(200, len(ARKIT_52))).astype(np.float32)
    out = CV.solve_visemes(ARKIT_52, weights, "oculus")
    W = np.stack([out[v] for v in CV.VISEMES], 1)
    assert W.min() >= 0 and W.max() <= 1
    np.testing.assert_allclose(W.sum(1), 1.0, atol=1e-5)          # with sil
    others = W[:, 1:]
    assert (np.sort(others, 1)[:, -2] <= 0.5 + 1e-6).all()
    # a face with only upper-face motion is the rest shape
    still = np.zeros((30, len(ARKIT_52)), np.float32)
    still[:, ARKIT_52.index("eyeBlinkLeft")] = 1.0
    still[:, ARKIT_52.index("browInnerUp")] = 1.0
    out = CV.solve_visemes(ARKIT_52, still, "oculus")
    assert out["sil"].min() == 1.0


def test_a_two_frame_closure_survives_smoothing():
    pp = CV.VISEME_SETS["oculus"].signatures()[CV.VISEME_INDEX["PP"]]
    aa = CV.VISEME_SETS["oculus"].signatures()[CV.VISEME_INDEX["aa"]]
    weights = np.tile(aa, (30, 1))
    weights[14:16] = pp
    out = CV.solve_visemes(ARKIT_52, weights, "oculus", fps=30.0)
    assert out["PP"][14:16].min() > 0.8
    assert out["aa"][:10].min() > 0.8
    # the same 2-frame closure at 60 fps (a wider window), and a 1-frame one at 30 fps
    out = CV.solve_visemes(ARKIT_52, weights, "oculus", fps=60.0)
    assert out["PP"][14:16].min() > 0.8
    weights[15] = aa
    out = CV.solve_visemes(ARKIT_52, weights, "oculus", fps=30.0)
    assert out["PP"][14] > 0.75 and out["aa"][14] < 0.25


@pytest.fixture(scope="module")
def take():
    # espeak's phonemes: the counts below are its reading of the line
    perf = EmbeddedEngine().generate(GenerateRequest(text="Bob may paint a map of Paris.", emotion="calm:0.3",
                                                     voice="espeak:en-us"))
    return perf


def _centre_frame(ph, perf):
    return min(int(round(0.5 * (ph.start + ph.end) * perf.fps)), perf.n_frames - 1)


def _bare(label):
    return EV.split_stress(label)[0]


def test_bilabials_land_on_pp_and_vowels_on_aa(take):
    out = CV.solve_visemes(take.channels, take.weights, "oculus", take.fps)
    names = list(out)
    W = np.stack([out[v] for v in names], 1)
    assert (np.sort(W[:, 1:], 1)[:, -2] <= 0.8).all()          # never two visemes > 0.8
    bilabials = [p for p in take.phonemes if _bare(p.label)[:1] in ("p", "b", "m")]
    assert len(bilabials) == 7
    pp = names.index("PP")
    for ph in bilabials:
        c = _centre_frame(ph, take)
        window = W[max(c - 2, 0):c + 3]
        hit = [row for row in window if row.argmax() == pp and row[pp] >= 0.5]
        assert hit, (ph, window.round(2))
    open_vowels = [p for p in take.phonemes if _bare(p.label) in ("a", "0")]
    assert len(open_vowels) == 3
    for ph in open_vowels:
        row = W[_centre_frame(ph, take)]
        assert names[row.argmax()] == "aa" and row.max() > 0.6, (ph, row.round(2))


def test_bilabials_close_the_five_vowel_mouth(take):
    out = CV.solve_visemes(take.channels, take.weights, "vowels5", take.fps)
    vowels = np.stack([out[v] for v in ("A", "I", "U", "E", "O")], 1)
    for ph in take.phonemes:
        if _bare(ph.label)[:1] not in ("p", "b", "m"):
            continue
        c = _centre_frame(ph, take)
        ok = [k for k in range(max(c - 2, 0), min(c + 3, take.n_frames))
              if vowels[k].max() < 0.2 or out["Close"][k] > 0.6]
        assert ok, ph


def test_rounded_vowels_land_on_ou_oh():
    perf = EmbeddedEngine().generate(GenerateRequest(text="Do you do it too?", emotion="calm:0.3"))
    out = CV.solve_visemes(perf.channels, perf.weights, "oculus", perf.fps)
    five = CV.solve_visemes(perf.channels, perf.weights, "vowels5", perf.fps)
    rounded = [p for p in perf.phonemes if _bare(p.label) in ("u:", "U")]
    assert len(rounded) >= 3
    for ph in rounded:
        c = _centre_frame(ph, perf)
        row = {v: float(out[v][c]) for v in CV.VISEMES if v != "sil"}
        assert max(row, key=row.get) in ("ou", "oh"), (ph, row)
        assert max(("A", "I", "U", "E", "O"), key=lambda v: five[v][c]) in ("U", "O")


def test_tongue_projection_follows_the_oculus_solve(take):
    tongue = CV.solve_visemes(take.channels, take.weights, "cc_tongue", take.fps)
    oculus = CV.solve_visemes(take.channels, take.weights, "oculus", take.fps)
    np.testing.assert_allclose(tongue["V_Tongue_Lower"], np.clip(0.5 * oculus["aa"], 0, 1), atol=1e-6)
    np.testing.assert_allclose(tongue["V_Tongue_up"], np.clip(oculus["DD"] + oculus["nn"], 0, 1), atol=1e-6)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="weights must be"):
        CV.solve_visemes(ARKIT_52, np.zeros((4, 3)), "oculus")
    out = CV.solve_visemes(ARKIT_52, np.zeros((0, 52)), "vowels5")
    assert all(v.shape == (0,) for v in out.values())
