"""Nothing a user can reach ever changes behind their back (issue 22, property test).

Every array a user can reach is held — inputs, outputs, gradients from earlier calls, cotangents
passed to ``back``, ``has_aux`` values, constants closed over, and views of all of these — across
many gradient calls of every rule family, at sizes that take the in-place and block-cache paths
(2^18 elements, 2 MiB and more), and compared with copies taken when they were handed out.
"""

import numpy as np
import scipy.fft as sfft
import scipy.special as sc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pullback as pb
from pullback.engines import fft as fft_engine

N = 512  # x is N x N float64: 2 MiB, 2^18 elements
_rng = np.random.default_rng(7)
K = _rng.standard_normal((N, N // 2 + 1))  # constants closed over
A = _rng.standard_normal((N, 64))
IDX = _rng.integers(0, N, 300)


def elementwise(x):
    return np.sum(np.sin(x) * np.exp(0.1 * x) + x**2 - x / 3.0), x * 2.0


def reductions(x):
    loss = np.sum(np.mean(x, axis=0) ** 2) + np.max(x) + np.sum(np.cumsum(x, axis=1)[:, -1])
    return loss, np.sum(x, axis=1)


def indexing(x):
    return np.sum(x[::2, 1::3] ** 2) + np.sum(x[IDX] * 0.5) + np.sum(x[x > 1.0]), x[:, :7]


def shape_ops(x):
    y = np.concatenate([x.T, np.reshape(x, (N, N))[::-1]], axis=0)
    return np.sum(np.abs(y) ** 1.5) + np.sum(np.stack([x, x]) ** 2), y


def identity_like(x):
    return np.sum((x + 0.0) ** 2) + np.sum(x.copy() * x.reshape(-1)[: N * N].reshape(N, N)), x


def linalg(x):
    y = x @ A
    return np.sum(y**2) + np.linalg.norm(x[:64, :64] @ A[:64]), y


def fft(x):
    z = np.fft.fft(x + 0j)
    return np.sum(np.abs(z) ** 2) + np.sum(np.abs(np.fft.irfft2(np.fft.rfft2(x) * K, s=x.shape)) ** 3), z


def scipy_fft(x):
    d = sfft.dctn(x, type=2, norm="ortho")
    return np.sum(d**2 * 0.5) + np.sum(np.abs(sfft.ifft(sfft.fft(x) * 2.0)) ** 2), d


def special(x):
    e = sc.erf(x * 0.3)
    return np.sum(e * sc.expit(x)) + np.sum(sc.gammaln(np.abs(x) + 1.0)), e


def in_place(x):
    y = x * 1.0
    y[::2, 1:5] = x[:N // 2, :4] * 2.0  # writes through views, an element loop, ufunc.at, out=
    v = y.T
    v *= 0.5
    for i in range(0, N, 64):
        y[i, i] = x[i, 0] + y[i - 1, i]
    np.add.at(y, (IDX, IDX), x[0, :300])
    np.multiply(y[:, :8], 3.0, out=y[:, :8])
    return np.sum(y**2), v


FAMILIES = [elementwise, reductions, indexing, shape_ops, identity_like, linalg, fft, scipy_fft, special,
            in_place]


class Held:
    """Arrays the user holds, with the copies they are checked against."""

    def __init__(self):
        self.items = []

    def add(self, *arrays):
        """Hold ``arrays`` (and a view of each); returns the last one."""
        for a in arrays:
            if isinstance(a, np.ndarray):
                self.items.append((a, a.copy()))
                if a.ndim:  # and a view of it
                    v = a[..., ::3]
                    self.items.append((v, v.copy()))
        return arrays[-1]

    def check(self, where):
        for k, (a, c) in enumerate(self.items):
            assert np.array_equal(a, c, equal_nan=True), f"a held array changed ({where}, #{k})"


CONSTANTS = [K, A, IDX]


MODES = ["gradient", "pullback", "aux", "grad2"]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(FAMILIES), st.sampled_from(MODES), st.booleans()),
                min_size=4, max_size=6),
       st.sampled_from(fft_engine.installed_engines()))
def test_nothing_a_user_can_reach_ever_changes(steps, engine):
    previous = fft_engine.set_engine(engine)
    try:
        _steps(steps)
    finally:
        fft_engine.set_engine(previous)


def _steps(steps):
    held = Held()
    held.add(*CONSTANTS)
    x = np.random.default_rng(len(steps)).standard_normal((N, N))
    held.add(x)
    for family, mode, step in steps:
        where = f"{family.__name__} {mode}"
        if mode == "gradient":
            (g,) = pb.gradient(lambda x: family(x)[0], x)
            last = held.add(g)
        elif mode == "aux":
            (value, aux), g = pb.value_and_grad(family, has_aux=True)(x)
            last = held.add(np.asarray(value), aux, g)
        elif mode == "grad2":  # two arguments whose gradients meet in an add
            gx, gy = pb.grad(lambda x, y: family(x + y)[0], argnums=(0, 1))(x, x * 0.5)
            assert not np.shares_memory(gx, gy)
            last = held.add(gy, gx)
        else:
            (value, aux), back = pb.pullback(family, x)
            held.add(np.asarray(value), aux)
            ct_value = np.ones(())
            ct_aux = np.full(np.shape(aux), 0.5, dtype=np.result_type(aux))
            held.add(ct_aux)
            (g,) = back((ct_value, ct_aux))
            (g2,) = back((ct_value, ct_aux))  # twice, with the same cotangent
            np.testing.assert_array_equal(g, g2)
            last = held.add(g, g2)
        held.check(where)
        if step:  # an optimiser step, in place, on the newest gradient: the user's own array
            last *= 0.5
            held.items = [(h, h.copy() if h is last or h.base is last else c) for h, c in held.items]
            held.check(where + " after an in-place step on its gradient")  # nothing else changed
