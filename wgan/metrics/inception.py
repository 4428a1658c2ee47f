"""Image features for the FID and KID: InceptionV3 from a local weights file, and batching.

There is no network here, so the weights are never downloaded: they come from a file the user
names or from the Keras cache. Keras' ImageNet InceptionV3 is not the TF-slim graph behind
published FIDs, so the numbers compare runs of this project, not papers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from wgan.errors import WganError

WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/" + WEIGHTS_FILE
)
INPUT_SIZE = 299
FEATURE_DIM = 2048


class InceptionWeightsError(WganError, FileNotFoundError):
    """No usable InceptionV3 weights file."""


def find_inception_weights(weights_path: str | os.PathLike | None = None) -> Path | None:
    """The weights file to use: ``weights_path`` if given (it must exist), else the Keras cache.

    Returns None when no file is given and the cache has none; never downloads.
    """
    if weights_path is not None:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise InceptionWeightsError(
                f"InceptionV3 weights file {path} does not exist: pass the path of "
                f"{WEIGHTS_FILE} (--inception-weights PATH)"
            )
        return path
    for cache in _keras_cache_dirs():
        candidate = cache / "models" / WEIGHTS_FILE
        if candidate.is_file():
            return candidate
    return None


def load_inception(weights_path: str | os.PathLike | None = None) -> InceptionFeatures:
    """InceptionV3 pool features (2048 per image) with weights from a local file.

    Raises InceptionWeightsError, quickly and without touching the network, when there is none.
    """
    path = find_inception_weights(weights_path)
    if path is None:
        raise InceptionWeightsError(
            f"no InceptionV3 weights for FID/KID: download {WEIGHTS_URL} on a machine with "
            f"internet and pass --inception-weights PATH (or copy it to ~/.keras/models/)"
        )
    import keras

    model = keras.applications.InceptionV3(
        include_top=False,
        weights=None,
        input_shape=(INPUT_SIZE, INPUT_SIZE, 3),
        pooling="avg",
    )
    try:
        model.load_weights(str(path))
    except Exception as error:  # h5py and Keras raise many types for a wrong or corrupt file
        raise InceptionWeightsError(
            f"cannot load InceptionV3 weights from {path} ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else 'no details'}); "
            f"pass the no-top file {WEIGHTS_FILE}"
        ) from error
    return InceptionFeatures(model)


class InceptionFeatures:
    """Callable extractor: uint8 (N, H, W, C) images -> (N, 2048) features.

    Images are resized to 299x299 (bilinear) and scaled with InceptionV3's preprocess_input;
    grey images are repeated to RGB and an alpha channel is dropped.
    """

    def __init__(self, model):
        import tensorflow as tf

        self.model = model
        self._features = tf.function(self._forward, reduce_retracing=True)

    def _forward(self, images):
        import keras
        import tensorflow as tf

        x = tf.image.resize(tf.cast(images, tf.float32), (INPUT_SIZE, INPUT_SIZE))
        x = keras.applications.inception_v3.preprocess_input(x)
        return self.model(x, training=False)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
            raise ValueError(
                f"expected images shaped (N, H, W, C) with C in (1, 3, 4), got {images.shape}"
            )
        if images.shape[-1] == 1:
            images = np.repeat(images, 3, axis=-1)
        return np.asarray(self._features(images[..., :3]))


def compute_features(
    images: np.ndarray, extractor: Callable[[np.ndarray], object], batch_size: int = 50
) -> np.ndarray:
    """(N, D) float64 features of ``images`` from any extractor (a Keras model or a callable).

    The extractor gets batches of the images as given and may return any array-like; each row
    is flattened, so a model ending in a feature map works too.
    """
    images = np.asarray(images)
    if len(images) == 0:
        raise ValueError("no images to compute features of")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    batches = []
    for start in range(0, len(images), batch_size):
        features = np.asarray(extractor(images[start : start + batch_size]), dtype=np.float64)
        batches.append(features.reshape(len(features), -1))
    return np.concatenate(batches)


def _keras_cache_dirs() -> list[Path]:
    """Where keras.utils.get_file would have stored the file: $KERAS_HOME, ~/.keras, /tmp/.keras."""
    dirs = []
    if os.environ.get("KERAS_HOME"):
        dirs.append(Path(os.environ["KERAS_HOME"]).expanduser())
    dirs += [Path("~/.keras").expanduser(), Path("/tmp/.keras")]
    return dirs
