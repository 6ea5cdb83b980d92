"""A tiny convolutional classifier trained in seconds with NumPy alone.

Three 3x3 convolutions with ReLU (2x2 average pooling after the first two), global average pooling
and a linear layer to the class logits, trained by Adam (Kingma & Ba, ICLR 2015) on the softmax
cross-entropy, with the gradients written out by hand. Global average pooling makes its decision
(nearly) invariant to where the object is, as in the ResNets and ViTs (class token) that Wald et
al. (2024) study, while its feature maps keep the position: the setting of their JSD analysis.

Training and inference run NumPy's BLAS on one thread: the products are small, and several threads
only contend for them (measured on 2 cores: 10 s with one thread against two minutes with two), and
a fixed summation order makes the trained weights the same on every machine with the same BLAS.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

__all__ = ["TinyConvNet"]


def _im2col(x: np.ndarray) -> np.ndarray:
    """(B, C, H, W) -> (B*H*W, C*9): the 3x3 neighbourhoods (zero padded) of every position."""
    b, c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    patches = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(2, 3))  # (b, c, h, w, 3, 3)
    return np.ascontiguousarray(patches.transpose(0, 2, 3, 1, 4, 5)).reshape(b * h * w, c * 9)


def _col2im(cols: np.ndarray, shape) -> np.ndarray:
    """The adjoint of :func:`_im2col`: (B*H*W, C*9) -> (B, C, H, W), overlaps summed."""
    b, c, h, w = shape
    cols = cols.reshape(b, h, w, c, 3, 3)
    padded = np.zeros((b, c, h + 2, w + 2), dtype=cols.dtype)
    for dy in range(3):
        for dx in range(3):
            padded[:, :, dy:dy + h, dx:dx + w] += cols[:, :, :, :, dy, dx].transpose(0, 3, 1, 2)
    return padded[:, :, 1:-1, 1:-1]


def _pool(x: np.ndarray) -> np.ndarray:
    b, c, h, w = x.shape
    return x.reshape(b, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


def _unpool(grad: np.ndarray) -> np.ndarray:
    return np.repeat(np.repeat(grad, 2, axis=2), 2, axis=3) * 0.25


class TinyConvNet:
    """conv(3x3)-ReLU-pool, conv-ReLU-pool, conv-ReLU, global average pool, linear.

    Parameters
    ----------
    channels : tuple of int
        Input channels, then the output channels of the three convolutions.
    classes : int
    seed : int
        Seed of the He-initialised weights and of the training order.
    """

    #: Names of the feature maps :meth:`features` returns.
    LAYERS = ("block1", "block2", "block3")

    def __init__(self, channels=(1, 16, 32, 64), classes: int = 10, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.seed = seed
        self.params = {}
        for k, (cin, cout) in enumerate(zip(channels[:-1], channels[1:])):
            self.params[f"w{k}"] = rng.normal(0, np.sqrt(2.0 / (9 * cin)), (9 * cin, cout)).astype(np.float32)
            self.params[f"b{k}"] = np.zeros(cout, dtype=np.float32)
        self.params["w_out"] = rng.normal(0, np.sqrt(1.0 / channels[-1]), (channels[-1], classes)).astype(np.float32)
        self.params["b_out"] = np.zeros(classes, dtype=np.float32)

    def _forward(self, x: np.ndarray):
        """Logits and what the backward pass needs: per convolution its input columns, input shape and
        output (after ReLU)."""
        cache = []
        maps = []
        for k in range(3):
            b, c, h, w = x.shape
            cols = _im2col(x)
            out = np.maximum(cols @ self.params[f"w{k}"] + self.params[f"b{k}"], 0.0)
            out = out.reshape(b, h, w, -1).transpose(0, 3, 1, 2)
            cache.append((cols, x.shape, out))
            x = _pool(out) if k < 2 else out
            maps.append(x)
        pooled = x.mean(axis=(2, 3))
        logits = pooled @ self.params["w_out"] + self.params["b_out"]
        return logits, pooled, cache, maps

    def _gradients(self, x: np.ndarray, labels: np.ndarray):
        logits, pooled, cache, _ = self._forward(x)
        shifted = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(shifted)
        probs /= probs.sum(axis=1, keepdims=True)
        batch = len(labels)
        loss = float(-np.log(probs[np.arange(batch), labels] + 1e-12).mean())
        d_logits = probs
        d_logits[np.arange(batch), labels] -= 1.0
        d_logits /= batch
        grads = {"w_out": pooled.T @ d_logits, "b_out": d_logits.sum(axis=0)}
        d_x = d_logits @ self.params["w_out"].T  # (B, C) of the average pool
        _, _, h, w = cache[2][2].shape
        d_x = np.broadcast_to(d_x[:, :, None, None] / (h * w), cache[2][2].shape)
        for k in (2, 1, 0):
            cols, shape, out = cache[k]
            if k < 2:
                d_x = _unpool(d_x)
            d_out = (d_x * (out > 0)).transpose(0, 2, 3, 1).reshape(-1, out.shape[1])
            # (d_out.T @ cols).T, not cols.T @ d_out: OpenBLAS takes the latter's tall transposed
            # operand (B*H*W rows, 9 columns) down a path two orders of magnitude slower.
            grads[f"w{k}"] = (d_out.T @ cols).T
            grads[f"b{k}"] = d_out.sum(axis=0)
            if k > 0:
                d_x = _col2im(d_out @ self.params[f"w{k}"].T, shape)
        return loss, grads

    def fit(self, images: np.ndarray, labels: np.ndarray, *, epochs: int = 6, batch_size: int = 64,
            learning_rate: float = 3e-3) -> list:
        """Train by Adam on mini-batches in a seeded random order; returns the mean loss of each epoch."""
        rng = np.random.default_rng(self.seed + 1)
        images = np.asarray(images, dtype=np.float32)
        labels = np.asarray(labels, dtype=np.int64)
        moments = {name: (np.zeros_like(p), np.zeros_like(p)) for name, p in self.params.items()}
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        step = 0
        history = []
        with threadpool_limits(limits=1, user_api="blas"):
            for _ in range(epochs):
                order = rng.permutation(len(images))
                losses = []
                for start in range(0, len(images), batch_size):
                    index = order[start:start + batch_size]
                    loss, grads = self._gradients(images[index], labels[index])
                    losses.append(loss)
                    step += 1
                    for name, grad in grads.items():
                        m, v = moments[name]
                        m *= beta1
                        m += (1 - beta1) * grad
                        v *= beta2
                        v += (1 - beta2) * grad * grad
                        m_hat = m / (1 - beta1 ** step)
                        v_hat = v / (1 - beta2 ** step)
                        self.params[name] -= (learning_rate * m_hat / (np.sqrt(v_hat) + eps)).astype(np.float32)
                history.append(float(np.mean(losses)))
        return history

    def features(self, images: np.ndarray, batch_size: int = 256) -> dict:
        """The feature maps of :data:`LAYERS` (N, C, H, W) float32 and the predicted class
        probabilities (N, classes) float64, under the key "probs"."""
        out = {name: [] for name in self.LAYERS}
        out["probs"] = []
        for start in range(0, len(images), batch_size):
            with threadpool_limits(limits=1, user_api="blas"):
                logits, _, _, maps = self._forward(np.asarray(images[start:start + batch_size], dtype=np.float32))
            for name, value in zip(self.LAYERS, maps):
                out[name].append(value)
            logits = logits.astype(np.float64)
            probs = np.exp(logits - logits.max(axis=1, keepdims=True))
            out["probs"].append(probs / probs.sum(axis=1, keepdims=True))
        return {name: np.concatenate(values) for name, values in out.items()}
