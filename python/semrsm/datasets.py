"""Real photographs and the feature maps of a small random conv net, with nothing to download.

The photographs are those bundled with scikit-image. Feature maps of real images are the case the
matching engine is built for: ReLU features are sparse and non-negative, and the cost matrices
X_i X_j^T they give are far harder for LAP solvers than Gaussian noise. Benchmarks, the demo and
tests draw their data from here.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import skimage.data

__all__ = ["PHOTOGRAPHS", "photographs", "random_crops", "RandomConvNet", "semantic_features",
           "semantic_costs"]

#: scikit-image sample images that ship inside the package (colour, natural scenes).
PHOTOGRAPHS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field")


def photographs(names: Sequence[str] = PHOTOGRAPHS) -> list:
    """Load bundled photographs as float32 RGB arrays of shape (H, W, 3) in [0, 1]."""
    images = []
    for name in names:
        image = getattr(skimage.data, name)()
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        images.append(np.asarray(image[..., :3], dtype=np.float32) / 255.0)
    return images


def random_crops(count: int, size: int, seed: int = 0, images: Optional[list] = None):
    """Cut ``count`` square crops of ``size`` pixels at random places of the photographs.

    Returns
    -------
    crops : ndarray, shape (count, 3, size, size), float32
    origin : ndarray, shape (count, 3), int
        (image index, top row, left column) of each crop.
    """
    images = photographs() if images is None else images
    rng = np.random.default_rng(seed)
    crops = np.empty((count, 3, size, size), dtype=np.float32)
    origin = np.empty((count, 3), dtype=np.int64)
    for k in range(count):
        index = int(rng.integers(len(images)))
        image = images[index]
        scale = max(1, int(np.ceil(size / min(image.shape[:2]))))
        if scale > 1:
            image = np.kron(image, np.ones((scale, scale, 1), dtype=np.float32))
        top = int(rng.integers(image.shape[0] - size + 1))
        left = int(rng.integers(image.shape[1] - size + 1))
        crops[k] = image[top:top + size, left:left + size].transpose(2, 0, 1)
        origin[k] = (index, top, left)
    return crops, origin


class RandomConvNet:
    """A small conv net with He-initialised random weights: 3x3 convolutions, ReLU, 2x2 average
    pooling between stages. Random weights keep the statistics that matter here (sparse, non-
    negative, spatially correlated features) without any training or download.

    Parameters
    ----------
    channels : sequence of int
        Output channels of each stage; stage k halves the resolution of stage k - 1.
    seed : int
        Seed of the weights.
    """

    def __init__(self, channels: Sequence[int] = (32, 64, 128, 256), seed: int = 0):
        rng = np.random.default_rng(seed)
        self.weights = []
        fan_in = 3
        for out in channels:
            w = rng.normal(0.0, np.sqrt(2.0 / (9 * fan_in)), size=(9 * fan_in, out)).astype(np.float32)
            self.weights.append(w)
            fan_in = out

    @staticmethod
    def _conv3x3_relu(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        n, c, h, width = x.shape
        padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
        patches = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(2, 3))
        # (n, c, h, w, 3, 3) -> (n, h, w, c*9): the same order as the rows of w.
        cols = patches.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * width, c * 9)
        out = np.maximum(cols @ w, 0.0)
        return np.ascontiguousarray(out.reshape(n, h, width, -1).transpose(0, 3, 1, 2))

    @staticmethod
    def _pool2(x: np.ndarray) -> np.ndarray:
        n, c, h, w = x.shape
        x = x[:, :, : h - h % 2, : w - w % 2]
        return x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))

    def __call__(self, images: np.ndarray, batch_size: int = 16) -> list:
        """Feature maps of every stage for images (N, 3, H, W): a list of (N, C_k, H_k, W_k) float32."""
        stages = [[] for _ in self.weights]
        for start in range(0, len(images), batch_size):
            x = np.asarray(images[start:start + batch_size], dtype=np.float32)
            for k, w in enumerate(self.weights):
                if k > 0:
                    x = self._pool2(x)
                x = self._conv3x3_relu(x, w)
                stages[k].append(x)
        return [np.concatenate(s) for s in stages]


def semantic_features(count: int, side: int, channels: int, seed: int = 0) -> np.ndarray:
    """ReLU feature maps of ``count`` random photo crops, shape (count, channels, side, side).

    Two conv stages (32 channels, then ``channels``) over crops of ``2 * side`` pixels.
    """
    crops, _ = random_crops(count, 2 * side, seed=seed)
    net = RandomConvNet((32, channels), seed=seed)
    return net(crops)[1]


def semantic_costs(count: int, n: int, channels: int = 256, seed: int = 0) -> np.ndarray:
    """``count`` semantic LAP cost matrices of size n x n (n a square number), float32.

    Each is the negated inner-product matrix -X_i X_j^T of the positions of two different crops'
    feature maps, so that minimising it finds the semantic matching of Wald et al. (2024).
    """
    side = int(round(np.sqrt(n)))
    if side * side != n:
        raise ValueError(f"n must be a square number (positions of a side x side map); got {n}")
    samples = max(2, int(np.ceil(np.sqrt(2 * count))) + 1)
    x = semantic_features(samples, side, channels, seed=seed)
    x = x.reshape(samples, channels, n).transpose(0, 2, 1)  # (samples, S, C)
    rng = np.random.default_rng(seed)
    costs = np.empty((count, n, n), dtype=np.float32)
    for k in range(count):
        i, j = rng.choice(samples, size=2, replace=False)
        costs[k] = -(x[i] @ x[j].T)
    return costs
