"""Rules: shape manipulation (reshape, transpose, broadcasting, joining, ...)."""

from __future__ import annotations

import numpy as np

from .registry import deflinear


def reshape_adjoint(g, shape, dtype, *args, **kwargs):
    return np.reshape(g, shape)


deflinear(np.reshape, reshape_adjoint)


def broadcast_to_adjoint(g, shape, dtype, target_shape, subok=False):
    return g  # fit() sums over the broadcast axes


deflinear(np.broadcast_to, broadcast_to_adjoint)


def transpose_adjoint(g, shape, dtype, axes=None):
    if axes is None:
        return np.transpose(g)
    return np.transpose(g, np.argsort([a % len(shape) for a in axes]))


deflinear(np.transpose, transpose_adjoint)
