"""scipy.linalg solves and special matrices: finite differences (reverse, forward, second order),
dense adjoints of the linear maps, values bit-equal to SciPy's, and the shared helpers."""

import numpy as np
import pytest
import scipy.linalg as SL
from hypothesis import given, settings
from hypothesis import strategies as st

import pullback as pb
from pullback.errors import NoRuleError
from pullback.rules.scipy_linalg import ORIGINALS
from pullback.testing import check_adjoint, check_gradient

from .cases import case_id, check_float32, rand


def K(name):
    """The registry key of ``scipy.linalg.<name>`` (the function SciPy defined)."""
    return ORIGINALS[name]


def spd(*shape, dtype=float, seed=None):
    """A well-conditioned Hermitian positive definite matrix (or stack), ``shape`` (..., n)."""
    x = rand(*shape, shape[-1], dtype=dtype, seed=seed)
    return x @ np.conj(np.swapaxes(x, -1, -2)) + shape[-1] * np.eye(shape[-1])


def second(f, argnum=0):
    """``x -> grad(<w, f(x)>)``: its derivative checks the second order."""

    def grad_of(*args):
        size = np.size(f(*[pb.stop_gradient(a) for a in args]))
        w = np.cos(np.arange(size) + 0.5)

        def scalar(*a):
            return np.sum(np.real(np.ravel(f(*a))) * w)

        return pb.grad(scalar, argnum)(*args)

    return grad_of


def same_value(f, *args, exact=True):
    """The traced value is SciPy's, bit for bit (``exact``), with SciPy's type and shape.

    ``exact=False`` for losses built on a decomposition with products: BLAS may round a
    product of the same numbers differently at another memory alignment (a view into the
    packed outputs), so those agree to rounding.
    """
    want = f(*args)
    got = pb.pullback(f, *args)[0]
    pairs = zip(got, want) if isinstance(want, tuple) else [(got, want)]
    if isinstance(want, tuple):
        assert type(got) is tuple and len(got) == len(want)
    for g, w in pairs:
        if exact:
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-14)
        assert np.result_type(g) == np.result_type(w) and np.shape(g) == np.shape(w)


S4, B4, B42, v4 = spd(4, seed=1), rand(4, 4, seed=2) + 4 * np.eye(4), rand(4, 2, seed=3), rand(4, seed=4)
Z4 = spd(4, dtype=complex, seed=5)
ZB42 = rand(4, 2, dtype=complex, seed=6)
SB = spd(2, 3, seed=7)
AB = rand(3, 5, seed=8)
AB[1] += 4  # (1, 1) bands, diagonally dominant
HB = rand(2, 5, seed=9) * 0.3
HB[1] += 3  # upper storage, one off-diagonal
c5, r5 = rand(5, seed=10) + np.eye(5)[0] * 4, rand(5, seed=11)

CASES = [
    (K("toeplitz"), SL.toeplitz, (v4, rand(3, seed=12))),
    (K("toeplitz"), SL.toeplitz, (rand(3, dtype=complex, seed=13),)),
    (K("toeplitz"), SL.toeplitz, (rand(2, 3, seed=14), rand(2, 4, seed=15))),
    (K("circulant"), SL.circulant, (v4,)),
    (K("circulant"), SL.circulant, (rand(2, 3, dtype=complex, seed=16),)),
    (K("hankel"), SL.hankel, (v4, rand(3, seed=17))),
    (K("hankel"), SL.hankel, (rand(3, dtype=complex, seed=18),)),
    (K("block_diag"), SL.block_diag, (B42, v4, rand(2, 3, dtype=complex, seed=19))),
    (K("block_diag"), SL.block_diag, (rand(2, 2, 2, seed=20), rand(1, 3, seed=21))),
    (K("solve"), SL.solve, (B4, v4)),
    (K("solve"), lambda a, b: SL.solve(a, b, assume_a="pos", lower=True), (S4, B42)),
    (K("solve"), lambda a, b: SL.solve(a, b, assume_a="her"), (Z4, ZB42)),
    (K("solve"), lambda a, b: SL.solve(a, b, assume_a="sym", transposed=True), (S4, v4)),
    (K("solve"), lambda a, b: SL.solve(a, b, assume_a="tridiagonal"), (Z4, v4)),
    (K("solve"), SL.solve, (SB, rand(2, 3, 2, seed=22))),
    (K("solve"), SL.solve, (SB, rand(3, seed=23))),
    (K("solve_triangular"), SL.solve_triangular, (B4, v4)),
    (K("solve_triangular"), lambda a, b: SL.solve_triangular(a, b, trans="C", lower=True), (Z4, ZB42)),
    (K("solve_triangular"), lambda a, b: SL.solve_triangular(a, b, trans=1, unit_diagonal=True), (B4, B42)),
    (K("solve_triangular"), SL.solve_triangular, (SB, rand(2, 3, 2, seed=24))),
    (K("solve_banded"), lambda ab, b: SL.solve_banded((1, 1), ab, b), (AB, rand(5, seed=25))),
    (K("solve_banded"), lambda ab, b: SL.solve_banded((1, 1), ab, b), (AB + 0.5j, rand(5, 2, seed=26))),
    (K("solveh_banded"), SL.solveh_banded, (HB, rand(5, seed=27))),
    (K("solveh_banded"), lambda ab, b: SL.solveh_banded(ab, b, lower=True),
     (HB[::-1] + 0.1j, rand(5, 2, seed=28))),
    (K("solve_toeplitz"), lambda c, r, b: SL.solve_toeplitz((c, r), b), (c5, r5, rand(5, seed=29))),
    (K("solve_toeplitz"), SL.solve_toeplitz, (c5 + 0.3j, rand(5, 2, seed=30))),
    (K("solve_circulant"), SL.solve_circulant, (c5, rand(5, 2, seed=31))),
    (K("solve_circulant"), SL.solve_circulant, (c5 + 0.2j, rand(5, seed=32))),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_values_are_scipys_bit_for_bit(case):
    _, f, args = case
    same_value(f, *args)


@pytest.mark.parametrize("assume", [None, "gen", "sym", "her", "pos", "diagonal", "tridiagonal",
                                    "upper triangular", "lower triangular", "banded"])
@pytest.mark.parametrize("lower", [False, True])
def test_solve_every_structure(assume, lower):
    def f(a, b):
        return SL.solve(a, b, assume_a=assume, lower=lower)

    def ft(a, b):
        return SL.solve(a, b, assume_a=assume, lower=lower, transposed=True)

    check_gradient(f, S4, B42)
    check_gradient(ft, S4, v4)
    if assume not in ("sym", "symmetric"):  # complex 'sym' is symmetric, not Hermitian: any a
        check_gradient(f, Z4, ZB42)
    same_value(f, S4, B42)


@pytest.mark.parametrize("trans", [0, 1, 2, "N", "T", "C"])
@pytest.mark.parametrize("lower", [False, True])
@pytest.mark.parametrize("unit", [False, True])
def test_solve_triangular_options(trans, lower, unit):
    def f(a, b):
        return SL.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit)

    check_gradient(f, B4, B42)
    check_gradient(f, Z4, ZB42[:, 0])


@pytest.mark.parametrize(("lo", "up"), [(1, 1), (2, 1), (0, 2), (1, 0)])
def test_solve_banded_bands(lo, up):
    ab = rand(lo + up + 1, 6, seed=lo + 3 * up)
    ab[up] += 6
    check_gradient(lambda a, b: SL.solve_banded((lo, up), a, b), ab, rand(6, 2, seed=1))
    check_gradient(lambda a, b: SL.solve_banded((lo, up), a, b), ab + 0.3j, rand(6, seed=2))


def test_solve_banded_as_autograd_calls_it():
    # autograd's tests/test_scipy.py: combo_check(spla.solve_banded, [1, 2])([(1, 1)], [R(3, 5)], [R(5)])
    rng = np.random.default_rng(1)
    l_and_u, ab, b = (1, 1), rng.standard_normal((3, 5)), rng.standard_normal(5)
    g_ab, g_b = pb.grad(lambda ab, b: np.sum(SL.solve_banded(l_and_u, ab, b) ** 2), (0, 1))(ab, b)
    assert g_ab.shape == ab.shape and g_b.shape == b.shape
    check_gradient(lambda ab, b: SL.solve_banded(l_and_u, ab, b), ab, b)


def test_linear_maps_match_their_dense_adjoints():
    z5 = np.zeros(5)  # the other argument zero: a linear map (r[0] is not read)
    check_adjoint(lambda c: SL.toeplitz(c, z5), c5)
    check_adjoint(lambda r: SL.toeplitz(z5, r), r5 + 0j)
    check_adjoint(SL.toeplitz, rand(4, dtype=complex))  # r = conj(c): real-linear only
    check_adjoint(SL.circulant, rand(4, dtype=complex))
    check_adjoint(lambda c: SL.hankel(c, z5), c5)
    check_adjoint(lambda r: SL.hankel(z5, r), r5)
    check_adjoint(lambda x: SL.block_diag(0 * B42, x, 0 * v4), rand(2, 3, dtype=complex))
    check_adjoint(lambda b: SL.solve(B4, b), B42)
    check_adjoint(lambda b: SL.solve(Z4, b, assume_a="her"), ZB42)
    check_adjoint(lambda b: SL.solve_triangular(Z4, b, trans="T", lower=True), ZB42)
    check_adjoint(lambda b: SL.solve_banded((1, 1), AB + 0.5j, b), ZB42[:, 0].repeat(2)[:5])
    check_adjoint(lambda b: SL.solveh_banded(HB, b), rand(5, 2))
    check_adjoint(lambda b: SL.solve_toeplitz((c5 + 1j, r5), b), rand(5, dtype=complex))
    check_adjoint(lambda b: SL.solve_circulant(c5, b), rand(5, 2, dtype=complex))


@pytest.mark.parametrize(
    ("f", "args"),
    [
        (lambda a, b: SL.solve(a, b, assume_a="pos"), (S4, B42)),
        (lambda a, b: SL.solve(a, b, assume_a="upper triangular", transposed=True), (B4, v4)),
        (lambda a, b: SL.solve_triangular(a, b, trans="T", lower=True), (B4, v4)),
        (lambda ab, b: SL.solve_banded((1, 1), ab, b), (AB, rand(5, seed=40))),
        (SL.solveh_banded, (HB, rand(5, seed=41))),
        (lambda c, r, b: SL.solve_toeplitz((c, r), b), (c5, r5, rand(5, seed=42))),
        (SL.solve_circulant, (c5, rand(5, seed=43))),
        (SL.toeplitz, (c5, r5)),
    ],
)
def test_second_order(f, args):
    for i in range(len(args)):
        check_gradient(second(f, i), *args)


def test_single_precision():
    s32 = (S4.astype(np.float32), B42.astype(np.float32))
    check_float32((None, lambda a, b: SL.solve(a, b, assume_a="pos"), s32), rtol=5e-3, atol=5e-3)
    check_float32((None, SL.solve_triangular, s32), rtol=5e-3, atol=5e-3)
    check_float32((None, SL.toeplitz, (c5, r5)))
    same_value(SL.solve, *s32)


def test_unsupported_and_bad_input():
    with pytest.raises(ValueError):  # SciPy's own error
        pb.gradient(lambda a: np.sum(SL.solve(a, v4[:3])), B4)
    with pytest.raises(ValueError):
        pb.gradient(lambda a: np.sum(SL.solve(a, v4, assume_a="nonsense")), B4)
    with pytest.raises(NoRuleError, match="solve_toeplitz"):
        pb.gradient(lambda c: np.sum(SL.solve_toeplitz(c, rand(2, 5, 1))), rand(2, 5) + 5 * np.eye(5)[0])


def test_plain_calls_are_untouched():
    assert SL.solve(B4, v4) is not None
    np.testing.assert_array_equal(SL.lstsq(B4, v4)[0], ORIGINALS["lstsq"](B4, v4)[0])
    assert SL.lstsq.default_lapack_driver == "gelsd"  # SciPy reads the attribute on the function


@settings(max_examples=12, deadline=None)
@given(
    batch=st.sampled_from([(), (2,), (2, 1)]),
    n=st.integers(1, 4),
    k=st.sampled_from([None, 1, 3]),
    cplx=st.booleans(),
    assume=st.sampled_from([None, "pos", "lower triangular"]),
)
def test_solve_shapes(batch, n, k, cplx, assume):
    dtype = complex if cplx else float
    a = spd(*batch, n, dtype=dtype, seed=n)
    b = rand(*((n,) if k is None else batch + (n, k)), dtype=dtype, seed=k)
    check_gradient(lambda a, b: SL.solve(a, b, assume_a=assume), a, b)
    same_value(lambda a, b: SL.solve(a, b, assume_a=assume), a, b)


def test_real_matrix_complex_right_hand_side():
    for assume in (None, "sym", "pos", "upper triangular"):
        check_gradient(lambda a, b: SL.solve(a, b, assume_a=assume), S4, ZB42)
    check_gradient(lambda a, b: SL.solve_triangular(a, b, trans=1), B4, ZB42)
    check_gradient(lambda a, b: SL.cho_solve(SL.cho_factor(a), b), S4, ZB42)
    check_gradient(lambda a, b: SL.lu_solve(SL.lu_factor(a), b, trans=1), B4, ZB42)
    check_gradient(lambda a, b: SL.solve_banded((1, 1), a, b), AB, ZB42[:, 0].repeat(2)[:5])
    check_gradient(lambda c, b: SL.solve_toeplitz(c, b), c5, rand(5, dtype=complex))


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # SciPy on the NaN matrix
def test_check_finite_as_scipy():
    bad = B4.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="infs or NaNs"):
        pb.gradient(lambda a: np.sum(SL.solve(a, v4)), bad)
    with pytest.raises(ValueError, match="infs or NaNs"):
        pb.gradient(lambda b: np.sum(SL.cho_solve(SL.cho_factor(S4), b)), v4 * np.inf)
    g = pb.gradient(lambda a: np.sum(SL.solve(a, v4, check_finite=False)), bad)[0]
    assert np.isnan(g).all()


def test_solve_of_one_1x1_matrix_is_a_division():
    """Regression: SciPy divides by a single 1x1 matrix, ignoring assume_a (so a complex 'pos'
    entry's imaginary part counts); a stack of them goes through LAPACK."""
    a, b = np.array([[2.0 + 1.0j]]), np.array([1.0 - 0.5j])
    for assume in (None, "pos", "her", "sym", "lower triangular", "diagonal"):
        f = lambda a, b: SL.solve(a, b, assume_a=assume)  # noqa: E731
        check_gradient(f, a, b)
        same_value(f, a, b)
        check_gradient(lambda a, b: SL.solve(a, b, assume_a=assume, transposed=True), a.real, b.real)
    with pytest.raises(NotImplementedError):  # SciPy's own error, before its 1x1 shortcut
        pb.gradient(lambda a: np.abs(SL.solve(a, b, transposed=True)[0]), a)
    check_gradient(lambda a, b: SL.solve(a, b, assume_a="pos"), np.array([[[2.0 + 0j]], [[3.0 + 0j]]]),
                   np.array([[[1.0 + 1j]], [[2.0 - 1j]]]))
