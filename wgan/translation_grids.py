"""What an image-to-image run shows of itself: grids of held-out inputs and their translations,
each translation as a file for the sonification, and the SWD of translations during training.

The examples are the first held-out ones (fixed by the seed's split), so the grids of every
epoch, resumes included, show the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from wgan.data import to_float, to_uint8
from wgan.grids import make_grid
from wgan.io import save_png
from wgan.metrics import sliced_wasserstein_distance
from wgan.pairs import Domains
from wgan.run_folder import RunFolder, sample_name
from wgan.translation import is_cycle, translator_of

GRID_EXAMPLES = 8
_REAL_STREAM = 1


def translate(
    generator: keras.Model,
    images: np.ndarray,
    direction: str = "AtoB",
    training: bool = False,
    batch_size: int = 32,
) -> np.ndarray:
    """uint8 images -> uint8 translations by the run's generator in ``direction``.

    ``training`` (Pix2Pix's test mode in the paper) keeps dropout on and normalises with the
    batch's statistics, without moving the stored statistics or the dropout seed.
    """
    network = translator_of(generator, direction)
    out = []
    for start in range(0, len(images), batch_size):
        x = to_float(np.asarray(images[start : start + batch_size]))
        if training:
            y, _ = network.stateless_call(
                [v.value for v in network.trainable_variables],
                [v.value for v in network.non_trainable_variables], x, training=True,
            )  # fmt: skip
        else:
            y = network(x, training=False)
        out.append(to_uint8(np.asarray(y)))
    return np.concatenate(out) if out else np.empty((0, *images.shape[1:]), np.uint8)


@dataclass(frozen=True)
class Examples:
    """The held-out examples every grid of a run shows."""

    a: np.ndarray  # inputs (uint8)
    b: np.ndarray  # their targets (paired), or held-out images of domain B (unpaired)
    paired: bool
    training: bool = False  # translate in training mode (--test-dropout)

    @classmethod
    def from_domains(cls, domains: Domains, training: bool = False) -> Examples:
        n = min(GRID_EXAMPLES, len(domains.test_a), len(domains.test_b))
        return cls(domains.test_a[:n], domains.test_b[:n], domains.paired, training)

    def write(self, generator: keras.Model, folder: RunFolder, epoch: int):
        return write_translations(generator, self, folder, epoch)

    @property
    def inputs(self) -> np.ndarray:
        """The input of each sample file, in sample order (CycleGAN: A's, then B's)."""
        return self.a if self.paired else np.concatenate([self.a, self.b])

    def render(self, generator: keras.Model) -> tuple[np.ndarray, np.ndarray, int]:
        """(the translation of each input in sample order, the grid's tiles, its columns).

        Pix2Pix rows: input | output | target, two examples a row. CycleGAN rows:
        A | G(A) | F(G(A)) | B | F(B) | G(F(B)), the round trips beside the translations.
        """
        if not is_cycle(generator):
            out = translate(generator, self.a, training=self.training)
            tiles = np.stack([self.a, out, self.b], axis=1).reshape(-1, *self.a.shape[1:])
            return out, tiles, 6
        ab = translate(generator, self.a, "AtoB", self.training)
        aba = translate(generator, ab, "BtoA", self.training)
        ba = translate(generator, self.b, "BtoA", self.training)
        bab = translate(generator, ba, "AtoB", self.training)
        tiles = np.stack([self.a, ab, aba, self.b, ba, bab], axis=1).reshape(-1, *self.a.shape[1:])
        return np.concatenate([ab, ba]), tiles, 6


def write_inputs(examples: Examples, folder: RunFolder) -> None:
    """The grids' inputs, one file each (``images/inputs/sample_NN.png``), written once."""
    folder.translation_inputs.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(examples.inputs):
        path = folder.translation_inputs / sample_name(i)
        if not path.exists():
            save_png(path, image)


def write_translations(generator: keras.Model, examples: Examples, folder: RunFolder, epoch: int):
    """An epoch's grid and its translations one file each; the grid's path."""
    outputs, tiles, columns = examples.render(generator)
    samples = folder.epoch_samples(epoch)
    samples.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(outputs):
        save_png(samples / sample_name(i), image)
    path = folder.epoch_grid(epoch)
    save_png(path, make_grid(tiles, columns=columns))
    return path


class TranslationSWD:
    """SWD (x 1e3) of the translations of ``n`` held-out inputs against held-out images of
    the target domain, the same sets at every evaluation."""

    def __init__(self, domains: Domains, n: int, seed: int = 0, training: bool = False):
        n = min(n, len(domains.test_a), len(domains.test_b))
        rng = np.random.default_rng([seed, _REAL_STREAM])
        self.inputs = np.asarray(domains.test_a[np.sort(rng.choice(len(domains.test_a), n,
                                                                    replace=False))])  # fmt: skip
        self.real = np.asarray(domains.test_b[np.sort(rng.choice(len(domains.test_b), n,
                                                                  replace=False))])  # fmt: skip
        self.seed, self.training = seed, training

    def __call__(self, generator: keras.Model) -> float:
        fake = translate(generator, self.inputs, training=self.training)
        return sliced_wasserstein_distance(fake, self.real, seed=self.seed)["swd_avg"]
