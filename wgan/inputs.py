"""What a run's generator is fed, in numpy: noise, and the label or InfoGAN codes its model adds.

Grids, evaluations and ``generate.py`` draw the generator's inputs here, from the run's config,
so a conditional run is sampled as it was trained: labels by name, attributes not given drawn
from their frequency in the training data, InfoGAN's codes from their prior.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from wgan.conditioning import ATTRIBUTES, CLASS
from wgan.errors import ConfigError
from wgan.priors import Prior, WithCodes, make_prior

GRID_ROWS = 16  # most classes (or attribute pairs, or categories) a training grid shows
GRID_COLUMNS = 8  # samples per row of an attribute grid
CONDITIONAL = ("cgan", "acgan")  # models whose generator takes a label


@dataclass
class InputSpace:
    latent_dim: int  # noise entries (InfoGAN's codes come on top)
    distribution: str = "uniform"
    model: str = "gan"
    kind: str = ""  # "", "class" or "attributes"
    names: list = field(default_factory=list)  # class or attribute names
    frequencies: list = field(default_factory=list)  # share of each in the training data
    categories: int = 0  # InfoGAN
    continuous: int = 0

    @classmethod
    def from_config(cls, config) -> InputSpace:
        """From a ``TrainConfig`` or the dict of a run's config.json."""
        get = config.get if isinstance(config, dict) else lambda k, d=None: getattr(config, k, d)
        model = get("model", "gan") or "gan"
        return cls(
            latent_dim=int(get("latent_dim")),
            distribution=get("latent_distribution", "uniform"),
            model=model,
            kind=get("label_kind", "") or "",
            names=list(get("classes", []) or []),
            frequencies=list(get("label_frequencies", []) or []),
            categories=int(get("categories", 0)) if model == "infogan" else 0,
            continuous=int(get("continuous_codes", 0)) if model == "infogan" else 0,
        )

    # -- what the generator takes ---------------------------------------------------------------
    @property
    def conditional(self) -> bool:
        """Whether the generator takes a label beside its latent vector."""
        return self.model in CONDITIONAL

    @property
    def prior(self) -> Prior:
        if self.model == "infogan":
            return WithCodes(self.distribution, self.categories, self.continuous)
        return make_prior(self.distribution)

    @property
    def width(self) -> int:
        """Length of the generator's latent input (noise plus InfoGAN's codes)."""
        return self.latent_dim + self.categories + self.continuous

    def latent(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.prior.sample_numpy(n, self.width, rng)

    def random_labels(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Labels drawn as often as in the training data (attributes independently)."""
        freq = np.asarray(self.frequencies, np.float64)
        if self.kind == CLASS:
            return rng.choice(len(freq), size=n, p=freq / freq.sum()).astype(np.int32)
        return (rng.random((n, len(freq))) < freq).astype(np.float32)

    def inputs(self, latent: np.ndarray, labels: np.ndarray | None = None):
        """What to call the generator with: the latent batch, or [latent, labels]."""
        if not self.conditional:
            return latent
        if labels is None:
            raise ConfigError("this generator is conditional: give the labels to draw")
        return [latent, labels]

    def random(self, n: int, rng: np.random.Generator):
        """``n`` random inputs and their labels (None for an unconditional generator)."""
        latent = self.latent(n, rng)
        labels = self.random_labels(n, rng) if self.conditional else None
        return self.inputs(latent, labels), labels

    # -- labels by name -------------------------------------------------------------------------
    def class_index(self, label: str) -> int:
        """``--label boots`` or ``--label 7``: the class's name, or its index."""
        if self.kind != CLASS:
            raise ConfigError(
                "--label picks a class, and this run was not trained with classes"
                + (": use --attributes NAME=1,..." if self.kind == ATTRIBUTES else "")
            )
        if label in self.names:
            return self.names.index(label)
        raise ConfigError(
            f"--label {label!r} is not a class of this run; classes: {', '.join(self.names)}"
        )

    def attribute_labels(
        self, values: dict[str, float], n: int, rng: np.random.Generator
    ) -> np.ndarray:
        """``n`` attribute vectors with ``values`` fixed and the others drawn by frequency."""
        if self.kind != ATTRIBUTES:
            raise ConfigError("--attributes applies to a run trained with CelebA attributes")
        labels = self.random_labels(n, rng)
        for name, value in values.items():
            labels[:, self.names.index(name)] = 1.0 if value > 0 else 0.0
        return labels

    def describe(self, labels: np.ndarray | None) -> list[str]:
        """A caption per sample: its class, or the attributes it has ("no attributes")."""
        if labels is None:
            return []
        if self.kind == CLASS:
            return [self.names[int(i)] for i in labels]
        return [", ".join(n for n, v in zip(self.names, row, strict=True) if v > 0.5)
                or "no attributes" for row in labels]  # fmt: skip

    # -- the training grid ----------------------------------------------------------------------
    def grid(self, n: int, seed: int):
        """The inputs of the training grids, their labels, the columns per row and a name per
        row: a row per class (one noise vector per column), a pair of rows per attribute
        (switched off, then on), a row per InfoGAN category, or ``n`` plain samples."""
        rng = np.random.default_rng(seed)
        if self.model == "infogan":
            rows = min(self.categories, GRID_ROWS)
            columns = max(1, n // rows)
            noise = make_prior(self.distribution).sample_numpy(columns, self.latent_dim, rng)
            category = np.repeat(np.arange(rows), columns)
            latent = self.prior.with_codes(np.tile(noise, (rows, 1)), category, 0.0)
            return latent, None, columns, [f"category {i}" for i in range(rows)]
        if not self.conditional:
            return self.latent(n, rng), None, None, []
        if self.kind == CLASS:
            rows = min(len(self.names), GRID_ROWS)
            columns = max(1, n // rows)
            noise = self.latent(columns, rng)
            labels = np.repeat(np.arange(rows, dtype=np.int32), columns)
            latent = np.tile(noise, (rows, 1))
            return self.inputs(latent, labels), labels, columns, self.names[:rows]
        # Pairs of rows (off, on) per attribute; few attributes repeat the pairs with new noise.
        shown = self.names[: GRID_ROWS // 2]
        columns = min(GRID_COLUMNS, max(1, n // (2 * len(shown))))
        repeats = max(1, n // (2 * len(shown) * columns))
        noise = self.latent(columns * repeats, rng)
        base = self.random_labels(columns * repeats, rng)
        latents, blocks, row_names = [], [], []
        for r in range(repeats):
            part = slice(r * columns, (r + 1) * columns)
            for a, name in enumerate(shown):
                for value in (0.0, 1.0):
                    block = base[part].copy()
                    block[:, a] = value
                    blocks.append(block)
                    latents.append(noise[part])
                    row_names.append(f"{name} {'on' if value else 'off'}")
        labels = np.concatenate(blocks)
        return self.inputs(np.concatenate(latents), labels), labels, columns, row_names


def batches(inputs, start: int, stop: int):
    """Rows ``start:stop`` of generator inputs (an array, or a list of arrays)."""
    if isinstance(inputs, (list, tuple)):
        return [part[start:stop] for part in inputs]
    return inputs[start:stop]


def count(inputs) -> int:
    return len(inputs[0]) if isinstance(inputs, (list, tuple)) else len(inputs)
