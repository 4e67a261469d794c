"""A procedural demo head with the 52 ARKit shape keys, built by our own code.

The head is designed in "head units" (half the head height ~= 1, facing -Y, +Z up, the
character's left = +X) and scaled to ~24 cm at the end. It is assembled from numpy grids
(skull with a mouth slit, hair cap, brows, eyeballs, eyelid shells, mouth cavity, teeth,
tongue, neck), so building it with its 52 keys takes ~0.3 s and needs no operator.

Every shape key is a displacement built from compactly supported falloffs (they are exactly
zero outside their region), so e.g. `eyeBlinkLeft` never touches the right half of the face.
"""
import math

import bpy
import numpy as np

from ..core.channels import ARKIT_52

SCALE = 0.12                       # head units -> metres (head ~0.24 m tall)

# Parts (a per-vertex label) so that each key only moves the pieces it should.
(SKIN, EYE_L, EYE_R, LID_UL, LID_LL, LID_UR, LID_LR, MOUTH, TEETH_U, TEETH_L, TONGUE, NECK,
 BROW, HAIR) = range(14)

# Materials: (name, RGBA). Index = material slot.
MATERIALS = (
    ("UniTAF_Skin", (0.80, 0.56, 0.44, 1.0)),
    ("UniTAF_Lips", (0.78, 0.38, 0.38, 1.0)),
    ("UniTAF_EyeWhite", (0.93, 0.93, 0.90, 1.0)),
    ("UniTAF_Iris", (0.20, 0.42, 0.58, 1.0)),
    ("UniTAF_Pupil", (0.02, 0.02, 0.02, 1.0)),
    ("UniTAF_Brow", (0.22, 0.13, 0.08, 1.0)),
    ("UniTAF_Hair", (0.26, 0.15, 0.09, 1.0)),
    ("UniTAF_Mouth", (0.10, 0.02, 0.03, 1.0)),
    ("UniTAF_Teeth", (0.95, 0.93, 0.86, 1.0)),
    ("UniTAF_Tongue", (0.72, 0.30, 0.30, 1.0)),
)
M_SKIN, M_LIPS, M_WHITE, M_IRIS, M_PUPIL, M_BROW, M_HAIR, M_MOUTH, M_TEETH, M_TONGUE = range(10)

# Landmarks in head units.
EYE_X, EYE_Z, EYE_RAD = 0.30, 0.10, 0.125
LID_R = EYE_RAD * 1.16
UPPER_LID, LOWER_LID = 26.0, -24.0   # lid margins, degrees about the eye's X axis (open)
MOUTH_Z, MOUTH_W = -0.47, 0.20      # mouth line height and half-width
HINGE = np.array([0.0, 0.15, -0.05])  # jaw hinge (near the ears)


# --- small numeric helpers -------------------------------------------------------------------

def smoothstep(e0, e1, x):
    t = np.clip((np.asarray(x, dtype=np.float64) - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def bump(x, z, cx, cz, rx, rz):
    """Smooth bump, 1 at (cx, cz), exactly 0 outside the ellipse of radii (rx, rz)."""
    q = ((x - cx) / rx) ** 2 + ((z - cz) / rz) ** 2
    return np.maximum(0.0, 1.0 - q) ** 2


def rotate(p, center, axis, angles):
    """Rotate points p [N,3] about `axis` through `center` by per-point `angles` (Rodrigues)."""
    k = np.asarray(axis, dtype=np.float64)
    k = k / np.linalg.norm(k)
    v = p - center
    a = np.asarray(angles, dtype=np.float64)[:, None]
    c, s = np.cos(a), np.sin(a)
    return center + v * c + np.cross(k, v) * s + k * (v @ k)[:, None] * (1 - c)


def _grid_faces(rows, cols, wrap, offset):
    """Quads of a rows x cols vertex grid (optionally wrapping in columns)."""
    r, c = np.meshgrid(np.arange(rows - 1), np.arange(cols if wrap else cols - 1), indexing="ij")
    a = r * cols + c
    b = r * cols + (c + 1) % cols
    quads = np.stack([a, a + cols, b + cols, b], axis=-1).reshape(-1, 4) + offset
    return [list(q) for q in quads]


class _Builder:
    """Collects vertices, faces, per-vertex part labels and per-face materials."""

    def __init__(self):
        self.verts, self.faces, self.mats, self.parts = [], [], [], []
        self.n = 0
        self.info = {}

    def add(self, verts, faces, part, mats):
        verts = np.asarray(verts, dtype=np.float64).reshape(-1, 3)
        start = self.n
        self.verts.append(verts)
        self.parts.append(np.full(len(verts), part, dtype=np.int32))
        self.faces.extend([[i + start for i in f] for f in faces])
        self.mats.extend(mats if isinstance(mats, (list, np.ndarray)) else [mats] * len(faces))
        self.n += len(verts)
        return start

    def add_grid(self, grid, part, mat, wrap=False, caps=False, flip=False):
        """Add a [rows, cols, 3] grid; `caps` closes the first/last row with pole vertices."""
        rows, cols = grid.shape[:2]
        verts = [grid.reshape(-1, 3)]
        faces = _grid_faces(rows, cols, wrap, 0)
        if caps:
            top = rows * cols
            verts.append(grid[0].mean(axis=0, keepdims=True))
            verts.append(grid[-1].mean(axis=0, keepdims=True))
            ncol = cols if wrap else cols - 1
            faces += [[top, c, (c + 1) % cols] for c in range(ncol)]
            last = (rows - 1) * cols
            faces += [[top + 1, last + (c + 1) % cols, last + c] for c in range(ncol)]
        if flip:
            faces = [f[::-1] for f in faces]
        mats = mat(np.concatenate(verts), faces) if callable(mat) else mat
        return self.add(np.concatenate(verts), faces, part, mats)


def _sphere_grid(center, radii, rows, cols, forward=False):
    """Lat-long grid (rows exclude the poles). forward=True puts the poles on the -Y axis."""
    pol = np.linspace(0, math.pi, rows + 2)[1:-1]
    azi = np.linspace(-math.pi, math.pi, cols, endpoint=False)
    P, A = np.meshgrid(pol, azi, indexing="ij")
    if forward:   # polar angle measured from -Y (gaze direction)
        d = np.stack([np.sin(P) * np.cos(A), -np.cos(P), np.sin(P) * np.sin(A)], axis=-1)
    else:         # polar angle measured from +Z
        d = np.stack([np.sin(P) * np.cos(A), np.sin(P) * np.sin(A), np.cos(P)], axis=-1)
    return np.asarray(center) + d * np.asarray(radii)


# --- the skull ---------------------------------------------------------------------------

def _skull(b):
    """Lat-long head surface, denser on the face, with a mouth slit between two rows."""
    ncol, nrow = 112, 84
    u = np.linspace(-1, 1, ncol, endpoint=False)            # symmetric set around 0 (mod 2)
    theta = math.pi * (0.5 * u + 0.5 * u ** 3)               # 0 = facing -Y
    v = np.linspace(1, -1, nrow + 2)[1:-1]                   # top to bottom, poles excluded
    phi = 0.5 * math.pi * (0.55 * v + 0.45 * v ** 3)
    # The mouth: two adjacent rows pinched around the mouth latitude.
    phi_m = -0.52
    k = int(np.argmin(np.abs(phi - phi_m)))
    if phi[k] < phi_m:
        k -= 1
    phi[k], phi[k + 1] = phi_m + 0.009, phi_m - 0.009

    T, F = np.meshgrid(theta, phi, indexing="ij")
    T, F = T.T, F.T                                          # [nrow, ncol]
    d = np.stack([np.cos(F) * np.sin(T), -np.cos(F) * np.cos(T), np.sin(F)], axis=-1)
    p = _shape_head(d)
    # Mouth corners: the columns at +/- the mouth half-angle.
    mouth_cols = np.where(np.abs(theta) < 0.30)[0]
    j0, j1 = int(mouth_cols[0]), int(mouth_cols[-1])         # symmetric: theta[j1] == -theta[j0]
    corner = 0.5 * (p[k, [j0, j1]] + p[k + 1, [j0, j1]])
    p[k, [j0, j1]] = corner
    verts = p.reshape(-1, 3)
    idx = np.arange(nrow * ncol).reshape(nrow, ncol)
    idx[k + 1, [j0, j1]] = idx[k, [j0, j1]]                  # weld the corners
    faces = []
    for r in range(nrow - 1):
        for c in range(ncol):
            if r == k and j0 <= c < j1:
                continue                                     # the mouth slit
            q = [idx[r, c], idx[r + 1, c], idx[r + 1, (c + 1) % ncol], idx[r, (c + 1) % ncol]]
            q = [x for i, x in enumerate(q) if x != q[i - 1]]
            if len(q) >= 3:
                faces.append(q)
    top, bot = nrow * ncol, nrow * ncol + 1
    verts = np.concatenate([verts, p[0].mean(0, keepdims=True), p[-1].mean(0, keepdims=True)])
    faces += [[top, idx[0, c], idx[0, (c + 1) % ncol]] for c in range(ncol)]
    faces += [[bot, idx[-1, (c + 1) % ncol], idx[-1, c]] for c in range(ncol)]
    slit = 0.5 * (p[k, j0:j1 + 1] + p[k + 1, j0:j1 + 1])   # the line between the lips
    start = b.add(verts, faces, SKIN, _skin_materials(verts, faces, (slit[:, 0], slit[:, 2])))
    b.info["mouth_corners"] = start + idx[k, [j0, j1]]
    b.info["mouth_line"] = (slit[:, 0], slit[:, 2])
    b.info["mouth_z"] = float(slit[len(slit) // 2, 2])
    b.info["mouth_y"] = float(slit[len(slit) // 2, 1])


def _shape_head(d):
    """Deform unit-sphere directions d [...,3] into the head surface."""
    x, y, z = d[..., 0] * 0.83, d[..., 1] * 0.92, d[..., 2] * 1.02
    front = smoothstep(0.1, -0.6, y)
    # Narrow jaw and chin, fuller cranium at the back.
    low = smoothstep(-0.15, -0.95, z)
    x = x * (1 - 0.17 * low)
    y = y + 0.18 * smoothstep(0.0, 0.9, y) * smoothstep(-0.5, 0.6, z)
    y = y - 0.13 * low * front                               # chin/jaw forward
    z = z - 0.08 * smoothstep(-0.55, -0.95, z)               # longer chin
    # Flatter face plane, temples in a little.
    y = y + 0.10 * front * (1 - np.abs(d[..., 0])) * smoothstep(0.7, 0.0, z)
    x = x - 0.05 * np.sign(x) * bump(np.abs(x), z, 0.75, 0.35, 0.2, 0.3)
    # Eye sockets and brow ridge.
    for s in (-1, 1):
        y = y + 0.07 * front * bump(x, z, s * EYE_X, EYE_Z, 0.20, 0.16)
        y = y - 0.035 * front * bump(x, z, s * 0.27, 0.34, 0.22, 0.07)
        # Cheekbones.
        y = y - 0.04 * front * bump(x, z, s * 0.38, -0.12, 0.2, 0.16)
        # Ears: flat bumps on the sides.
        side = smoothstep(0.4, 0.7, s * x)
        x = x + s * 0.10 * side * bump(y, z, 0.12, 0.02, 0.12, 0.2)
    # Nose: a ridge from the brow to a rounded tip, with wings.
    y = y - front * (0.05 * bump(x, z, 0.0, 0.05, 0.07, 0.30)
                     + 0.15 * bump(x, z, 0.0, -0.17, 0.10, 0.11)
                     + 0.05 * bump(np.abs(x), z, 0.09, -0.22, 0.06, 0.06))
    # Lips: the mouth line curves up a little at the corners; lips bulge forward.
    mouth = bump(x, z, 0.0, MOUTH_Z, MOUTH_W + 0.10, 0.22)
    z = z + 0.025 * mouth * (x / MOUTH_W) ** 2
    y = y - front * (0.04 * mouth + 0.02 * bump(x, z, 0.0, MOUTH_Z + 0.02, MOUTH_W, 0.04)
                     + 0.025 * bump(x, z, 0.0, MOUTH_Z - 0.03, MOUTH_W * 0.9, 0.05))
    y = y + 0.03 * front * bump(x, z, 0.0, MOUTH_Z - 0.16, 0.15, 0.05)      # chin crease
    y = y - 0.06 * front * bump(x, z, 0.0, -0.78, 0.22, 0.14)              # chin
    return np.stack([x, y, z], axis=-1)


def _outward(p):
    r = p - np.array([0.0, 0.1, 0.0])
    return r / np.linalg.norm(r, axis=-1, keepdims=True)


def _front_direction(x, z):
    """Sphere directions whose head-surface points have the given front (x, z) coordinates."""
    d = np.stack([x / 0.83, np.zeros_like(x), z / 1.02], axis=-1)
    for _ in range(6):            # fixed-point iterations; the face map is close to a scaling
        d[..., 1] = -np.sqrt(np.clip(1 - d[..., 0] ** 2 - d[..., 2] ** 2, 0.05, 1))
        p = _shape_head(d / np.linalg.norm(d, axis=-1, keepdims=True))
        d[..., 0] += (x - p[..., 0]) / 0.83
        d[..., 2] += (z - p[..., 2]) / 1.02
    d[..., 1] = -np.sqrt(np.clip(1 - d[..., 0] ** 2 - d[..., 2] ** 2, 0.05, 1))
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


def _brows(b):
    """Each brow is a thin rounded strip lying on the skin (an arch from x=0.10 to 0.42)."""
    t = np.linspace(0, 1, 16)
    for s in (1, -1):
        x = s * (0.10 + 0.32 * t)
        zc = 0.30 + 0.065 * np.sin(np.pi * np.minimum(1, t * 1.25)) - 0.04 * t
        half = 0.028 * (1 - 0.55 * t) + 0.004
        rows = []
        for dz, lift in ((-1, 0.0), (-0.4, 0.012), (0.4, 0.012), (1, 0.0)):
            p = _shape_head(_front_direction(x, zc + dz * half))
            rows.append(p + _outward(p) * (lift + 0.002))
        b.add_grid(np.stack(rows, axis=0), BROW, M_BROW, flip=s > 0)


def _hair(b):
    """A hair cap: a shell over the skull from a smooth hairline to the crown."""
    theta = np.linspace(-math.pi, math.pi, 96, endpoint=False)
    at = np.abs(theta)
    line = 0.56 - 0.08 * (theta / 0.6) ** 2 * (at < 0.6) - 0.08 * (at >= 0.6) \
        - 0.75 * smoothstep(1.3, 2.6, at) + 0.12 * np.exp(-((at - 1.25) / 0.2) ** 2)
    t = np.concatenate([[0.0], np.linspace(0, 1, 16) ** 1.2])
    phi = line[None, :] + t[:, None] * (1.52 - line[None, :])
    T = np.broadcast_to(theta, phi.shape)
    d = np.stack([np.cos(phi) * np.sin(T), -np.cos(phi) * np.cos(T), np.sin(phi)], axis=-1)
    p = _shape_head(d)
    thick = 0.012 + 0.055 * smoothstep(0.0, 0.35, t)
    thick[0] = -0.01                                          # tuck the edge into the skin
    grid = p + _outward(p) * thick[:, None, None]
    rows, cols = grid.shape[:2]
    verts = np.concatenate([grid.reshape(-1, 3), grid[-1].mean(0, keepdims=True) + [0, 0, 0.004]])
    crown, last = rows * cols, (rows - 1) * cols
    faces = _grid_faces(rows, cols, True, 0) + [[crown, last + c, last + (c + 1) % cols] for c in range(cols)]
    b.add(verts, [f[::-1] for f in faces], HAIR, M_HAIR)


def _skin_materials(verts, faces, line):
    """Skin, or lips for faces in a band above/below the mouth line, tapering to the corners."""
    tri = np.array([f if len(f) == 4 else f + [f[-1]] for f in faces])
    c = verts[tri].mean(axis=1)
    x, y, z = c[:, 0], c[:, 1], c[:, 2]
    w = np.sqrt(np.clip(1 - (x / (MOUTH_W + 0.005)) ** 2, 0, 1))
    dz = z - np.interp(x, *line)
    lips = (y < -0.3) & (((dz >= 0) & (dz < 0.04 * w)) | ((dz < 0) & (dz > -0.05 * w)))
    return np.where(lips, M_LIPS, M_SKIN).tolist()


# --- eyes, mouth parts, neck ----------------------------------------------------------------

def eye_center(side):
    return np.array([side * EYE_X, -0.745, EYE_Z])


def _eyes(b):
    for side, part in ((1, EYE_L), (-1, EYE_R)):
        c = eye_center(side)
        grid = _sphere_grid(c, (EYE_RAD,) * 3, 14, 28, forward=True)

        def mats(verts, faces, c=c):
            # Pupil, iris or white by the angle between the face centre and the gaze axis.
            front = np.array([-(verts[f][:, 1].mean() - c[1]) / EYE_RAD for f in faces])
            gaze = np.arccos(np.clip(front, -1, 1))
            return np.where(gaze < 0.25, M_PUPIL, np.where(gaze < 0.52, M_IRIS, M_WHITE)).tolist()
        b.add_grid(grid, part, mats, wrap=True, caps=True)
        # Eyelid shells: rows from the lid margin to behind the eye, columns across the eye.
        for upper, lpart in ((True, LID_UL if side > 0 else LID_UR), (False, LID_LL if side > 0 else LID_LR)):
            a = np.radians(np.linspace(-80, 80, 25))
            edge = np.full(len(a), math.radians(UPPER_LID if upper else LOWER_LID))
            t = np.linspace(0, 1, 10)
            far = math.radians(140 if upper else -130)
            E = edge[None, :] + t[:, None] * (far - edge[None, :])
            A = np.broadcast_to(a, E.shape)
            R = np.full(E.shape, LID_R)
            # A rounded margin tucked in towards the eyeball.
            E = np.vstack([edge[None, :] + (-0.06 if upper else 0.06), E])
            A = np.vstack([a[None, :], A])
            R = np.vstack([np.full((1, len(a)), EYE_RAD * 1.03), R])
            # The front horizontal circle rotated about the eye's X axis by E: its poles are
            # at the eye's sides (never reached), so rows can wrap over the top without pinching
            # and a blink is exactly a change of E.
            dirs = np.stack([np.sin(A), -np.cos(A) * np.cos(E), np.cos(A) * np.sin(E)], axis=-1)
            grid = c + dirs * R[..., None]
            start = b.add_grid(grid, lpart, M_SKIN, flip=upper)
            tt = np.concatenate([[0.0], t])               # 0 at the margin, 1 at the far edge
            b.info[("lid_t", lpart)] = (start, np.repeat(tt, len(a)))


def _mouth_parts(b):
    zm, ym = b.info["mouth_z"], b.info["mouth_y"]
    # Cavity: a dark ellipsoid just behind the lips.
    grid = _sphere_grid((0, ym + 0.21, zm - 0.02), (0.21, 0.16, 0.11), 12, 24)
    b.add_grid(grid, MOUTH, M_MOUTH, wrap=True, caps=True)
    # Teeth: arcs of a vertical cylinder behind the lips.
    # Their edges sit just past the lip line, so they show only when the lips part.
    for part, z0, z1 in ((TEETH_U, zm + 0.045, zm + 0.002), (TEETH_L, zm - 0.045, zm - 0.004)):
        ang = np.radians(np.linspace(-48, 48, 17))
        zs = np.linspace(z0, z1, 4)
        A, Z = np.meshgrid(ang, zs, indexing="ij")
        rad = 0.16
        grid = np.stack([rad * np.sin(A), ym + 0.05 + rad * (1 - np.cos(A)), Z], axis=-1)
        grid = grid.transpose(1, 0, 2)
        b.add_grid(grid, part, M_TEETH, flip=part == TEETH_L)
    # Tongue: a flattened ellipsoid on the cavity floor.
    grid = _sphere_grid((0, ym + 0.21, zm - 0.065), (0.11, 0.12, 0.03), 8, 16)
    b.add_grid(grid, TONGUE, M_TONGUE, wrap=True, caps=True)


def _neck(b):
    ang = np.linspace(-math.pi, math.pi, 40, endpoint=False)
    zs = np.linspace(-0.55, -1.65, 6)
    A, Z = np.meshgrid(ang, zs, indexing="ij")
    flare = 1 + 0.5 * smoothstep(-1.3, -1.65, Z)
    grid = np.stack([0.34 * flare * np.sin(A), 0.18 - 0.34 * flare * np.cos(A), Z], axis=-1)
    b.add_grid(grid.transpose(1, 0, 2), NECK, M_SKIN, wrap=True)


# --- shape keys ------------------------------------------------------------------------------

def _regions(b, p, parts):
    """Per-vertex weights shared by several keys."""
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    skin = np.isin(parts, (SKIN, BROW)).astype(np.float64)
    front = smoothstep(-0.35, -0.65, y) * skin
    zm = b.info["mouth_z"]
    dz = z - np.interp(x, *b.info["mouth_line"])
    # Below-the-mouth weight: sharp between the lips, blending towards the corners (so the
    # mouth opens as an oval) and soft out on the cheeks.
    ax = np.abs(x)
    sigma = 0.008 + 0.25 * smoothstep(0.3 * MOUTH_W, MOUTH_W + 0.35, ax)
    lower = smoothstep(sigma, -sigma, dz + 0.05 * smoothstep(0.3 * MOUTH_W, MOUTH_W, ax))
    jaw = lower * smoothstep(0.25, -0.25, y) * skin
    jaw = jaw * (1 - smoothstep(-0.55, -0.80, z) * smoothstep(-0.4, 0.1, y))   # throat stays
    zcut = zm - 0.02
    inner = np.isin(parts, (MOUTH,)) * smoothstep(zcut + 0.03, zcut - 0.03, z)
    jaw = jaw + inner + np.isin(parts, (TEETH_L, TONGUE))
    mouth = bump(x, z, 0.0, zm, MOUTH_W + 0.13, 0.16) * front
    lips = bump(x, dz, 0.0, 0.0, MOUTH_W + 0.03, 0.09) * front
    upper = smoothstep(-0.006, 0.006, dz)
    return dict(x=x, y=y, z=z, skin=skin, front=front, jaw=jaw, mouth=mouth, lips=lips,
                upper=upper, lower=1 - upper, dz=dz)


def _lid_rotation(b, p, lpart, degrees):
    """Displacement of one eyelid shell rotated about the eye's X axis: the margin row by
    `degrees`, fading to 0 at the far edge behind the eye (the lid stretches like skin)."""
    start, t = b.info[("lid_t", lpart)]
    idx = np.arange(start, start + len(t))
    side = 1 if lpart in (LID_UL, LID_LL) else -1
    d = np.zeros_like(p)
    angles = math.radians(degrees) * (1 - t) ** 1.3
    d[idx] = rotate(p[idx], eye_center(side), (1, 0, 0), angles) - p[idx]
    return d


def _eye_keys(b, p, parts, r):
    keys = {}
    blink = UPPER_LID - LOWER_LID - 4      # the upper margin comes down past the raised lower one
    for side, name in ((1, "Left"), (-1, "Right")):
        eye = parts == (EYE_L if side > 0 else EYE_R)
        ul, ll = (LID_UL, LID_LL) if side > 0 else (LID_UR, LID_LR)
        c = eye_center(side)

        # Both helpers are called within this iteration; the defaults bind this side's values.
        def lids(upper_deg, lower_deg, ul=ul, ll=ll):
            return _lid_rotation(b, p, ul, upper_deg) + _lid_rotation(b, p, ll, lower_deg)

        def ball(axis, deg, eye=eye, center=c):
            offset = np.zeros_like(p)
            offset[eye] = rotate(p[eye], center, axis, np.full(eye.sum(), math.radians(deg))) - p[eye]
            return offset

        # Rotation about +X by a positive angle tilts the front (-Y) downwards.
        keys["eyeBlink" + name] = lids(blink, -8)
        keys["eyeLookDown" + name] = ball((1, 0, 0), 22) + lids(12, 5)
        keys["eyeLookUp" + name] = ball((1, 0, 0), -20) + lids(-8, -3)
        # Rotation about +Z by a positive angle swings the front (-Y) towards +X.
        keys["eyeLookIn" + name] = ball((0, 0, 1), -25 * side)
        keys["eyeLookOut" + name] = ball((0, 0, 1), 25 * side)
        under = bump(r["x"], r["z"], side * EYE_X, EYE_Z - 0.17, 0.17, 0.08) * r["front"]
        keys["eyeSquint" + name] = lids(6, -12) + _vec(under, 0, -0.005, 0.025)
        keys["eyeWide" + name] = lids(-12, 4)
    return keys


def _vec(w, dx, dy, dz):
    return np.asarray(w)[:, None] * np.array([dx, dy, dz])


def _face_keys(b, p, parts, r):
    x, z, front, zm = r["x"], r["z"], r["front"], b.info["mouth_z"]
    keys = {}
    jaw = r["jaw"]
    opened = rotate(p, HINGE, (1, 0, 0), jaw * math.radians(20)) - p
    keys["jawOpen"] = opened
    keys["jawForward"] = _vec(jaw, 0, -0.05, 0)
    keys["jawLeft"] = _vec(jaw, 0.06, 0, 0)
    keys["jawRight"] = _vec(jaw, -0.06, 0, 0)
    lips, upper, lower, mouth = r["lips"], r["upper"], r["lower"], r["mouth"]
    # mouthClose: lips (not the jaw) move back against jawOpen and meet.
    keys["mouthClose"] = (-opened * (lips * lower)[:, None] * 0.85
                          + _vec(lips * upper, 0, 0, -0.012) + _vec(lips * lower, 0, 0, 0.010))
    inward = -x * mouth                    # pulls the corners towards the middle
    keys["mouthFunnel"] = (_vec(mouth, 0, -0.05, 0) + _vec(0.3 * inward, 1, 0, 0)
                           + _vec(lips * upper, 0, 0, 0.025) + _vec(lips * lower, 0, 0, -0.035))
    keys["mouthPucker"] = (_vec(mouth, 0, -0.075, 0) + _vec(0.45 * inward, 1, 0, 0)
                           + _vec(lips * upper, 0, 0, -0.006) + _vec(lips * lower, 0, 0, 0.006))
    shift = bump(x, z, 0.0, zm, MOUTH_W + 0.2, 0.2) * front
    keys["mouthLeft"] = _vec(shift, 0.07, 0.01, 0)
    keys["mouthRight"] = _vec(shift, -0.07, 0.01, 0)
    keys["mouthRollLower"] = _vec(lips * lower, 0, 0.03, 0.015)
    keys["mouthRollUpper"] = _vec(lips * upper, 0, 0.03, -0.015)
    chin = bump(x, z, 0.0, zm - 0.18, 0.18, 0.2) * front
    keys["mouthShrugLower"] = _vec(chin + lips * lower, 0, -0.015, 0.03)
    keys["mouthShrugUpper"] = _vec(lips * upper, 0, -0.012, 0.02)
    for s, name in ((1, "Left"), (-1, "Right")):
        corner = bump(x, z, s * MOUTH_W, zm + 0.01, 0.16, 0.13) * front
        half = lips * smoothstep(0.0, s * 0.12, x) if s > 0 else lips * smoothstep(0.0, -0.12, x)
        keys["mouthSmile" + name] = _vec(corner, s * 0.035, 0.025, 0.07)
        keys["mouthFrown" + name] = _vec(corner, s * 0.01, 0.0, -0.05)
        keys["mouthDimple" + name] = _vec(corner, s * 0.02, 0.035, 0.0)
        keys["mouthStretch" + name] = _vec(corner, s * 0.055, 0.01, -0.02)
        keys["mouthPress" + name] = (_vec(half * upper, 0, 0.008, -0.012) + _vec(half * lower, 0, 0.008, 0.012))
        keys["mouthLowerDown" + name] = _vec(half * lower, 0, -0.005, -0.045)
        keys["mouthUpperUp" + name] = _vec(half * upper, 0, -0.005, 0.04)
        keys["browDown" + name] = _vec(bump(x, z, s * 0.24, 0.33, 0.22, 0.12) * front, -s * 0.02, -0.01, -0.045)
        keys["browOuterUp" + name] = _vec(bump(x, z, s * 0.38, 0.34, 0.17, 0.14) * front, 0, 0, 0.06)
        keys["cheekSquint" + name] = _vec(bump(x, z, s * 0.33, -0.08, 0.17, 0.14) * front, 0, -0.01, 0.035)
        keys["noseSneer" + name] = _vec(bump(x, z, s * 0.08, -0.12, 0.09, 0.14) * front, s * 0.005, -0.005, 0.03)
    keys["browInnerUp"] = _vec((bump(x, z, 0.13, 0.32, 0.15, 0.14) + bump(x, z, -0.13, 0.32, 0.15, 0.14)) * front,
                               0, 0, 0.065)
    puff = (bump(x, z, 0.36, -0.38, 0.2, 0.22) - 0) * front
    puff_r = bump(x, z, -0.36, -0.38, 0.2, 0.22) * front
    keys["cheekPuff"] = _vec(puff, 0.07, -0.02, 0) + _vec(puff_r, -0.07, -0.02, 0)
    tongue = (parts == TONGUE)
    ym = b.info["mouth_y"]
    tip = smoothstep(ym + 0.3, ym + 0.06, p[:, 1]) * tongue
    keys["tongueOut"] = _vec(tongue * 1.0, 0, -0.12, 0.02) + _vec(tip, 0, -0.12, -0.015)
    return keys


def _shape_keys(b, p, parts):
    r = _regions(b, p, parts)
    keys = _eye_keys(b, p, parts, r)
    keys.update(_face_keys(b, p, parts, r))
    for d in keys.values():
        d[np.abs(d) < 1e-9] = 0.0        # rotations by a zero angle leave ~1e-17 round-off
    missing = set(ARKIT_52) - set(keys)
    if missing:
        raise RuntimeError(f"demo head: shape keys not built: {sorted(missing)}")
    return keys


# --- Blender data ----------------------------------------------------------------------------

def build_geometry():
    """Pure numpy: (verts [N,3] metres, faces, face materials, parts, {key: delta [N,3]})."""
    b = _Builder()
    _skull(b)
    _hair(b)
    _brows(b)
    _eyes(b)
    _mouth_parts(b)
    _neck(b)
    p = np.concatenate(b.verts)
    parts = np.concatenate(b.parts)
    keys = _shape_keys(b, p, parts)
    return (p * SCALE, b.faces, np.asarray(b.mats, dtype=np.int32), parts,
            {k: keys[k] * SCALE for k in ARKIT_52}, b.info)


def _material(name, rgba):
    mat = bpy.data.materials.get(name) or bpy.data.materials.new(name)
    mat.diffuse_color = rgba                       # Workbench (material colour mode)
    mat.roughness = 0.6
    if getattr(mat, "node_tree", None) is None and hasattr(mat, "use_nodes"):
        mat.use_nodes = True                       # Blender < 5: node tree is opt-in
    tree = getattr(mat, "node_tree", None)
    if tree is not None:
        bsdf = next((n for n in tree.nodes if n.type == 'BSDF_PRINCIPLED'), None)
        if bsdf is not None:
            bsdf.inputs["Base Color"].default_value = rgba
            bsdf.inputs["Roughness"].default_value = 0.55
    return mat


def build_demo_head(name="UniTAF_Head", collection=None):
    """Create the demo head object (mesh, materials, Basis + the 52 ARKit shape keys)."""
    verts, faces, mats, _, keys, _ = build_geometry()
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts.tolist(), [], faces)
    mesh.polygons.foreach_set("material_index", mats)
    mesh.polygons.foreach_set("use_smooth", np.ones(len(faces), dtype=bool))
    for mname, rgba in MATERIALS:
        mesh.materials.append(_material(mname, rgba))
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    (collection or bpy.context.scene.collection).objects.link(obj)
    obj.shape_key_add(name="Basis", from_mix=False)
    base = verts.astype(np.float32)
    for kname in ARKIT_52:
        kb = obj.shape_key_add(name=kname, from_mix=False)
        kb.data.foreach_set("co", (base + keys[kname].astype(np.float32)).ravel())
        kb.slider_min, kb.slider_max = 0.0, 1.0
        kb.value = 0.0                             # new keys start at 1.0 in Blender 5
    mesh.shape_keys.name = f"{name}_Key"
    obj["unitaf_demo_head"] = True
    return obj
