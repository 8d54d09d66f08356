"""Small numerical fitters (numpy only): inverse temperature, logistic regression, isotonic PAV."""

from __future__ import annotations

import numpy as np

from judge.calibration._checks import FloatArray

LOGIT_CLIP = 1e-6
"""Probabilities are clipped to [1e-6, 1 - 1e-6] before taking log-odds (|logit| <= 13.8)."""

MAX_INVERSE_TEMPERATURE = 100.0


def logit(p: FloatArray) -> FloatArray:
    """Log-odds of probabilities, clipped so that 0 and 1 stay finite."""
    clipped = np.clip(p, LOGIT_CLIP, 1.0 - LOGIT_CLIP)
    return np.asarray(np.log(clipped) - np.log1p(-clipped), dtype=np.float64)


def sigmoid(z: FloatArray) -> FloatArray:
    """The logistic function, without overflow warnings for large |z|."""
    out = np.empty_like(z, dtype=np.float64)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    exp_z = np.exp(z[~positive])
    out[~positive] = exp_z / (1.0 + exp_z)
    return out


def _softplus(x: FloatArray) -> FloatArray:
    return np.asarray(np.logaddexp(0.0, x), dtype=np.float64)


def fit_inverse_temperature(z: FloatArray, y: FloatArray) -> float:
    """The a >= 0 minimising the NLL of sigmoid(a * z) against labels `y` (temperature 1/a).

    The NLL is convex in `a`, so a bisection on its derivative over [0, MAX] finds the optimum;
    the result is capped at `MAX_INVERSE_TEMPERATURE` when the data are separable.
    """
    sign = 2.0 * y - 1.0

    def slope(a: float) -> float:
        return float(np.mean(-sign * z * sigmoid(-sign * a * z)))

    low, high = 0.0, MAX_INVERSE_TEMPERATURE
    if slope(low) >= 0.0:
        return 0.0
    if slope(high) <= 0.0:
        return high
    for _ in range(100):
        middle = (low + high) / 2.0
        if slope(middle) < 0.0:
            low = middle
        else:
            high = middle
        if high - low < 1e-10:
            break
    return (low + high) / 2.0


def fit_logistic(
    features: FloatArray, targets: FloatArray, *, ridge: float = 1e-6, max_iter: int = 100
) -> FloatArray:
    """Weights (intercept first) of a logistic regression by Newton's method with step halving.

    `targets` may be soft labels in [0, 1] (Platt's smoothed targets). A small ridge penalty on
    the non-intercept weights keeps separable data finite.
    """
    design = np.column_stack([np.ones(features.shape[0]), features])
    weights = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], ridge)
    penalty[0] = 0.0

    def loss(w: FloatArray) -> float:
        margin = design @ w
        nll = np.mean(_softplus(margin) - targets * margin)
        return float(nll + 0.5 * np.sum(penalty * w * w))

    current = loss(weights)
    for _ in range(max_iter):
        prob = sigmoid(design @ weights)
        gradient = design.T @ (prob - targets) / design.shape[0] + penalty * weights
        curvature = prob * (1.0 - prob)
        hessian = (design.T * curvature) @ design / design.shape[0] + np.diag(penalty + 1e-12)
        step = np.linalg.solve(hessian, gradient)
        scale = 1.0
        while scale > 1e-8:
            candidate = weights - scale * step
            new = loss(candidate)
            if new <= current:
                break
            scale /= 2.0
        else:
            break
        converged = current - new < 1e-12
        weights, current = candidate, new
        if converged:
            break
    return weights


def fit_isotonic(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Non-decreasing least-squares fit of `y` on `x` by pool-adjacent-violators.

    Returns the knots (x, fitted value) of the step function: for each pooled block its smallest
    and largest x, so that linear interpolation between knots reproduces the fit on the data.
    """
    unique_x, inverse = np.unique(x, return_inverse=True)
    weight = np.bincount(inverse).astype(np.float64)
    mean_y = np.bincount(inverse, weights=y) / weight
    values: list[float] = []
    weights: list[float] = []
    starts: list[int] = []
    for index, (value, w) in enumerate(zip(mean_y, weight, strict=True)):
        values.append(float(value))
        weights.append(float(w))
        starts.append(index)
        while len(values) > 1 and values[-2] > values[-1]:
            merged_weight = weights[-2] + weights[-1]
            merged = (values[-2] * weights[-2] + values[-1] * weights[-1]) / merged_weight
            values[-2:] = [merged]
            weights[-2:] = [merged_weight]
            starts.pop()
    ends = [*starts[1:], unique_x.size]
    knots_x: list[float] = []
    knots_y: list[float] = []
    for value, start, end in zip(values, starts, ends, strict=True):
        knots_x.append(float(unique_x[start]))
        knots_y.append(value)
        if end - 1 > start:
            knots_x.append(float(unique_x[end - 1]))
            knots_y.append(value)
    return np.asarray(knots_x), np.asarray(knots_y)
