"""Bins and the PSI: the properties an analyst relies on when reading the figure."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ensemble.psi import (
    EPSILON,
    BinLayout,
    missing_share,
    psi,
    quantile_edges,
    score_edges,
)

counts = arrays(np.int64, st.integers(2, 12), elements=st.integers(0, 10_000))


@given(counts)
def test_the_psi_of_a_distribution_with_itself_is_zero(c: np.ndarray) -> None:
    if c.sum() == 0:
        assert np.isnan(psi(c, c))
    else:
        assert float(psi(c, c)) == pytest.approx(0.0, abs=1e-12)


@given(counts, st.integers(1, 50))
def test_the_psi_reads_shares_not_volumes(c: np.ndarray, k: int) -> None:
    """A live window ten times the reference's size with the same shape has not drifted."""
    if c.sum():
        assert float(psi(c, c * k)) == pytest.approx(0.0, abs=1e-12)


@given(st.data())
def test_the_psi_is_symmetric_and_never_negative(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, 12))
    e = data.draw(arrays(np.int64, n, elements=st.integers(0, 1000)))
    a = data.draw(arrays(np.int64, n, elements=st.integers(0, 1000)))
    if e.sum() and a.sum():
        assert float(psi(e, a)) == pytest.approx(float(psi(a, e)))
        assert float(psi(e, a)) >= 0.0


def test_an_empty_bin_weighs_by_epsilon_not_infinity() -> None:
    # All the live rows in a bin the reference never saw: (1 - eps) ln(1 / eps) + (eps - 1)
    # ln(eps / 1) for the bin left empty.
    value = float(psi(np.array([100, 0]), np.array([0, 100])))
    assert np.isfinite(value)
    assert value == pytest.approx(2 * (1 - EPSILON) * np.log(1 / EPSILON))


def test_a_known_shift_has_its_textbook_value() -> None:
    # 50/50 to 40/60: 0.1 ln(1.5) - 0.1 ln(0.8/1) ... written out.
    expected = (0.4 - 0.5) * np.log(0.4 / 0.5) + (0.6 - 0.5) * np.log(0.6 / 0.5)
    assert float(psi(np.array([50, 50]), np.array([40, 60]))) == pytest.approx(expected)


def test_a_side_with_no_rows_gives_no_figure() -> None:
    assert np.isnan(psi(np.array([0, 0]), np.array([1, 2])))
    assert np.isnan(psi(np.array([1, 2]), np.array([0, 0])))
    rows = psi(np.array([[1, 2], [3, 4]]), np.array([[1, 2], [0, 0]]))
    assert rows[0] == 0.0
    assert np.isnan(rows[1])


def test_deciles_cut_a_continuous_feature_into_ten_equal_bins() -> None:
    x = np.arange(1000, dtype=np.float32)
    edges = quantile_edges(x)
    assert len(edges) == 9
    counts = BinLayout([edges]).counts(x[:, None])[0]
    assert counts[0] == 0  # nothing missing
    assert counts[1:].tolist() == [100] * 10


def test_a_feature_with_few_values_gets_few_bins_and_missing_values_their_own() -> None:
    x = np.array([0, 0, 0, 1, np.nan, np.nan], dtype=np.float32)
    edges = quantile_edges(x)
    assert edges.tolist() == [0.0, 1.0]
    counts = BinLayout([edges]).counts(x[:, None])[0]
    assert counts.tolist() == [2, 3, 1, 0]  # missing, up to 0, (0, 1], above 1
    assert float(missing_share(counts)) == pytest.approx(2 / 6)


def test_an_all_missing_feature_has_one_bin_and_no_drift_while_it_stays_missing() -> None:
    x = np.full(50, np.nan, dtype=np.float32)
    edges = quantile_edges(x)
    assert edges.size == 0
    reference = BinLayout([edges]).counts(x[:, None])
    assert reference.tolist() == [[50, 0]]
    assert float(missing_share(reference[0])) == 1.0
    live = BinLayout([edges]).counts(np.full((7, 1), np.nan))
    assert float(psi(reference[0], live[0])) == 0.0
    present = BinLayout([edges]).counts(np.ones((7, 1)))
    assert float(psi(reference[0], present[0])) > 0.2  # a feature that appears has drifted


def test_features_side_by_side_are_binned_each_by_its_own_edges() -> None:
    layout = BinLayout([np.array([1.0, 2.0]), np.array([10.0])])
    block = np.array([[0.5, 20.0], [1.5, np.nan], [2.5, 5.0], [2.0, 10.0]], dtype=np.float32)
    assert layout.counts(block).tolist() == [[0, 1, 2, 1], [1, 2, 1, 0]]


@given(arrays(np.float64, st.integers(1, 200), elements=st.floats(0, 1)))
def test_every_score_lands_in_one_of_ten_fixed_bins(scores: np.ndarray) -> None:
    counts = BinLayout([score_edges()]).counts(scores[:, None])[0]
    assert counts[0] == 0
    assert len(counts) == 11
    assert counts.sum() == len(scores)
    assert counts[10] == (scores > 0.9).sum()
