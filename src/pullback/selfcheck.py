"""The adjoint self-check behind ``python -m pullback check``.

Every linear rule (a :class:`~pullback.rules.registry.LinearRule`: the FFT
family of ``numpy.fft`` and ``scipy.fft`` with DCT/DST and the fast Hankel
transform, shapes and indexing, reductions, linear filters, ...) is run at small
sizes through :func:`pullback.testing.check_adjoint` on *this* install: its
adjoint must equal the transpose of the dense matrix built from the forward
function, with the FFT engine in force (:func:`pullback.get_engine`). Bilinear
functions (convolutions, ``lfilter``) are checked in each argument. Odd, even
and prime lengths, padding and cropping, every ``norm`` and real and complex
inputs are covered.

:func:`run` also records which linear rules the cases reached, so that a rule
with no case shows up as *unchecked* (the test suite requires none).

Examples
--------
>>> from pullback import selfcheck
>>> report = selfcheck.run(only="numpy.fft.rfft")
>>> report.failed, report.passed > 0
(0, True)
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
from collections.abc import Callable, Iterator

import numpy as np
import scipy.fft as sfft

from .rules.registry import LinearRule
from .testing import check_adjoint

NORMS = (None, "backward", "ortho", "forward")


@dataclasses.dataclass
class Case:
    """One adjoint check: ``f`` is linear in its single argument ``x``."""

    label: str
    f: Callable
    x: np.ndarray


@dataclasses.dataclass
class Report:
    """What :func:`run` found."""

    passed: int = 0
    failed: int = 0
    failures: list = dataclasses.field(default_factory=list)
    reached: set = dataclasses.field(default_factory=set)
    unchecked: list = dataclasses.field(default_factory=list)


def _rand(*shape, complex_=False, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if complex_:
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(np.result_type(dtype, x.dtype) if complex_ else dtype)


def _fft_cases(mod, prefix: str) -> Iterator[Case]:
    """c2c, r2c, c2r and Hermitian transforms: every norm, n padding and cropping, axes."""
    x56, z56 = _rand(5, 6), _rand(5, 6, complex_=True, seed=1)
    x7, z7 = _rand(7, seed=2), _rand(7, complex_=True, seed=3)
    one_d = {"fft": z56, "ifft": z56, "rfft": x56, "irfft": z56, "hfft": z56, "ihfft": x56}
    for name, x in one_d.items():
        f = getattr(mod, name)
        for norm in NORMS:
            yield Case(f"{prefix}.{name} norm={norm}", lambda v, f=f, norm=norm: f(v, norm=norm), x)
        for n in (4, 9):  # crop, pad (odd and even output lengths)
            yield Case(f"{prefix}.{name} n={n} axis=0", lambda v, f=f, n=n: f(v, n, axis=0), x)
    for name, x in {"fft": z7, "rfft": x7, "irfft": z7, "ihfft": x7}.items():  # prime length
        f = getattr(mod, name)
        yield Case(f"{prefix}.{name} n=7", lambda v, f=f: f(v, 7), x)
    z345, x345 = _rand(3, 4, 5, complex_=True, seed=4), _rand(3, 4, 5, seed=5)
    n_d = {"fftn": z345, "ifftn": z345, "rfftn": x345, "irfftn": z345,
           "fft2": z345, "ifft2": z345, "rfft2": x345, "irfft2": z345}
    for name, x in n_d.items():
        f = getattr(mod, name)
        for norm in NORMS:
            yield Case(f"{prefix}.{name} norm={norm}", lambda v, f=f, norm=norm: f(v, norm=norm), x)
        yield Case(f"{prefix}.{name} s=(3, 6) axes=(0, 2)",
                   lambda v, f=f: f(v, s=(3, 6), axes=(0, 2)), x)
    if hasattr(mod, "hfftn"):
        for name, x in {"hfftn": z345, "ihfftn": x345, "hfft2": z345, "ihfft2": x345}.items():
            f = getattr(mod, name)
            for norm in NORMS:
                yield Case(f"{prefix}.{name} norm={norm}", lambda v, f=f, norm=norm: f(v, norm=norm), x)
    for name, x in {"fft": z56, "ifft": z56, "rfft": x56, "irfft": z56}.items():  # single precision
        f = getattr(mod, name)
        low = x.astype(np.complex64 if x.dtype.kind == "c" else np.float32)
        yield Case(f"{prefix}.{name} float32", lambda v, f=f: f(v, 8, norm="ortho"), low)
    for name in ("fftshift", "ifftshift"):
        f = getattr(mod, name)
        yield Case(f"{prefix}.{name}", f, z56)
        yield Case(f"{prefix}.{name} axes=1", lambda v, f=f: f(v, axes=1), x345)
    if mod is np.fft:
        from .rules import fft as fftr

        yield Case("fft.resize (crop and pad)", lambda v: fftr.resize(v, (0, 1), (3, 8)), z56)


def _r2r_cases() -> Iterator[Case]:
    """DCT/DST of the four types, every norm, orthogonalize, n, the N-d forms; fht/ifht."""
    x6, x7 = _rand(6, seed=6), _rand(7, complex_=True, seed=7)
    x34 = _rand(3, 4, seed=8)
    for name in ("dct", "idct", "dst", "idst"):
        f = getattr(sfft, name)
        for t in (1, 2, 3, 4):
            for norm in NORMS:
                for x in (x6, x7):
                    yield Case(f"scipy.fft.{name} type={t} norm={norm} n={x.size}",
                               lambda v, f=f, t=t, norm=norm: f(v, t, norm=norm), x)
            yield Case(f"scipy.fft.{name} type={t} ortho orthogonalize=False",
                       lambda v, f=f, t=t: f(v, t, norm="ortho", orthogonalize=False), x6)
            yield Case(f"scipy.fft.{name} type={t} n=9", lambda v, f=f, t=t: f(v, t, n=9), x6)
            yield Case(f"scipy.fft.{name} type={t} n=4", lambda v, f=f, t=t: f(v, t, n=4), x6)
    for name in ("dctn", "idctn", "dstn", "idstn"):
        f = getattr(sfft, name)
        for t in (1, 2, 3, 4):
            yield Case(f"scipy.fft.{name} type={t} ortho", lambda v, f=f, t=t: f(v, t, norm="ortho"), x34)
            yield Case(f"scipy.fft.{name} type={t} s=(5, 3)", lambda v, f=f, t=t: f(v, t, s=(5, 3)), x34)
    a = _rand(16, seed=9)
    for name in ("fht", "ifht"):
        f = getattr(sfft, name)
        yield Case(f"scipy.fft.{name}", lambda v, f=f: f(v, dln=0.1, mu=0.5, offset=0.2, bias=0.3), a)


def _array_cases() -> Iterator[Case]:
    """Shapes, indexing, reductions and dtype changes."""
    from .rules import indexing, shape, views

    x = _rand(3, 4, seed=10)
    yield Case("0-d array of a scalar", lambda v: views._zero_d(np.sum(v)), x)
    z = _rand(3, 4, complex_=True, seed=11)
    yield Case("astype complex128", lambda v: v.astype(np.complex128), x)
    yield Case("astype float32", lambda v: v.astype(np.float32), x)
    yield Case("getitem slice", lambda v: v[1:, ::2], z)
    yield Case("getitem fancy (repeated)", lambda v: v[[0, 2, 2], 1:], x)
    yield Case("getitem element", lambda v: v[1, 2], x)
    yield Case("scatter_add", lambda v: indexing.scatter(v, (3, 4), v.dtype, ([0, 2, 2], [1, 1, 3])),
               _rand(3, seed=12))
    yield Case("numpy.sum axis=0", lambda v: np.sum(v, axis=0), z)
    yield Case("numpy.sum keepdims", lambda v: np.sum(v, axis=1, keepdims=True), x)
    yield Case("numpy.cumsum", lambda v: np.cumsum(v, axis=1), z)
    yield Case("numpy.reshape", lambda v: np.reshape(v, (2, 6), order="F"), x)
    yield Case("numpy.expand_dims", lambda v: np.expand_dims(v, 1), x)
    yield Case("numpy.squeeze", np.squeeze, _rand(3, 1, 4, seed=13))
    yield Case("numpy.broadcast_to", lambda v: np.broadcast_to(v, (2, 3, 4)), x[:1])
    yield Case("numpy.transpose", np.transpose, _rand(2, 3, 4, seed=14))
    yield Case("numpy.moveaxis", lambda v: np.moveaxis(v, 0, -1), _rand(2, 3, 4, seed=14))
    yield Case("numpy.swapaxes", lambda v: np.swapaxes(v, 0, 2), _rand(2, 3, 4, seed=14))
    for f in (np.flip, np.fliplr, np.flipud, np.rot90):
        yield Case(f"numpy.{f.__name__}", f, z)
    yield Case("numpy.roll", lambda v: np.roll(v, 5, axis=1), x)
    yield Case("numpy.diagonal", lambda v: np.diagonal(v, 1), x)
    yield Case("numpy.diag (extract)", np.diag, x)
    yield Case("numpy.diag (build)", lambda v: np.diag(v, -1), _rand(4, seed=15))
    yield Case("numpy.triu", lambda v: np.triu(v, 1), z)
    yield Case("numpy.tril", np.tril, x)
    yield Case("numpy.pad reflect", lambda v: np.pad(v, ((1, 2), (3, 0)), mode="reflect"), x)
    yield Case("numpy.pad wrap", lambda v: np.pad(v, 2, mode="wrap"), x)
    yield Case("numpy.bincount", lambda v: np.bincount([0, 3, 3, 1], weights=v, minlength=6),
               _rand(4, seed=16))
    yield Case("sliding_window_view",
               lambda v: np.lib.stride_tricks.sliding_window_view(v, 3, axis=1), x)
    perm = np.argsort(_rand(3, 4, seed=17), axis=1)
    yield Case("permute_along_axis", lambda v: shape._permute(v, perm, 1), x)
    yield Case("unpermute_along_axis", lambda v: shape._unpermute(v, perm, 1), z)


def _scipy_cases() -> Iterator[Case]:
    """Linear filters of scipy.ndimage and scipy.signal; bilinear ones in each argument."""
    import scipy.ndimage as nd
    import scipy.signal as S

    from .rules import ndimage as ndr

    img = _rand(5, 6, seed=20)
    for mode in ("reflect", "constant", "nearest", "mirror", "wrap"):
        yield Case(f"scipy.ndimage.gaussian_filter1d mode={mode}",
                   lambda v, m=mode: nd.gaussian_filter1d(v, 1.2, axis=0, mode=m), img)
        yield Case(f"scipy.ndimage.uniform_filter1d mode={mode}",
                   lambda v, m=mode: nd.uniform_filter1d(v, 3, axis=1, mode=m), img)
    yield Case("scipy.ndimage.<boundary fold>",
               lambda v: ndr.fold(v, 5, 0, 2, 3, "reflect"), _rand(10, 3, seed=21))
    yield Case("scipy.ndimage.spline_filter1d", lambda v: nd.spline_filter1d(v, 3, axis=1), img)
    z = _rand(5, 6, complex_=True, seed=22)
    yield Case("scipy.ndimage.fourier_gaussian", lambda v: nd.fourier_gaussian(v, 1.5), z)
    yield Case("scipy.ndimage.fourier_uniform", lambda v: nd.fourier_uniform(v, 2.0), z)
    yield Case("scipy.ndimage.fourier_ellipsoid", lambda v: nd.fourier_ellipsoid(v, 2.0), z)
    x9, k3 = _rand(9, seed=23), _rand(3, complex_=True, seed=24)
    yield Case("scipy.signal.detrend", lambda v: S.detrend(v, bp=[4]), x9)
    for name in ("fftconvolve", "convolve", "correlate", "oaconvolve"):
        f = getattr(S, name)
        for mode in ("full", "same", "valid"):
            yield Case(f"scipy.signal.{name} {mode} (signal)", lambda v, f=f, m=mode: f(v, k3, m), x9)
            yield Case(f"scipy.signal.{name} {mode} (kernel)", lambda v, f=f, m=mode: f(x9, v, m), k3)
    b, a = S.butter(3, 0.3)
    yield Case("scipy.signal.lfilter (x)", lambda v: S.lfilter(b, a, v), x9)
    yield Case("scipy.signal.lfilter (b)", lambda v: S.lfilter(v, a, x9), b)
    sos = S.butter(4, 0.3, output="sos")
    x2 = _rand(2, 13, seed=25)
    yield Case("scipy.signal.sosfilt (x)", lambda v: S.sosfilt(sos, v), x2)
    for padtype in ("odd", "even", "constant", None):
        yield Case(f"scipy.signal.sosfiltfilt padtype={padtype}",
                   lambda v, p=padtype: S.sosfiltfilt(sos, v, padtype=p, padlen=4), x2)
    yield Case("scipy.signal.sosfiltfilt (axis 0, complex)", lambda v: S.sosfiltfilt(sos, v, axis=0),
               _rand(31, 2, complex_=True, seed=26))
    for padtype in ("odd", "even", "constant", None):
        yield Case(f"scipy.signal.filtfilt padtype={padtype}",
                   lambda v, p=padtype: S.filtfilt(b, a, v, padtype=p, padlen=5), x2)
    yield Case("scipy.signal.filtfilt (axis 0, complex)", lambda v: S.filtfilt(b, a, v, axis=0),
               _rand(13, 2, complex_=True, seed=27))
    yield from _framing_cases()


def _framing_cases() -> Iterator[Case]:
    """The STFT's windowed framing and istft's windowed overlap-add (each the other's adjoint), in
    blocks of 2 segments so that the block seams are crossed: padding, a divisor, overlaps of 1/2
    and 3/4, complex windows."""
    from .rules import signal_spectral as sp

    def blocks_of_2(f):
        def run(v):
            old, sp._BLOCK = sp._BLOCK, 2
            try:
                return f(v)
            finally:
                sp._BLOCK = old
        return run

    w7, wz = _rand(7, seed=25) + 2, _rand(7, complex_=True, seed=26)
    x2 = _rand(2, 11, seed=27)
    norm = np.abs(_rand(16, seed=28)) + 0.5
    frames = _rand(2, 5, 7, complex_=True, seed=29)
    for step, lo, hi in ((3, 2, 3), (2, 0, 0), (7, 1, 0)):
        yield Case(f"scipy.signal.<windowed frames> step={step} pad=({lo},{hi})",
                   blocks_of_2(lambda v, s=step, lo=lo, hi=hi: sp._wframes(v, 7, s, lo, hi, window=w7)), x2)
        yield Case(f"scipy.signal.<windowed overlap-add> step={step} crop=({lo},{20 - hi})",
                   blocks_of_2(lambda v, s=step, lo=lo, hi=hi: sp._wola(v, s, lo, 20 - hi, window=wz)),
                   frames)
    yield Case("scipy.signal.<windowed frames> divided",
               blocks_of_2(lambda v: sp._wframes(v, 7, 2, 3, 2, window=wz, norm=norm[:11])), x2 + 0j)
    yield Case("scipy.signal.<windowed overlap-add> divided",
               blocks_of_2(lambda v: sp._wola(v, 2, 1, 17, window=w7, norm=norm)), frames)
    yield Case("scipy.signal.<windowed frames> no window", lambda v: sp._wframes(v, 4, 3, 1, 1), x2)
    yield Case("scipy.signal.<moveaxis>", lambda v: sp._move(v, (0, 2), (-1, 0)), frames)


def cases() -> list[Case]:
    """Every case of the self-check."""
    return [*_fft_cases(np.fft, "numpy.fft"), *_fft_cases(sfft, "scipy.fft"), *_r2r_cases(),
            *_array_cases(), *_scipy_cases()]


def linear_rules() -> set[str]:
    """The names of every linear rule registered (the rule families must be loaded)."""
    return {o.name for o in gc.get_objects() if isinstance(o, LinearRule)}


@contextlib.contextmanager
def _recording(names: set) -> Iterator[None]:
    vjp, jvp = LinearRule.vjp, LinearRule.jvp

    def recording_vjp(self, *args, **kwargs):
        names.add(self.name)
        return vjp(self, *args, **kwargs)

    def recording_jvp(self, *args, **kwargs):
        names.add(self.name)
        return jvp(self, *args, **kwargs)

    LinearRule.vjp, LinearRule.jvp = recording_vjp, recording_jvp
    try:
        yield
    finally:
        LinearRule.vjp, LinearRule.jvp = vjp, jvp


def run(only: str | None = None, verbose: bool = False, print_: Callable = print) -> Report:
    """Run every case (or those whose label contains ``only``); return a :class:`Report`.

    Each failure is printed as it happens; with ``verbose`` every case is.
    """
    report = Report()
    with _recording(report.reached):
        for case in cases():
            if only and only not in case.label:
                continue
            try:
                check_adjoint(case.f, case.x)
            except AssertionError as e:
                report.failed += 1
                report.failures.append(case.label)
                print_(f"FAIL {case.label}: {str(e).strip().splitlines()[0]}")
            else:
                report.passed += 1
                if verbose:
                    print_(f"ok   {case.label}")
    if not only:
        report.unchecked = sorted(linear_rules() - report.reached)
    return report
