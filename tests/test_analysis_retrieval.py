"""retrieval_f1 against a hand-computed case and a direct implementation with Python sets."""

import numpy as np
import pytest

from semrsm.analysis import label_matrix, retrieval_f1


def direct(rsm, labels, k, gallery=None):
    """F1, precision, recall by the definition, one query and one retrieved sample at a time."""
    cross = gallery is not None
    gallery = labels if gallery is None else gallery
    f1s, precisions, recalls = [], [], []
    for q in range(rsm.shape[0]):
        candidates = [g for g in range(rsm.shape[1]) if cross or g != q]
        ranked = sorted(candidates, key=lambda g: (-rsm[q, g], g))[:k]
        f, p, r = [], [], []
        for g in ranked:
            a, b = set(labels[q]), set(gallery[g])
            common = len(a & b)
            f.append(1.0 if not a and not b else 2 * common / (len(a) + len(b)))
            p.append(common / len(b) if b else 1.0)
            r.append(common / len(a) if a else 1.0)
        f1s.append(np.mean(f)), precisions.append(np.mean(p)), recalls.append(np.mean(r))
    return np.mean(f1s), np.mean(precisions), np.mean(recalls)


def test_hand_computed_case():
    rsm = np.array([[1.0, 0.9, 0.1, 0.2],
                    [0.9, 1.0, 0.3, 0.8],
                    [0.1, 0.3, 1.0, 0.5],
                    [0.2, 0.8, 0.5, 1.0]])
    labels = [{"cat"}, {"cat", "dog"}, {"car"}, {"dog"}]
    score = retrieval_f1(rsm, labels)
    # 0 -> 1: 2*1/3; 1 -> 0: 2*1/3; 2 -> 3: 0; 3 -> 1: 2*1/3
    assert score.f1 == pytest.approx((2 / 3 * 3 + 0) / 4)
    assert score.precision == pytest.approx((0.5 + 1 + 0 + 0.5) / 4)
    assert score.recall == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    np.testing.assert_array_equal(score.neighbours[:, 0], [1, 0, 3, 1])
    two = retrieval_f1(rsm, labels, k=2)
    # 0 -> 1, 3: (2/3 + 0) / 2; 1 -> 0, 3: (2/3 + 2/3) / 2; 2 -> 3, 1: 0; 3 -> 1, 2: (2/3 + 0) / 2
    assert two.f1 == pytest.approx((1 / 3 + 2 / 3 + 0 + 1 / 3) / 4)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_against_the_definition(rng, k):
    n, vocabulary = 12, list("abcdef")
    labels = [set(rng.choice(vocabulary, size=rng.integers(0, 4), replace=False)) for _ in range(n)]
    rsm = rng.integers(0, 4, size=(n, n)).astype(float)  # small integers: many ties
    score = retrieval_f1(rsm, labels, k=k)
    assert (score.f1, score.precision, score.recall) == pytest.approx(direct(rsm, labels, k))
    matrix, names = label_matrix(labels)
    assert retrieval_f1(rsm, matrix, k=k).f1 == pytest.approx(score.f1)
    assert score.neighbours.shape == (n, k) and not (score.neighbours == np.arange(n)[:, None]).any()


def test_ties_go_to_the_lower_index():
    score = retrieval_f1(np.ones((5, 5)), [{1}] * 5, k=2)
    np.testing.assert_array_equal(score.neighbours, [[1, 2], [0, 2], [0, 1], [0, 1], [0, 1]])


def test_cross_rsm_against_a_gallery(rng):
    queries = [{"x"}, {"y", "z"}, set()]
    gallery = [{"z"}, {"x", "w"}, set(), {"y"}]
    rsm = rng.standard_normal((3, 4))
    score = retrieval_f1(rsm, queries, k=2, gallery_labels=gallery)
    assert (score.f1, score.precision, score.recall) == pytest.approx(direct(rsm, queries, 2, gallery))
    square = rng.standard_normal((4, 4))
    # A square cross RSM may retrieve the column of the same index.
    crossed = retrieval_f1(square, gallery, gallery_labels=gallery)
    assert crossed.f1 == pytest.approx(direct(square, gallery, 1, gallery)[0])


def test_empty_sets():
    score = retrieval_f1(np.array([[1.0, 0.5], [0.5, 1.0]]), [set(), set()])
    assert (score.f1, score.precision, score.recall) == (1.0, 1.0, 1.0)
    one = retrieval_f1(np.array([[1.0, 0.5], [0.5, 1.0]]), [{"a"}, set()])
    assert (one.f1, one.precision, one.recall) == (0.0, 0.5, 0.5)


@pytest.mark.parametrize("rsm, labels, kwargs, error, match", [
    (np.eye(3), [{1}, {2}], {}, ValueError, "labels has 2 entries for the 3 rows"),
    (np.ones((3, 4)), [{1}] * 3, {}, ValueError, "not square"),
    (np.array([[1.0, np.nan], [0.0, 1.0]]), [{1}, {2}], {}, ValueError, "nan"),
    (np.eye(3), [{1}] * 3, {"k": 3}, ValueError, "only 2"),
    (np.eye(3), [{1}] * 3, {"k": 0}, ValueError, "k must be"),
    (np.ones((2, 3)), [{1}] * 2, {"gallery_labels": [{1}] * 2}, ValueError, "gallery_labels has 2 entries"),
    (np.eye(2), np.array([[0, 2], [1, 0]]), {}, ValueError, "only 0 and 1"),
    (np.eye(2), ["cat", "dog"], {}, TypeError, "the string 'cat'"),
    (np.eye(2), [{1}, 5], {}, TypeError, "labels\\[1\\]"),
    (np.ones(3), [{1}] * 3, {}, ValueError, "2-D"),
    (np.ones((2, 2)), np.eye(2, dtype=bool), {"gallery_labels": [{1}, {2}]}, TypeError, "both"),
])
def test_bad_input(rsm, labels, kwargs, error, match):
    with pytest.raises(error, match=match):
        retrieval_f1(rsm, labels, **kwargs)
