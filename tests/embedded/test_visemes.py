"""espeak mnemonic -> viseme mapping and the viseme -> ARKit tables."""
import numpy as np
import pytest

from unitaf_blender.core.channels import ARKIT_52, shape_vector
from unitaf_blender.core.performance import TimedLabel
from unitaf_blender.engines.embedded import visemes as V

# Every symbol six English espeak voices emitted (research/lite-engine.md §1.6), plus the
# en-029 / en-us-nyc extras.
SEEN = ("0 3 3: ? @ @2 @5 @L A: A@ D E I I# I2 N O2 O: O@ OI S T U U@ V Z _ _: a a# aI aI3 aI@ "
        "aU aa b d dZ e@ eI f g h i i: i@3 j k l m n n- o@ oU p r r- s t t# t2 tS t[ u: v w z "
        "IR VR aI2 w#").split()


@pytest.mark.parametrize("symbol", SEEN)
def test_every_seen_symbol_is_in_the_table(symbol):
    assert symbol in V.PHONEME_VISEMES, symbol
    out = V.phoneme_visemes(symbol)
    assert out and all(v in V.VISEMES for v in out)


def test_linking_marker_is_transparent_and_stress_is_read():
    assert V.phoneme_visemes(";") == ()
    assert V.split_stress("'aI") == ("aI", 1)
    assert V.split_stress(",I") == ("I", 2)
    assert V.split_stress("m") == ("m", 0)
    assert V.phoneme_visemes("'aI") == ("aa", "ih")


@pytest.mark.parametrize("label,expected", [
    ("p", ("PP",)), ("b", ("PP",)), ("m", ("PP",)), ("f", ("FF",)), ("v", ("FF",)),
    ("T", ("TH",)), ("tS", ("CH",)), ("s", ("SS",)), ("u:", ("ou",)), ("A:", ("aa",)),
    ("oU", ("oh", "ou")), ("eI", ("E", "ih")), ("aU", ("aa", "ou")), ("e@", ("E", "RR")),
    ("aI@", ("aa", "ih", "E")), ("_:", ("sil",)),
])
def test_known_mappings(label, expected):
    assert V.phoneme_visemes(label) == expected


@pytest.mark.parametrize("label", ["Q9", "aI3x", "~~", "@@@", "zz:", "\u0283", "k#*", "'", "ZZZZZZZZ"])
def test_unknown_symbols_fall_back_without_crashing(label):
    out = V.phoneme_visemes(label)
    assert all(v in V.VISEMES for v in out)
    # a greedy prefix match keeps what is known
    if label == "aI3x":
        assert out[:3] == ("aa", "ih", "RR")


def test_diphthong_splits_its_span_contiguously():
    starts, ends, ids, stress = V.viseme_segments(
        [TimedLabel(0.0, 0.1, "h"), TimedLabel(0.1, 0.3, "'aI"), TimedLabel(0.3, 0.4, "_")])
    names = [V.VISEMES[i] for i in ids]
    assert names == ["kk", "aa", "ih", "sil"]
    np.testing.assert_allclose(starts[1:], ends[:-1])
    assert starts[0] == 0.0 and ends[-1] == 0.4
    assert ends[1] - starts[1] > ends[2] - starts[2] > 0     # first target held longer
    assert list(stress) == [0, 1, 1, 0]                        # stress goes to the vowel parts


def test_transparent_and_zero_length_spans():
    starts, ends, ids, _ = V.viseme_segments(
        [(0.0, 0.1, "a"), (0.1, 0.15, ";"), (0.15, 0.15, "_"), (0.15, 0.3, "m")])
    assert [V.VISEMES[i] for i in ids] == ["aa", "PP"]
    assert ends[0] == pytest.approx(0.15)


def test_bad_span_is_a_clear_error():
    with pytest.raises(ValueError, match="bad phoneme span"):
        V.viseme_segments([TimedLabel(0.3, 0.1, "a")])
    with pytest.raises(ValueError, match="bad phoneme span"):
        V.viseme_segments([TimedLabel(float("nan"), 0.1, "a")])


def test_tables_are_complete_and_sane():
    targets, dominance = V.viseme_tables()
    assert targets.shape == dominance.shape == (15, 52)
    assert set(V.VISEME_SHAPES) == set(V.VISEMES) == set(V.DOMINANCE)
    assert targets.min() >= 0 and targets.max() <= 1
    jaw = ARKIT_52.index("jawOpen")
    t = {v: targets[i] for i, v in enumerate(V.VISEMES)}
    assert t["aa"][jaw] > t["E"][jaw] > t["ih"][jaw] > t["PP"][jaw]
    assert t["ou"][ARKIT_52.index("mouthPucker")] == targets[:, ARKIT_52.index("mouthPucker")].max()
    assert not t["sil"].any()
    lips = np.array([V.DOMINANCE[v][0] for v in V.VISEMES])
    assert lips[V.VISEME_INDEX["PP"]] == lips.max()             # bilabials own the lips
    with pytest.raises(ValueError, match="not an ARKit channel"):
        shape_vector({"mouthGrin": 0.5})
