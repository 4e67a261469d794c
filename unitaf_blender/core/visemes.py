"""Visemes as engine-neutral data, and a solver that reads them back out of any ARKit mouth.

Tables
------
`VISEMES` are the 15 Oculus/Meta visemes, `VISEME_SHAPES` what each looks like in ARKit
weights at full articulation, `viseme_signatures()` the same as a [15, 52] array. The
embedded engine builds its mouth from these; the solver below inverts them.

Viseme sets (`VISEME_SETS`): the mouth shapes a rig offers. Every target of a set has a
*recipe* over the 15 (its ARKit signature is that mix of the 15 signatures):

    oculus     sil PP FF TH DD kk CH SS nn RR aa E ih oh ou   (RPM `viseme_*`, Rocketbox `AA_VI_`)
    vowels5    A=aa I=ih U=ou E=E O=oh, Close=PP               (VRoid Fcl_MTH_*, MMD あいうえお ん)
    cc_lips    V_Open=aa V_Explosive=PP V_Dental_Lip=FF V_Tight_O=ou V_Tight=SS V_Wide=ih
               V_Affricate=CH V_Lip_Open=DD/nn/kk              (Character Creator 8 lip visemes)
    cc_tongue  projected, not fitted: ARKit has no tongue but tongueOut, so the tongue keys
               follow the Oculus solve (TH -> V_Tongue_Out, DD+nn -> V_Tongue_up, ...)

The solve (`solve_visemes`):

0. Expression floor. Emotions hold some mouth channels for seconds (happy: smile and
   dimple; angry: pressed lips; sad: frown). No viseme explains them, and a least-squares
   fit would read a held smile as `ih` and angry pressed lips as a held `PP`. For those
   channels only (EXPRESSION_CHANNELS) the fit sees the value minus its running minimum
   over FLOOR_S (then averaged over the same window): what a phoneme adds on top of the
   expression. Opening channels (jawOpen, funnel, pucker, lowerDown...) are never floored,
   so a long vowel stays a vowel.
1. Fit (per frame). Only the MOUTH channels of the performance are used (jaw*, mouth*, tongueOut; the
   upper face is not speech). With A = the set's signatures restricted to those channels
   [C, K] and y the frame's values, minimise ||A x - y||^2 + L1 * sum(x) + RIDGE * |x|^2
   over x >= 0 (jawOpen read as jawOpen - mouthClose: how far the lips are open, since
   mouthClose seals them over an open jaw, so a sealed /p/ is not an open vowel's jaw):
   a non-negative least-squares fit, solved for all frames at once by
   accelerated projected gradient (FISTA with adaptive restart). The small L1 term prefers
   few visemes when several mixes explain a frame equally; the ridge makes the solution
   unique where signatures are nearly collinear (DD vs nn).
2. Smoothing. A triangular window of SMOOTH_S either side (3 taps at 30 fps) removes
   frame-to-frame flicker between similar visemes. Contact visemes (PP, FF; Close,
   V_Explosive, V_Dental_Lip) keep max(raw, smoothed), so a 2-frame /p/ keeps its peak.
3. Conflict rule (readability). Mouth shapes are alternatives, not layers: adding
   aa + oh at full weight deforms the mouth twice. So the activations a_i are turned into
   w_i = I * a_i^P / sum_j a_j^P with intensity I = min(1, sum_j a_j) and P = SHARPEN:
   the weights sum to at most 1 (two visemes can never both exceed 0.5), the dominant
   shape keeps most of the weight (a 2:1 ratio becomes 4:1 with P = 2), and a quiet
   mouth stays quiet. A rest target (`sil`) takes 1 - sum(others).
"""
from dataclasses import dataclass

import numpy as np

from .channels import ARKIT_52, shape_vector
from .signal import DEFAULT_FPS

VISEMES = ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou")
VISEME_INDEX = {v: i for i, v in enumerate(VISEMES)}
VOWEL_VISEMES = frozenset(("aa", "E", "ih", "oh", "ou"))

# Viseme -> ARKit weights at full articulation. Names without Left/Right apply to both
# sides. Lip levels follow a real iPhone capture of speech (upper-lip raise and lower-lip
# depression p95 ~0.6): open and front vowels bare the teeth, /f v/ tuck the lower lip
# (roll), /S tS Z/ protrude and flare both lips. PP seals the lips with mouthClose over a
# jaw that stays a little open, pressing lightly (face.enforce_lip_closure adds the pressure
# of a plosive). Funnelled shapes narrow the lips over the jaw too: their mouthClose is
# min(jawOpen - 0.06, 0.85 * mouthFunnel), as in the capture (embedded/face.py draws it).
VISEME_SHAPES = {
    "sil": {},
    "PP": {"mouthClose": 0.18, "jawOpen": 0.18, "mouthPress": 0.1, "mouthRollLower": 0.12,
           "mouthRollUpper": 0.08},
    "FF": {"mouthRollLower": 0.55, "mouthUpperUp": 0.3, "mouthShrugUpper": 0.12, "jawOpen": 0.1},
    "TH": {"jawOpen": 0.15, "tongueOut": 0.35, "mouthLowerDown": 0.25, "mouthUpperUp": 0.15},
    "DD": {"jawOpen": 0.16, "mouthStretch": 0.1, "mouthUpperUp": 0.25, "mouthLowerDown": 0.25},
    "kk": {"jawOpen": 0.22, "mouthStretch": 0.1, "mouthUpperUp": 0.15, "mouthLowerDown": 0.25},
    "CH": {"mouthFunnel": 0.5, "mouthPucker": 0.3, "jawOpen": 0.1, "mouthUpperUp": 0.4,
           "mouthLowerDown": 0.35, "mouthShrugUpper": 0.15, "mouthClose": 0.04},
    "SS": {"jawOpen": 0.1, "mouthStretch": 0.3, "mouthSmile": 0.2, "mouthUpperUp": 0.3,
           "mouthLowerDown": 0.3},
    "nn": {"jawOpen": 0.15, "mouthStretch": 0.08, "mouthUpperUp": 0.15, "mouthLowerDown": 0.15},
    "RR": {"mouthPucker": 0.35, "mouthFunnel": 0.3, "jawOpen": 0.12, "mouthUpperUp": 0.2,
           "mouthLowerDown": 0.1, "mouthClose": 0.06},
    "aa": {"jawOpen": 0.6, "mouthLowerDown": 0.5, "mouthUpperUp": 0.3, "mouthStretch": 0.05},
    "E": {"jawOpen": 0.38, "mouthStretch": 0.25, "mouthLowerDown": 0.45, "mouthUpperUp": 0.4,
          "mouthSmile": 0.25},
    "ih": {"jawOpen": 0.2, "mouthStretch": 0.35, "mouthSmile": 0.35, "mouthUpperUp": 0.4,
           "mouthLowerDown": 0.4},
    "oh": {"jawOpen": 0.42, "mouthFunnel": 0.5, "mouthPucker": 0.25, "mouthLowerDown": 0.25,
           "mouthUpperUp": 0.15, "mouthClose": 0.36},
    "ou": {"mouthPucker": 0.7, "mouthFunnel": 0.35, "jawOpen": 0.15, "mouthUpperUp": 0.05,
           "mouthClose": 0.09},
}

# Solver constants (module docstring, steps 1-3).
L1 = 0.002
RIDGE = 1e-4
ITERATIONS = 400
SMOOTH_S = 1.0 / 30.0
SHARPEN = 2.0
FLOOR_S = 0.6
# Mouth channels that emotions hold for seconds (a smile, pressed angry lips, a frown, a
# sideways jaw). Their slowly varying floor is expression, not speech (step 0).
EXPRESSION_CHANNELS = frozenset(n for n in ARKIT_52 if n.startswith((
    "mouthSmile", "mouthFrown", "mouthDimple", "mouthPress", "mouthShrug", "mouthLeft", "mouthRight",
    "jawLeft", "jawRight", "jawForward")))


def viseme_signatures() -> np.ndarray:
    """float32 [15, 52]: the ARKit weights of each viseme, in VISEMES x ARKIT_52 order."""
    return np.stack([shape_vector(VISEME_SHAPES[v]) for v in VISEMES])


def is_mouth_channel(name: str) -> bool:
    """The channels speech moves and the solve reads: jaw*, mouth*, tongueOut."""
    return name.startswith(("jaw", "mouth")) or name == "tongueOut"


@dataclass(frozen=True)
class VisemeSet:
    id: str
    label: str
    targets: tuple           # output order
    recipe: dict             # target -> {Oculus viseme: weight}
    contacts: tuple = ()     # lip-contact targets whose short peaks survive smoothing
    rest: str = None         # target that takes 1 - sum(others); its recipe is empty
    source: str = None       # projected sets: solve `source`, then mix through the recipe

    def signatures(self) -> np.ndarray:
        """float32 [K, 52]: each target's recipe applied to the 15 Oculus signatures."""
        base = viseme_signatures()
        out = np.zeros((len(self.targets), len(ARKIT_52)), np.float32)
        for k, target in enumerate(self.targets):
            for viseme, weight in self.recipe[target].items():
                out[k] += weight * base[VISEME_INDEX[viseme]]
        return out

    def mouth_channels(self) -> set:
        """The mouth channels at least one target moves (what solving this set reads)."""
        sig = self.signatures()
        return {c for c, col in zip(ARKIT_52, sig.T) if col.any() and is_mouth_channel(c)}


VISEME_SETS = {s.id: s for s in (
    VisemeSet("oculus", "Oculus visemes (15)", VISEMES, {v: ({} if v == "sil" else {v: 1.0}) for v in VISEMES},
              contacts=("PP", "FF"), rest="sil"),
    # Japanese-style five vowels; Close is the closed mouth of /p b m/ (VRoid Fcl_MTH_Close,
    # MMD ん). Consonants other than the bilabials are fitted as the nearest vowel mix.
    VisemeSet("vowels5", "five vowels A I U E O (+ Close)", ("A", "I", "U", "E", "O", "Close"),
              {"A": {"aa": 1.0}, "I": {"ih": 1.0}, "U": {"ou": 1.0}, "E": {"E": 1.0}, "O": {"oh": 1.0},
               "Close": {"PP": 1.0}}, contacts=("Close",)),
    # Character Creator's 8 lip shapes of the "8+7 phoneme pair" set. V_Tight (lips tight over
    # closed teeth) is read as the sibilant shape; V_Lip_Open (lips apart, teeth near) as the
    # alveolar/velar consonants.
    VisemeSet("cc_lips", "Character Creator lip visemes (8)",
              ("V_Open", "V_Explosive", "V_Dental_Lip", "V_Tight_O", "V_Tight", "V_Wide", "V_Affricate",
               "V_Lip_Open"),
              {"V_Open": {"aa": 1.0}, "V_Explosive": {"PP": 1.0}, "V_Dental_Lip": {"FF": 1.0},
               "V_Tight_O": {"ou": 1.0}, "V_Tight": {"SS": 1.0}, "V_Wide": {"ih": 1.0},
               "V_Affricate": {"CH": 1.0}, "V_Lip_Open": {"DD": 0.5, "nn": 0.25, "kk": 0.25}},
              contacts=("V_Explosive", "V_Dental_Lip")),
    # The tongue has no ARKit channel to fit (bar tongueOut), so it follows the Oculus solve.
    # V_Tongue_Curl_D has no Oculus counterpart and is left alone.
    VisemeSet("cc_tongue", "Character Creator tongue visemes (6 of 7)",
              ("V_Tongue_up", "V_Tongue_Raise", "V_Tongue_Out", "V_Tongue_Narrow", "V_Tongue_Lower",
               "V_Tongue_Curl_U"),
              {"V_Tongue_up": {"DD": 1.0, "nn": 1.0}, "V_Tongue_Raise": {"kk": 1.0},
               "V_Tongue_Out": {"TH": 1.0}, "V_Tongue_Narrow": {"SS": 1.0, "CH": 1.0},
               "V_Tongue_Lower": {"aa": 0.5}, "V_Tongue_Curl_U": {"RR": 1.0}},
              source="oculus"),
)}


def nnls(A, Y, l1=0.0, ridge=0.0, iterations=ITERATIONS):
    """min ||A x - y||^2 + l1 * sum(x) + ridge * |x|^2, x >= 0, for every row y of Y.

    A [C, K], Y [T, C] -> X float64 [T, K]. FISTA (accelerated projected gradient) on the
    K x K normal equations, all rows at once; a row whose momentum step turns against its
    gradient restarts (O'Donoghue & Candes), which keeps it monotone near the optimum.
    """
    A = np.asarray(A, np.float64)
    Y = np.asarray(Y, np.float64)
    G = A.T @ A + ridge * np.eye(A.shape[1])
    B = Y @ A - 0.5 * l1                       # 0.5: the objective's gradient is 2 (G x - A^T y) + l1
    lipschitz = float(np.linalg.eigvalsh(G).max()) or 1.0
    x = np.zeros((len(Y), A.shape[1]))
    z, t = x.copy(), np.ones((len(Y), 1))
    for _ in range(iterations):
        x_new = np.maximum(0.0, z - (z @ G - B) / lipschitz)
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        step = x_new - x
        restart = (np.sum((z - x_new) * step, axis=1, keepdims=True) > 0)
        t_new = np.where(restart, 1.0, t_new)
        z = np.where(restart, x_new, x_new + ((t - 1.0) / t_new) * step)
        if np.abs(step).max(initial=0.0) < 1e-9:
            x = x_new
            break
        x, t = x_new, t_new
    return x


def _without_floor(values, fps):
    """values [T, C] minus their running minimum over FLOOR_S, averaged over the same window.

    Windows are cut at the ends of the take (NaN padding) rather than extended with the
    edge value, so a closure on the first frames is not mistaken for a held expression.
    """
    width = max(1, int(round(FLOOR_S * fps)))
    if len(values) < 2 or width < 2:
        return values
    half = width // 2

    def windows(x):
        padded = np.pad(x, ((half, width - 1 - half), (0, 0)), constant_values=np.nan)
        return np.lib.stride_tricks.sliding_window_view(padded, width, axis=0)

    floor = np.nanmean(windows(np.nanmin(windows(values), -1)), -1)
    return np.maximum(values - floor, 0.0)


def _smooth(acts, fps, keep):
    """Triangular window of SMOOTH_S each side; columns in `keep` hold their raw peaks."""
    radius = max(1, int(round(SMOOTH_S * fps)))
    if len(acts) < 2:
        return acts
    kernel = np.concatenate([np.arange(1, radius + 2), np.arange(radius, 0, -1)]).astype(np.float64)
    kernel /= kernel.sum()
    padded = np.pad(acts, ((radius, radius), (0, 0)), mode="edge")
    out = sum(kernel[i] * padded[i:i + len(acts)] for i in range(len(kernel)))
    out[:, keep] = np.maximum(out[:, keep], acts[:, keep])
    return out


def _sharpen(acts, power=SHARPEN):
    """Conflict rule: weights sum to min(1, sum of activations), shared by a^power."""
    acts = np.maximum(acts, 0.0)
    intensity = np.minimum(1.0, acts.sum(1, keepdims=True))
    pw = acts ** power
    total = pw.sum(1, keepdims=True)
    return np.where(total > 0, intensity * pw / np.where(total > 0, total, 1.0), 0.0)


def solve_visemes(channels, weights, targets="oculus", fps=DEFAULT_FPS) -> dict:
    """{target: float32 [T]} for a viseme set (an id of VISEME_SETS or a VisemeSet).

    `channels`/`weights` are a performance's names and float [T, C] values; only its mouth
    channels are read (absent ones are simply not fitted). Values lie in [0, 1] and, for a
    fitted set, sum to at most 1 per frame (module docstring).
    """
    vset = VISEME_SETS[targets] if isinstance(targets, str) else targets
    weights = np.asarray(weights, np.float64)
    if weights.ndim != 2 or weights.shape[1] != len(channels):
        raise ValueError(f"weights must be [T, {len(channels)}], got {weights.shape}")
    n = len(weights)
    if vset.source is not None:
        base = solve_visemes(channels, weights, vset.source, fps)
        out = {}
        for target in vset.targets:
            mix = sum(w * base[v] for v, w in vset.recipe[target].items())
            out[target] = np.clip(mix, 0.0, 1.0).astype(np.float32)
        return out
    columns = [i for i, c in enumerate(channels) if c in ARKIT_52 and is_mouth_channel(c)]
    rows = [ARKIT_52.index(channels[i]) for i in columns]
    fitted = [k for k, t in enumerate(vset.targets) if t != vset.rest]
    A = vset.signatures()[fitted][:, rows].T                  # [C, K]
    acts = np.zeros((n, len(fitted)))
    if n and rows and A.any():
        y = np.clip(weights[:, columns], 0.0, None)
        jaw_row, close_row = ARKIT_52.index("jawOpen"), ARKIT_52.index("mouthClose")
        if jaw_row in rows and close_row in rows:
            # mouthClose seals the lips over the jaw: the mouth is open by jawOpen - mouthClose
            jaw, close = rows.index(jaw_row), rows.index(close_row)
            A[jaw] -= A[close]
            y[:, jaw] = np.maximum(y[:, jaw] - y[:, close], 0.0)
        floored = [j for j, i in enumerate(columns) if channels[i] in EXPRESSION_CHANNELS]
        y[:, floored] = _without_floor(y[:, floored], fps)
        acts = nnls(A, y, L1, RIDGE)
    names = [vset.targets[k] for k in fitted]
    keep = [names.index(t) for t in vset.contacts]
    acts = _sharpen(_smooth(acts, fps, keep))
    out = {}
    for target in vset.targets:
        if target == vset.rest:
            out[target] = np.clip(1.0 - acts.sum(1), 0.0, 1.0).astype(np.float32)
        else:
            out[target] = np.clip(acts[:, names.index(target)], 0.0, 1.0).astype(np.float32)
    return out
