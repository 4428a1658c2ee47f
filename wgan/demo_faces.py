"""Procedurally drawn colour faces, so the trainer can run anywhere without downloading CelebA.

Every face is a stack of soft-edged shapes (background, hair, shoulders, neck, ears, face,
eyes, brows, nose, mouth) painted for a whole batch at once with numpy. Shape edges are
anti-aliased analytically (coverage from an approximate distance to the edge), so the faces
are drawn at the output size without supersampling. All random choices are made up front from
one seeded generator, so a seed always gives the same faces whatever the batch split.
"""

from __future__ import annotations

import numpy as np

from wgan.errors import ConfigError

_BATCH = 64  # faces painted together: large enough to vectorise, small enough to stay in cache

# Skin tones from light to deep (RGB, 0..1); a face picks a point between two neighbours.
_SKIN = np.array(
    [
        [0.99, 0.87, 0.76],
        [0.94, 0.76, 0.62],
        [0.84, 0.63, 0.47],
        [0.67, 0.46, 0.31],
        [0.47, 0.31, 0.20],
        [0.32, 0.21, 0.14],
    ],
    dtype=np.float32,
)
_HAIR = np.array(
    [
        [0.08, 0.06, 0.05],  # black
        [0.23, 0.15, 0.09],  # dark brown
        [0.42, 0.27, 0.15],  # brown
        [0.62, 0.33, 0.16],  # auburn
        [0.85, 0.70, 0.42],  # blond
        [0.72, 0.71, 0.70],  # grey
        [0.94, 0.93, 0.90],  # white
        [0.55, 0.20, 0.45],  # dyed
    ],
    dtype=np.float32,
)
_HAIR_P = np.array([0.26, 0.24, 0.16, 0.08, 0.12, 0.07, 0.03, 0.04])
_IRIS = np.array(
    [
        [0.25, 0.14, 0.07],  # brown
        [0.13, 0.08, 0.05],  # dark brown
        [0.26, 0.45, 0.70],  # blue
        [0.30, 0.50, 0.30],  # green
        [0.45, 0.36, 0.18],  # hazel
        [0.45, 0.50, 0.55],  # grey
    ],
    dtype=np.float32,
)
_IRIS_P = np.array([0.35, 0.25, 0.15, 0.08, 0.12, 0.05])
# Hair styles and how often each is drawn.
_BALD, _SHORT, _LONG, _FRINGE, _VOLUME = range(5)
_STYLE_P = np.array([0.08, 0.30, 0.30, 0.17, 0.15])


# Hair palettes that make two domains of faces for unpaired translation (CycleGAN's demo).
HAIR_PALETTES = {"blond": 4, "black": 0}


def draw_faces(
    n: int, image_size: int = 64, channels: int = 3, seed: int = 0, hair: str | None = None
) -> np.ndarray:
    """Draw n varied cartoon faces as uint8 (n, image_size, image_size, channels).

    channels 1 gives luminance, 3 RGB, 4 RGBA with an opaque alpha. Framed like the aligned,
    centre-cropped CelebA faces the models are built for: eyes a little above the middle.
    ``hair`` (a key of ``HAIR_PALETTES``) gives every face that hair colour, and hair to show
    it; the other features are drawn as without it.
    """
    if int(n) != n or n < 0:
        raise ConfigError(f"the number of demo faces must be >= 0, got {n}")
    if int(image_size) != image_size or image_size < 16:
        raise ConfigError(f"demo faces need image_size >= 16 pixels, got {image_size}")
    if channels not in (1, 3, 4):
        raise ConfigError(f"channels must be 1 (grey), 3 (RGB) or 4 (RGBA), got {channels}")
    params = _draw_params(np.random.default_rng(seed), int(n))
    if hair is not None:
        _dye(params, hair, np.random.default_rng([seed, 1]))
    out = np.empty((n, image_size, image_size, channels), dtype=np.uint8)
    for start in range(0, n, _BATCH):
        part = {k: v[start : start + _BATCH] for k, v in params.items()}
        rgb = _Painter(len(part["cx"]), image_size).paint(part)
        out[start : start + _BATCH] = _to_channels(rgb, channels)
    return out


def _dye(params: dict[str, np.ndarray], hair: str, rng: np.random.Generator) -> None:
    if hair not in HAIR_PALETTES:
        raise ConfigError(f"hair must be one of {', '.join(HAIR_PALETTES)}, got {hair!r}")
    n = len(params["hair"])
    colour = _HAIR[HAIR_PALETTES[hair]] + rng.normal(0, 0.04, (n, 3))
    params["hair"] = np.clip(colour, 0, 1).astype(np.float32)
    haired = _STYLE_P * (np.arange(len(_STYLE_P)) != _BALD)
    params["style"] = rng.choice(len(_STYLE_P), n, p=haired / haired.sum())


def _draw_params(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Every random choice for n faces, in [-1, 1] image coordinates (y points down)."""

    def u(lo: float, hi: float) -> np.ndarray:
        return rng.uniform(lo, hi, n).astype(np.float32)

    def pick(palette: np.ndarray, p: np.ndarray, jitter: float) -> np.ndarray:
        colour = palette[rng.choice(len(palette), n, p=p / p.sum())]
        return np.clip(colour + rng.normal(0, jitter, (n, 3)), 0, 1).astype(np.float32)

    t = rng.uniform(0, len(_SKIN) - 1, n)
    i = np.minimum(t.astype(int), len(_SKIN) - 2)
    skin = _SKIN[i] + (t - i)[:, None] * (_SKIN[i + 1] - _SKIN[i])
    skin = np.clip(skin + rng.normal(0, 0.025, (n, 3)), 0, 1).astype(np.float32)

    # Background: two random colours blended top to bottom, mostly muted, sometimes bright.
    sat = rng.uniform(0.1, 0.9, (n, 1)) ** 2
    grey = rng.uniform(0.15, 0.95, (n, 1))
    bg_top = np.clip(grey + sat * rng.uniform(-0.5, 0.5, (n, 3)), 0, 1).astype(np.float32)
    bg_bottom = np.clip(bg_top + rng.normal(0, 0.12, (n, 3)), 0, 1).astype(np.float32)

    a = u(0.50, 0.62)  # face half-width
    return {
        "skin": skin,
        "bg_top": bg_top,
        "bg_bottom": bg_bottom,
        "cx": u(-0.07, 0.07),
        "cy": u(0.0, 0.12),
        "a": a,
        "b": a * u(1.22, 1.40),  # face half-height
        "jaw": u(0.15, 0.35),  # how much the face narrows towards the chin
        "light": u(-0.25, 0.25),  # side lighting: >0 lit from the left
        "hair": pick(_HAIR, _HAIR_P, 0.04),
        "style": rng.choice(len(_STYLE_P), n, p=_STYLE_P),
        "hairline": u(0.48, 0.72),  # where the hair starts, as a fraction of b above the centre
        "temples": u(0.35, 0.8),  # how far the hairline drops at the sides, as a fraction of b
        "parting": u(-0.25, 0.25),  # slope of the fringe
        "volume": u(1.04, 1.14),
        "clothes": np.clip(rng.uniform(0.05, 0.9, (n, 3)), 0, 1).astype(np.float32),
        "eye_y": u(-0.20, -0.08),  # eye height from the centre, as a fraction of b (up < 0)
        "eye_dx": u(0.36, 0.44),  # eye distance from the middle, as a fraction of a
        "eye_w": u(0.15, 0.20),  # eye half-width, as a fraction of a
        "eye_h": u(0.40, 0.60),  # eye half-height as a fraction of its half-width
        "eye_jitter": rng.normal(0, 0.01, (n, 4)).astype(np.float32),
        "gaze": rng.normal(0, 0.25, (n, 2)).astype(np.float32),
        "iris": pick(_IRIS, _IRIS_P, 0.04),
        "brow_up": u(0.16, 0.26),  # brow height above the eye, as a fraction of a
        "brow_arch": u(-0.1, 0.9),
        "brow_t": u(0.025, 0.05),  # brow half-thickness, as a fraction of a
        "nose_y": u(0.25, 0.38),  # nose tip below the centre, as a fraction of b
        "mouth_y": u(0.50, 0.62),  # as a fraction of b below the centre
        "mouth_w": u(0.26, 0.42),  # half-width, as a fraction of a
        "smile": u(-0.15, 0.9),
        "lip_t": u(0.05, 0.10),  # lip half-thickness, as a fraction of a
        "lips": np.clip(
            skin * np.array([0.85, 0.55, 0.55], np.float32)
            + np.array([0.08, 0.0, 0.02], np.float32)
            + rng.normal(0, 0.03, (n, 3)),
            0,
            1,
        ).astype(np.float32),
        "open": (rng.uniform(0, 1, n) < 0.35).astype(np.float32),
    }


class _Painter:
    """Paints a batch of faces onto an RGB float canvas in [0, 1].

    Each shape is computed and blended only inside the rows and columns it can reach in this
    batch (its window), which keeps small features such as eyes cheap.
    """

    def __init__(self, n: int, size: int):
        self.size = size
        self.px = 2.0 / size  # one pixel in [-1, 1] coordinates
        self.coords = (np.arange(size, dtype=np.float32) + 0.5) * np.float32(self.px) - 1
        self.img = np.empty((n, size, size, 3), dtype=np.float32)

    def paint(self, p: dict[str, np.ndarray]) -> np.ndarray:
        a, b, cx, cy = p["a"], p["b"], p["cx"], p["cy"]
        style, hair, skin = p["style"], p["hair"], p["skin"]
        self._background(p)

        # Shoulders and neck, then long or voluminous hair behind the head.
        self.fill(self.ellipse(cx, cy + b * 1.75, a * 2.0, b * 0.85), p["clothes"])
        self.fill(self.ellipse(cx, cy + b * 0.95, a * 0.55, b * 0.55), skin * 0.82)
        reach = np.where(style == _LONG, 1.05, 0.55).astype(np.float32)
        back = self.ellipse(
            cx, cy + b * reach * 0.45, a * p["volume"] * 1.22, b * (0.9 + reach * 0.35)
        )
        self.fill(back, hair, alpha=np.isin(style, (_LONG, _VOLUME)))

        ear_y = cy + b * (p["eye_y"] + 0.05)
        for side in (-1.0, 1.0):
            self.fill(self.ellipse(cx + side * a * 0.97, ear_y, a * 0.16, b * 0.16), skin * 0.9)
        self._face(p)
        self._top_hair(p)
        self._eyes(p)
        self._nose(p)
        self._mouth(p)
        return self.img

    def _background(self, p: dict[str, np.ndarray]) -> None:
        t = ((self.coords + 1) / 2)[None, :, None]
        top, bottom = p["bg_top"][:, None, :], p["bg_bottom"][:, None, :]
        self.img[:] = (top + t * (bottom - top))[:, :, None, :]

    def _face(self, p: dict[str, np.ndarray]) -> None:
        """Egg-shaped face, darker towards its edges and lit from one side."""
        a, b, cx, cy = p["a"], p["b"], p["cx"], p["cy"]
        rows, cols = self.window(cy - b, cy + b), self.window(cx - a, cx + a)
        x = (self.coords[None, cols] - cx[:, None]) / a[:, None]  # (n, w)
        y = (self.coords[None, rows] - cy[:, None]) / b[:, None]  # (n, h)
        narrow = 1.0 - p["jaw"][:, None] * np.clip(y, 0, None)  # the chin is narrower
        q = (x**2)[:, None, :] / (narrow**2)[:, :, None] + (y**2)[:, :, None]  # < 1 inside
        k = (np.minimum(a, b) / (2 * self.px))[:, None, None]
        cov = np.clip(0.5 + k * (1.0 - q), 0, 1)
        lit = 1.0 - 0.16 * q + (p["light"][:, None] * x * 0.35)[:, None, :]
        colour = p["skin"][:, None, None, :] * lit[..., None]
        region = self.img[:, rows, cols]
        region += cov[..., None] * (colour - region)

    def _top_hair(self, p: dict[str, np.ndarray]) -> None:
        """Hair inside the head outline above a curved hairline (low and slanted for a fringe)."""
        a, b, cx, cy, style = p["a"], p["b"], p["cx"], p["cy"], p["style"]
        cov, (rows, cols) = self.ellipse(
            cx, cy - b * 0.06, a * p["volume"] * 1.03, b * p["volume"] * 1.02
        )
        fringe = style == _FRINGE
        line_y = cy - b * np.where(fringe, 0.33 - p["eye_y"], p["hairline"])
        curve = np.where(fringe, 0.15, p["temples"]).astype(np.float32) * b
        slope = np.where(fringe, p["parting"], 0.0).astype(np.float32)
        x = self.coords[None, cols] - cx[:, None]
        line = line_y[:, None] + curve[:, None] * (x / a[:, None]) ** 2 + slope[:, None] * x
        above = (line[:, None, :] - self.coords[None, rows, None]) / self.px + 0.5
        cov *= np.clip(above, 0, 1)
        self.fill((cov, (rows, cols)), p["hair"], alpha=style != _BALD)

    def _eyes(self, p: dict[str, np.ndarray]) -> None:
        a, b, cx, cy = p["a"], p["b"], p["cx"], p["cy"]
        w = a * p["eye_w"]
        h = w * p["eye_h"]
        jitter, skin = p["eye_jitter"], p["skin"]
        white = np.clip(skin * 0.25 + 0.72, 0, 1)
        pupil = np.full_like(white, 0.03)
        light_hair = p["hair"].mean(1, keepdims=True) > 0.6
        no_hair = (p["style"] == _BALD)[:, None]
        brow = np.where(no_hair | light_hair, skin * 0.4, p["hair"] * 0.75)
        for k, side in enumerate((-1.0, 1.0)):
            ex = cx + side * a * p["eye_dx"] + jitter[:, 2 * k]
            ey = cy + b * p["eye_y"] + jitter[:, 2 * k + 1]
            self.fill(self.ellipse(ex, ey - h * 0.15, w * 1.12, h * 1.25), skin * 0.35)  # lids
            eye, win = self.ellipse(ex, ey, w, h)
            self.fill((eye, win), white)
            ix = ex + p["gaze"][:, 0] * w * 0.35
            iy = ey + p["gaze"][:, 1] * h * 0.2
            r = h * 0.95
            iris, _ = self.ellipse(ix, iy, r, r, win)
            self.fill((iris * eye, win), p["iris"])
            dot, _ = self.ellipse(ix, iy, r * 0.45, r * 0.45, win)
            self.fill((dot * eye, win), pupil)
            bend = -p["brow_arch"] * a * 0.08
            brow_y = ey - a * p["brow_up"]
            self.fill(
                self.stroke(ex + side * w * 0.1, brow_y, w * 1.25, a * p["brow_t"], bend), brow
            )

    def _nose(self, p: dict[str, np.ndarray]) -> None:
        """A hint only: a shadow down one side, a darker tip and two nostrils."""
        a, b, cx, cy, skin = p["a"], p["b"], p["cx"], p["cy"], p["skin"]
        ny = cy + b * p["nose_y"]
        side = np.where(p["light"] >= 0, 1.0, -1.0).astype(np.float32)
        ridge = self.ellipse(cx - side * a * 0.06, ny - b * 0.12, a * 0.05, b * 0.16)
        self.fill(ridge, skin * 0.78, alpha=0.45)
        self.fill(self.ellipse(cx, ny, a * 0.15, a * 0.08), skin * 0.78, alpha=0.5)
        for s in (-1.0, 1.0):
            nostril = self.ellipse(cx + s * a * 0.08, ny + a * 0.035, a * 0.045, a * 0.03)
            self.fill(nostril, skin * 0.45, alpha=0.8)

    def _mouth(self, p: dict[str, np.ndarray]) -> None:
        a, b, cx, cy = p["a"], p["b"], p["cx"], p["cy"]
        my = cy + b * p["mouth_y"]
        w = a * p["mouth_w"]
        t = a * p["lip_t"] * (1 + 0.6 * p["open"])
        bend = p["smile"] * w * 0.35
        self.fill(self.stroke(cx, my, w, t, bend), p["lips"])
        inner = self.stroke(cx, my, w * 0.9, t * (0.25 + 0.35 * p["open"]), bend)
        self.fill(inner, p["lips"] * 0.3, alpha=0.9)

    def window(self, lo: np.ndarray, hi: np.ndarray) -> slice:
        """The pixel rows (or columns) that coordinates lo..hi of any face in the batch touch."""
        first = int(np.floor((float(lo.min()) + 1) / self.px)) - 1
        last = int(np.ceil((float(hi.max()) + 1) / self.px)) + 1
        return slice(min(max(first, 0), self.size), min(max(last, 0), self.size))

    def ellipse(self, cx, cy, rx, ry, win=None) -> tuple[np.ndarray, tuple[slice, slice]]:
        """Coverage in [0, 1] of one axis-aligned ellipse per face, over a window: (n, h, w)."""
        if win is None:
            win = (self.window(cy - ry, cy + ry), self.window(cx - rx, cx + rx))
        rows, cols = win
        k = np.minimum(rx, ry) / (2 * self.px)  # turns 1 - q into roughly pixels from the edge
        x = k[:, None] * ((self.coords[None, cols] - cx[:, None]) / rx[:, None]) ** 2
        y = k[:, None] * ((self.coords[None, rows] - cy[:, None]) / ry[:, None]) ** 2
        cov = (0.5 + k)[:, None, None] - y[:, :, None] - x[:, None, :]
        return np.clip(cov, 0, 1, out=cov), win

    def stroke(self, cx, cy, half_w, half_t, bend) -> tuple[np.ndarray, tuple[slice, slice]]:
        """A parabolic stroke tapering to its ends; bend > 0 lifts the ends (a smile)."""
        reach = np.abs(bend) + half_t
        win = (self.window(cy - reach, cy + reach), self.window(cx - half_w, cx + half_w))
        rows, cols = win
        x = (self.coords[None, cols] - cx[:, None]) / half_w[:, None]  # (n, w)
        centre = cy[:, None] - bend[:, None] * x**2
        thick = half_t[:, None] * (1 - x**2)  # negative beyond the ends: no stroke there
        dist = np.abs(self.coords[None, rows, None] - centre[:, None, :])
        return np.clip((thick[:, None, :] - dist) / self.px + 0.5, 0, 1), win

    def fill(self, shape, colour: np.ndarray, alpha=None) -> None:
        """Blend one flat colour per face over a shape's coverage, optionally more transparent."""
        cov, (rows, cols) = shape
        if alpha is not None:
            cov = cov * np.asarray(alpha, dtype=np.float32).reshape(-1, 1, 1)
        region = self.img[:, rows, cols]
        region += cov[..., None] * (colour[:, None, None, :] - region)


def _to_channels(rgb: np.ndarray, channels: int) -> np.ndarray:
    if channels == 1:
        rgb = rgb @ np.array([[0.299], [0.587], [0.114]], dtype=np.float32)
    out = np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)
    if channels == 4:
        out = np.concatenate([out, np.full(out.shape[:3] + (1,), 255, np.uint8)], axis=-1)
    return out
