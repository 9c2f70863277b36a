"""Rules: ``scipy.signal.fftconvolve`` from its own spectra.

SciPy computes ``fftconvolve(in1, in2, mode, axes)`` as ``ifft(fft(in1) * fft(in2))`` at a
fast length ``L >= len(in1) + len(in2) - 1`` along each convolved axis (real transforms for
real inputs), cropped to ``mode``'s window. Under tracing, this module's rule computes
that value by the same calls in the same order (so it is SciPy's, bit for bit) and keeps
the two spectra ``A`` and ``B``. At ``L`` the convolution is circular without wrap-around,
so with ``g`` the cotangent placed in ``mode``'s window of a zero array of the transform
length and ``G = fft(g)``::

    in1's cotangent = ifft(G * conj(B)) cropped to in1's shape (summed over broadcast axes)
    in2's cotangent = ifft(G * conj(A)) cropped to in2's shape

(``rfft``/``irfft`` for real inputs; the scalings cancel). The backward pass is then one
forward transform and one inverse transform per differentiated input, on pullback's
engine: the general rule in :mod:`pullback.rules.signal` (an FFT convolution in ``"valid"``
mode per input) pays three per input. When both spectra are large and SciPy's own kernels
are in force, the two forward transforms run at once on two threads (SciPy runs them one
after the other, each on one thread for a one-dimensional signal); the kernels compute
each line the same way on any thread, so the value keeps SciPy's bits.

Anything else (traced values of an outer differentiation, a traced cotangent, other dtypes,
SciPy's error cases) takes the general rule, which this one extends.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import scipy.fft as sfft
import scipy.signal as S

from ..core import Pullback
from ..engines import fft as engine
from ..engines import workers
from .registry import FUNCTIONS, Rule, fit, register

try:  # SciPy's own steps (private): without them the general rule serves
    from scipy.fft._backend import _ScipyBackend
    from scipy.signal._signaltools import _apply_conv_mode, _init_freq_conv_axes
except ImportError:  # pragma: no cover - another SciPy layout
    _apply_conv_mode = _init_freq_conv_axes = _ScipyBackend = None

_DTYPES = frozenset(map(np.dtype, ("float32", "float64", "complex64", "complex128")))
_MODES = ("full", "same", "valid")
_CPUS = os.cpu_count() or 1
#: Both spectra have at least this many elements: they are computed on two threads.
CONCURRENT_SIZE = 1 << 16


def _arguments(in1, in2, mode="full", axes=None):
    return in1, in2, mode, axes


def _work(x, axes: list, fshape: list) -> int:
    """The number of elements of ``x``'s spectrum: ``fshape`` along ``axes``, ``x``'s shape elsewhere."""
    size = x.size
    for ax, n in zip(axes, fshape):
        size = size // x.shape[ax] * n
    return size


def _spectra(a, b, fshape: list, axes: list, real: bool):
    """``fft(a, fshape, axes)`` and ``fft(b, ...)`` as SciPy's fftconvolve computes them (two
    threads when both are large and SciPy's kernels are in force)."""
    fft = sfft.rfftn if real else sfft.fftn
    if (_CPUS > 1 and min(_work(a, axes, fshape), _work(b, axes, fshape)) >= CONCURRENT_SIZE
            and engine._default_backend_in_force()
            and workers.chosen() is None):  # not in a scipy.fft.set_workers context
        box: list = []

        def second():
            try:  # SciPy's default backend, called as the public function would call it
                box.append(_ScipyBackend.__ua_function__(fft, (b, fshape), {"axes": axes}))
            except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
                box.append(e)

        worker = threading.Thread(target=second, name="pullback-fftconvolve", daemon=True)
        worker.start()
        try:
            sp1 = fft(a, fshape, axes=axes)
        finally:
            worker.join()
        sp2 = box[0]
        if isinstance(sp2, BaseException):
            raise sp2
        return sp1, sp2
    return fft(a, fshape, axes=axes), fft(b, fshape, axes=axes)


class _SpectraPullback(Pullback):
    """``back(g)`` of fftconvolve: the cotangents from the kept spectra (see the module)."""

    __slots__ = ("rule", "argnums", "vals", "kwargs", "metas", "kept", "swapped", "axes", "fshape",
                 "full", "real")

    def __call__(self, g):
        if type(g) is not np.ndarray:  # a traced cotangent: the general rule's differentiable adjoints
            vjps, vals, kwargs = self.rule.vjps, self.vals, self.kwargs
            return tuple(fit(vjps[i](g, None, *vals, **kwargs), *m) for i, m in zip(self.argnums, self.metas))
        axes, fshape = self.axes, self.fshape
        # g in the window of the full convolution that mode kept, in a zero array of fft length
        shape = list(self.full)
        for k, ax in enumerate(axes):
            shape[ax] = fshape[k]
        emb = np.zeros(shape, dtype=g.dtype)
        emb[tuple(slice((f - n) // 2, (f - n) // 2 + n) for f, n in zip(self.full, g.shape))] = g
        s, ax_t = tuple(fshape), tuple(axes)
        if self.real:
            G = engine.r2c(emb, s, ax_t, None)
        else:
            G = engine.c2c(emb.astype(np.result_type(emb.dtype, np.complex64), copy=False), s, ax_t, None,
                           True, scratch=True)
        del emb
        cts = []
        for i, meta in zip(self.argnums, self.metas):
            own = i == 0
            if self.swapped:
                own = not own
            other = self.kept[1] if own else self.kept[0]  # the other operand's spectrum
            prod = np.conjugate(other)
            prod = np.multiply(prod, G, out=prod if prod.shape == G.shape else None)
            full = (engine.c2r(prod, s, ax_t, None, scratch=True) if self.real
                    else engine.c2c(prod, s, ax_t, None, False, scratch=True))
            shape_i = meta[0]
            crop = tuple(slice(0, shape_i[d]) if d in axes else slice(None) for d in range(full.ndim))
            cts.append(fit(full[crop], *meta))
        return tuple(cts)

    def __repr__(self) -> str:
        return "<pullback fftconvolve_spectra_vjp>"


class FFTConvolveRule(Rule):
    """The rule of ``scipy.signal.fftconvolve``: SciPy's value and its spectra, one pass each way."""

    __slots__ = ()

    def vjp(self, argnums, vals, kwargs, nested=True):
        if nested or _init_freq_conv_axes is None:
            return super().vjp(argnums, vals, kwargs, nested)
        try:
            in1, in2, mode, axes_arg = _arguments(*vals, **kwargs)
        except TypeError:
            return super().vjp(argnums, vals, kwargs, nested)
        if (type(in1) is not np.ndarray or type(in2) is not np.ndarray or in1.dtype not in _DTYPES
                or in2.dtype not in _DTYPES or in1.ndim != in2.ndim or in1.ndim == 0 or not in1.size
                or not in2.size or not isinstance(mode, str) or mode not in _MODES):
            return super().vjp(argnums, vals, kwargs, nested)
        a, b, axes = _init_freq_conv_axes(in1, in2, mode, axes_arg, sorted_axes=False)  # SciPy's errors
        if not axes:
            return super().vjp(argnums, vals, kwargs, nested)
        s1, s2 = a.shape, b.shape
        full = [max(s1[i], s2[i]) if i not in axes else s1[i] + s2[i] - 1 for i in range(a.ndim)]
        real = a.dtype.kind == "f" and b.dtype.kind == "f"
        fshape = [sfft.next_fast_len(full[ax], real) for ax in axes]
        sp1, sp2 = _spectra(a, b, fshape, axes, real)
        ret = (sfft.irfftn if real else sfft.ifftn)(sp1 * sp2, fshape, axes=axes)
        ret = ret[tuple(slice(n) for n in full)]
        ans = _apply_conv_mode(ret, s1, s2, mode, axes, xp=np)
        del ret
        back = _SpectraPullback()
        back.rule, back.argnums, back.vals, back.kwargs = self, argnums, vals, kwargs
        back.metas = [(vals[i].shape, vals[i].dtype) for i in argnums]
        back.swapped = a is not in1
        needs = {(i == 0) != back.swapped for i in argnums}  # True: a's cotangent (reads b's spectrum)
        back.kept = (sp1 if False in needs else None, sp2 if True in needs else None)
        back.axes, back.fshape, back.full, back.real = list(axes), fshape, full, real
        return ans, back


_general = FUNCTIONS[S.fftconvolve]
fftconvolve_rule = register(
    S.fftconvolve, FFTConvolveRule(_general.raw, _general.name, _general.vjps, _general.jvps), "rule")
