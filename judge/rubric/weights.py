"""Correlation-aware criterion weights: whitened-uniform, w proportional to Sigma^(-1/2) 1.

RRD (Shen et al., 2026, "Rethinking Rubric Generation...") bounds a rubric judge's error by
exp(-Delta^2 / 2V) with V = w' Sigma w: correlated criteria inflate V, so weighting them
uniformly over-counts whatever they share. Whitening the uniform vector scales each direction
of the criteria's covariance by 1/sqrt(its variance): two criteria that always agree together
weigh sqrt(2) times one independent criterion, where uniform weights would give them twice.

Departures from the paper, and why. RRD defines Sigma as the covariance of each criterion's
noise around its edge on labelled preference pairs (Z_k = Y_k - mu_k Y); refinement has a pool
of unlabelled responses, so Sigma here is the covariance of the pool's P(yes) (or pass/fail)
matrix, responses x criteria, plus a ridge. With that estimate, a criterion the judge answers
the same way for every pool response has a tiny variance, and Sigma^(-1/2) would hand it the
largest weight: a yes-biased judge (P(yes) ~1 everywhere) would let its constant answers
outweigh the one criterion that separates responses. In the paper's terms such a criterion has
no edge (mu_k ~ 0: it cannot order any pair), so it should carry nothing. Therefore criteria
whose pool standard deviation is below `min_std` are left out of the whitening and get weight 0
(a hard rule still caps the score when it fails: the cap does not depend on the weight); the
others are whitened among themselves. The covariance eigenvalues are also clipped from below at
a fraction of the largest, so a criterion that varies only a little cannot take almost all the
weight; negative weights are clipped to 0 and the rest normalised to sum to 1. With fewer than
`min_responses` responses the covariance is not estimable and the weights are uniform; when no
criterion varies, the weights are uniform and the explanation says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Weights:
    """Normalised weights (one per criterion, sum 1) and a sentence saying how they were made."""

    values: tuple[float, ...]
    explanation: str


def uniform_weights(count: int, reason: str) -> Weights:
    """Equal weights summing to 1."""
    return Weights(values=tuple([1.0 / count] * count), explanation=f"uniform: {reason}")


def whitened_uniform_weights(
    matrix: Sequence[Sequence[float | None]],
    *,
    ids: Sequence[str] | None = None,
    ridge: float = 1e-3,
    eigenvalue_floor: float = 0.05,
    min_responses: int = 4,
    min_std: float = 0.05,
    decimals: int = 6,
) -> Weights:
    """Whitened-uniform weights from a responses x criteria matrix of P(yes) (or 0/1) values.

    Missing values (failed evaluations) are replaced by the criterion's mean over the pool.

    Args:
        matrix: one row per pool response, one column per criterion.
        ids: criterion ids, named in the explanation when a weight is clipped to 0.
        ridge: added to the covariance's diagonal before the decomposition.
        eigenvalue_floor: eigenvalues below this fraction of the largest are raised to it.
        min_responses: with fewer rows the weights are uniform.
        min_std: criteria whose standard deviation over the pool is below this get weight 0.
        decimals: weights are rounded to this many decimals (stable fingerprints).
    """
    import numpy as np

    rows = len(matrix)
    columns = len(matrix[0]) if rows else 0
    if columns == 0:
        raise ValueError("no criteria to weight")
    if rows < min_responses:
        return uniform_weights(
            columns,
            f"a pool of {rows} responses is below the {min_responses} needed for a covariance",
        )
    data = np.array(
        [[np.nan if value is None else float(value) for value in row] for row in matrix],
        dtype=float,
    )
    means = np.nanmean(np.where(np.isnan(data).all(axis=0), 0.0, data), axis=0)
    data = np.where(np.isnan(data), means, data)
    names = list(ids) if ids is not None else [str(i) for i in range(columns)]
    spread = data.std(axis=0, ddof=1)
    varying = [i for i in range(columns) if spread[i] >= min_std]
    constant = [names[i] for i in range(columns) if spread[i] < min_std]
    if not varying:
        return uniform_weights(
            columns,
            f"no criterion varies over the {rows} pool responses (every standard deviation is "
            f"below {min_std:g})",
        )
    kept = data[:, varying]
    size = len(varying)
    sigma = np.atleast_2d(np.cov(kept, rowvar=False)) + ridge * np.eye(size)
    eigenvalues, eigenvectors = np.linalg.eigh(sigma)
    floor = max(float(eigenvalues.max()) * eigenvalue_floor, ridge)
    clipped = int((eigenvalues < floor).sum())
    eigenvalues = np.clip(eigenvalues, floor, None)
    inverse_root = eigenvectors @ np.diag(eigenvalues**-0.5) @ eigenvectors.T
    raw_kept = inverse_root @ np.ones(size)
    raw = np.zeros(columns)
    raw[varying] = raw_kept
    negative = [i for i in varying if raw[i] < 0]
    raw = np.clip(raw, 0.0, None)
    if raw.sum() <= 0:
        return uniform_weights(columns, "whitening left no positive weight")
    values = tuple(round(float(v), decimals) for v in raw / raw.sum())
    explanation = (
        f"whitened-uniform (RRD): w ~ Sigma^-1/2 * 1 over P(yes) of {rows} pool responses x "
        f"{columns} criteria; ridge {ridge:g}; {clipped} eigenvalue(s) raised to "
        f"{eigenvalue_floor:g} x the largest"
    )
    if constant:
        explanation += (
            f"; weight 0, no variation over the pool (standard deviation < {min_std:g}): "
            f"{', '.join(constant)}"
        )
    if negative:
        explanation += f"; clipped to 0: {', '.join(names[i] for i in negative)}"
    return Weights(values=values, explanation=explanation + "; normalised to sum 1")
