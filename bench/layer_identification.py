"""The sanity check of Kornblith et al., "Similarity of Neural Network Representations Revisited"
(ICML 2019), section 6.1: networks trained from different random initialisations; is the most
similar layer of another network the one at the same depth?

Networks: tanh MLPs trained with Adam in NumPy on scikit-learn's bundled digits (ReLU MLPs of this
size make the check uninformative: see bench/RESULTS.md, section 3). bench/bench_cka.py prints the
accuracy of every measure; tests/test_similarity.py asserts the paper's ordering on a small case.
"""

import numpy as np
from sklearn.datasets import load_digits

import semrsm
from semrsm.similarity import MEASURES


def train_tanh_mlp(x, labels, widths, seed, epochs=10, batch=64, lr=1e-3):
    """A tanh MLP trained with Adam on softmax cross-entropy, in NumPy.

    Returns a function mapping inputs to the list of hidden-layer activations.
    """
    rng = np.random.default_rng(seed)
    sizes = [x.shape[1], *widths, int(labels.max()) + 1]
    weights = [rng.normal(0.0, 1.0 / np.sqrt(a), (a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    params = [p for w in weights for p in (w, np.zeros(w.shape[1]))]
    adam = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
    onehot = np.eye(sizes[-1])[labels]

    def forward(inputs):
        acts = [inputs]
        for k in range(len(weights)):
            z = acts[-1] @ params[2 * k] + params[2 * k + 1]
            acts.append(np.tanh(z) if k < len(weights) - 1 else z)
        return acts

    step = 0
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            idx = order[start:start + batch]
            acts = forward(x[idx])
            p = np.exp(acts[-1] - acts[-1].max(axis=1, keepdims=True))
            grad = (p / p.sum(axis=1, keepdims=True) - onehot[idx]) / len(idx)
            grads = []
            for k in range(len(weights) - 1, -1, -1):
                grads[:0] = [acts[k].T @ grad, grad.sum(axis=0)]
                if k:
                    grad = (grad @ params[2 * k].T) * (1.0 - acts[k] ** 2)
            step += 1
            for param, g, (m, v) in zip(params, grads, adam):
                m += 0.1 * (g - m)
                v += 0.001 * (g * g - v)
                param -= lr * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
    return lambda inputs: forward(inputs)[1:-1]


def digits_split(seed=0, train=1200):
    """scikit-learn's bundled digits, standardised, split into training and held-out samples."""
    digits = load_digits()
    x = (digits.data - digits.data.mean(0)) / (digits.data.std(0) + 1e-8)
    order = np.random.default_rng(seed).permutation(len(x))
    return x[order[:train]], digits.target[order[:train]], x[order[train:]]


def identification_accuracy(reps, measure, **options):
    """Fraction of (layer, other network) pairs whose most similar layer is the same layer.

    ``reps`` holds each network's list of layers, all of the same depth. One similarity matrix
    over every layer of every network prepares each layer once. Asymmetric measures are
    symmetrised as S + S^T, as Kornblith et al. do."""
    depth = len(reps[0])
    layers = {f"{k}/{layer}": x for k, rep in enumerate(reps) for layer, x in enumerate(rep)}
    values = semrsm.similarity_matrix(layers, measure=measure, **options).values
    if not MEASURES[measure].symmetric:
        values = values + values.T
    hits = total = 0
    for a in range(len(reps)):
        for b in range(len(reps)):
            if a != b:
                block = values[a * depth:(a + 1) * depth, b * depth:(b + 1) * depth]
                hits += int(np.sum(np.argmax(block, axis=1) == np.arange(depth)))
                total += depth
    return hits / total
