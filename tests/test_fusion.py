"""Relative score fusion, as Weaviate's hybrid search computes it."""

from __future__ import annotations

import pytest

from knowledge.index.fusion import fuse, min_max


def test_min_max_maps_best_to_one_and_worst_to_zero():
    assert min_max({"a": 12.0, "b": 7.0, "c": 2.0}) == {"a": 1.0, "b": 0.5, "c": 0.0}
    assert min_max({"a": -3.0, "b": -1.0}) == {"a": 0.0, "b": 1.0}


def test_min_max_of_equal_scores_is_one_like_weaviate():
    assert min_max({"only": 0.2}) == {"only": 1.0}
    assert min_max({"a": 5.0, "b": 5.0}) == {"a": 1.0, "b": 1.0}
    assert min_max({}) == {}


def test_fused_is_the_alpha_weighted_sum_and_a_missing_side_counts_zero():
    keyword = {"both": 10.0, "kw_only": 4.0, "kw_low": 2.0}
    vector = {"both": 0.8, "vec_only": 0.9, "vec_low": 0.3}
    fused = {item.key: item for item in fuse(keyword, vector, alpha=0.25)}
    assert fused["both"].keyword == 1.0 and fused["both"].vector == pytest.approx(5 / 6)
    assert fused["both"].score == pytest.approx(0.25 * 5 / 6 + 0.75)
    assert fused["vec_only"].score == pytest.approx(0.25) and fused["vec_only"].keyword == 0.0
    assert fused["kw_only"].score == pytest.approx(0.75 * 0.25)
    assert fused["kw_low"].score == 0.0 and fused["vec_low"].score == 0.0


def test_results_are_sorted_limited_and_within_unit_interval():
    keyword = {f"k{i}": float(i) for i in range(20)}
    vector = {f"k{i}": 1.0 - i / 40 for i in range(0, 40, 2)}
    for alpha in (0.0, 0.1, 0.5, 0.9, 1.0):
        fused = fuse(keyword, vector, alpha, limit=7)
        assert len(fused) == 7
        assert [item.score for item in fused] == sorted((item.score for item in fused), reverse=True)
        assert all(0.0 <= item.score <= 1.0 for item in fused)
        assert fused[0].score <= 1.0


def test_a_side_with_weight_zero_is_not_consulted():
    keyword, vector = {"a": 3.0, "b": 1.0}, {"c": 0.9, "a": 0.1}
    assert [item.key for item in fuse(keyword, vector, alpha=0.0)] == ["a", "b"]
    assert [item.key for item in fuse(keyword, vector, alpha=1.0)] == ["c", "a"]


def test_one_empty_side_leaves_the_other_scaled_by_its_weight():
    fused = fuse({}, {"a": 0.7, "b": 0.5}, alpha=0.5)
    assert [(item.key, item.score) for item in fused] == [("a", 0.5), ("b", 0.0)]
    assert fuse({}, {}, alpha=0.5) == []


def test_ties_keep_keyword_order_first():
    fused = fuse({"x": 1.0, "y": 1.0}, {"z": 0.4}, alpha=0.5)
    assert [item.key for item in fused] == ["x", "y", "z"]


@pytest.mark.parametrize("alpha", [-0.1, 1.5])
def test_alpha_outside_unit_interval_is_rejected(alpha):
    with pytest.raises(ValueError):
        fuse({"a": 1.0}, {"a": 1.0}, alpha)
