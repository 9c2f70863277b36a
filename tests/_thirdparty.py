"""A stand-in for another library: a plain Python function NumPy does not dispatch."""

import numpy as np


def softplus(x):
    return np.log1p(np.exp(np.asarray(x)))
