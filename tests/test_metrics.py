"""Metric code against expectations worked out by hand."""

from __future__ import annotations

import pytest

from tonearm.eval.metrics import (
    average_precision,
    hit_at_k,
    k_occurrence_skewness,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
    word_error_rate,
)

RANKED = ["a", "x", "b", "y", "c"]
RELEVANT = {"a", "b", "c", "d"}


def test_precision_at_k():
    assert precision_at_k(RANKED, RELEVANT, 1) == 1.0
    assert precision_at_k(RANKED, RELEVANT, 2) == 0.5
    assert precision_at_k(RANKED, RELEVANT, 5) == pytest.approx(3 / 5)
    assert precision_at_k(RANKED, RELEVANT, 10) == pytest.approx(3 / 10)  # missing results count as misses
    with pytest.raises(ValueError):
        precision_at_k(RANKED, RELEVANT, 0)


def test_recall_and_hit_at_k():
    assert recall_at_k(RANKED, RELEVANT, 3) == pytest.approx(2 / 4)
    assert recall_at_k(RANKED, RELEVANT, 5) == pytest.approx(3 / 4)
    assert recall_at_k(RANKED, set(), 5) == 0.0
    assert hit_at_k(["x", "y", "b"], RELEVANT, 2) == 0.0
    assert hit_at_k(["x", "y", "b"], RELEVANT, 3) == 1.0


def test_reciprocal_rank():
    assert reciprocal_rank(RANKED, RELEVANT) == 1.0
    assert reciprocal_rank(["x", "y", "b"], RELEVANT) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x", "y"], RELEVANT) == 0.0


def test_average_precision():
    # hits at ranks 1, 3, 5 -> precisions 1/1, 2/3, 3/5; 4 relevant items -> divide by 4
    assert average_precision(RANKED, RELEVANT) == pytest.approx((1 + 2 / 3 + 3 / 5) / 4)
    assert average_precision(["x", "a"], {"a"}) == pytest.approx(0.5)


def test_word_error_rate():
    assert word_error_rate("the cat sat on the mat", "the cat sat on the mat") == 0.0
    # one substitution (sat->sit), one deletion (the), one insertion (down): 3 errors / 6 words
    assert word_error_rate("the cat sat on the mat", "the cat sit down on mat") == pytest.approx(3 / 6)
    assert word_error_rate("Hello, World!", "hello world") == 0.0
    assert word_error_rate("a b", "") == 1.0
    assert word_error_rate("", "") == 0.0


def test_k_occurrence_skewness():
    assert k_occurrence_skewness([["a"], ["b"], ["c"]], ["a", "b", "c"]) == 0.0
    # counts a=3, b=0, c=0, d=0: one hub -> positive skew; population skewness = 1.1547
    assert k_occurrence_skewness([["a"], ["a"], ["a"]], ["a", "b", "c", "d"]) == pytest.approx(1.1547, abs=1e-3)


def test_melody_families_group_by_intervals_not_key():
    from tonearm.eval.symbolic import Tune, group_families, melody_key

    line = [60, 62, 64, 65, 67, 65, 64, 62, 60, 62, 64, 62, 60, 59]
    a = Tune("a", "s", "A", "x", tuple((float(i), 1.0, p) for i, p in enumerate(line)))
    b = Tune("b", "s", "B", "x", tuple((float(i), 0.5, p + 5) for i, p in enumerate(line)))  # transposed, faster
    c = Tune("c", "s", "C", "x", tuple((float(i), 1.0, p) for i, p in enumerate(reversed(line))))
    assert melody_key(a.melody) == melody_key(b.melody) != melody_key(c.melody)
    assert [[t.tune_id for t in f] for f in group_families([c, b, a])] == [["a", "b"]]
