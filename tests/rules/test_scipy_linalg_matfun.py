"""scipy.linalg matrix functions and equations: expm, expm_frechet, logm, sqrtm, solve_sylvester,
solve_continuous_lyapunov; and the argument forms of HIPS autograd's tests/test_scipy.py."""

import numpy as np
import pytest
import scipy.linalg as SL

import pullback as pb
from pullback.testing import check_adjoint, check_gradient

from .cases import case_id, check_float32, rand
from .test_scipy_linalg import K, same_value, second, spd

A3, Z3, E3 = rand(3, 3, seed=1), rand(3, 3, dtype=complex, seed=2) / 2, rand(3, 3, seed=3)
S3, ZS3 = spd(3, seed=4), spd(3, dtype=complex, seed=5)
Q3 = rand(3, 3, seed=6)
STABLE = A3 - 3 * np.eye(3)

CASES = [
    *[(K(name), getattr(SL, name), (a,)) for name in ("cosm", "sinm", "tanm", "coshm", "sinhm", "tanhm")
      for a in (A3 / 2, Z3 / 2)],
    (K("expm"), SL.expm, (A3,)),
    (K("expm"), SL.expm, (Z3,)),
    (K("expm"), SL.expm, (rand(2, 3, 3, seed=7) / 2,)),
    (K("expm_frechet"), lambda a, e: np.stack(SL.expm_frechet(a, e)), (A3, E3)),
    (K("expm_frechet"), lambda a, e: SL.expm_frechet(a, e, compute_expm=False), (Z3, E3 + 0j)),
    (K("logm"), SL.logm, (S3,)),
    (K("logm"), SL.logm, (ZS3,)),
    (K("logm"), SL.logm, (A3 + 3 * np.eye(3),)),
    (K("sqrtm"), SL.sqrtm, (S3,)),
    (K("sqrtm"), SL.sqrtm, (A3,)),  # a real matrix with a complex square root
    (K("sqrtm"), SL.sqrtm, (ZS3,)),
    (K("sqrtm"), SL.sqrtm, (spd(2, 3, seed=8),)),
    (K("solve_sylvester"), SL.solve_sylvester, (A3, S3, Q3)),
    (K("solve_sylvester"), SL.solve_sylvester, (Z3, S3, rand(3, 3, dtype=complex, seed=9))),
    (K("solve_sylvester"), SL.solve_sylvester, (
        A3, rand(2, 2, seed=10) + 3 * np.eye(2), rand(3, 2, seed=11))),
    (K("solve_continuous_lyapunov"), SL.solve_continuous_lyapunov, (STABLE, S3)),
    (K("solve_continuous_lyapunov"), SL.solve_continuous_lyapunov, (Z3 - 3 * np.eye(3), ZS3)),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_values_are_scipys_bit_for_bit(case):
    _, f, args = case
    same_value(f, *args)


def test_expm_gradient_is_the_frechet_derivative_at_the_adjoint():
    g = rand(3, 3, seed=20)
    ga = pb.pullback(SL.expm, Z3)[1](g + 0j)[0]
    np.testing.assert_allclose(ga, SL.expm_frechet(Z3.conj().T, g + 0j, compute_expm=False), rtol=1e-12)


def test_linear_maps_match_their_dense_adjoints():
    check_adjoint(lambda e: SL.expm_frechet(Z3, e, compute_expm=False), E3 + 0j)
    check_adjoint(lambda q: SL.solve_sylvester(Z3, S3, q), Q3 + 0j)
    check_adjoint(lambda q: SL.solve_continuous_lyapunov(STABLE, q), Q3)


@pytest.mark.parametrize(
    ("f", "args"),
    [
        (SL.expm, (A3,)), (SL.logm, (S3,)), (SL.sqrtm, (S3,)), (SL.solve_sylvester, (A3, S3, Q3)),
        (SL.solve_continuous_lyapunov, (STABLE, S3)),
        (lambda a, e: SL.expm_frechet(a, e, compute_expm=False), (A3 / 2, E3)),
    ],
)
def test_second_order(f, args):
    for i in range(len(args)):
        check_gradient(second(f, i), *args)


def test_single_precision():
    check_float32((None, SL.expm, (A3 / 2,)))
    check_float32((None, SL.sqrtm, (S3,)))
    check_float32((None, SL.solve_sylvester, (A3, S3, Q3)))
    same_value(SL.expm, (A3 / 2).astype(np.float32))


# ---------------------------------------------------------------- autograd's own argument forms


def symmetrized(fun):
    def f(x, *args):
        return fun(0.5 * (x + np.swapaxes(x, -1, -2)), *args)

    return f


def test_autograd_sqrtm_forms():
    # combo_check(spla.sqrtm, modes=["fwd"], order=2)([R(3, 3)]) and the symmetrized fwd/rev one
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 3))
    check_gradient(SL.sqrtm, x, modes=("forward",))
    check_gradient(second(SL.sqrtm), x, modes=("forward",))
    f = symmetrized(SL.sqrtm)
    check_gradient(f, x)
    check_gradient(second(f), x)


def test_autograd_solve_sylvester_forms():
    # combo_check(spla.solve_sylvester, [0, 1, 2], modes=["rev", "fwd"], order=2)(R(3,3) x 3)
    rng = np.random.default_rng(2)
    a, b, q = (rng.standard_normal((3, 3)) for _ in range(3))
    check_gradient(SL.solve_sylvester, a, b, q)
    for i in range(3):
        check_gradient(second(SL.solve_sylvester, i), a, b, q)


def test_autograd_cholesky_and_solve_triangular_forms():
    # autograd.scipy.linalg: cholesky(lower=...), solve_triangular(a, b, trans=..., lower=...)
    a = S3
    check_gradient(lambda a: SL.cholesky(a, lower=True), a)
    for trans in (0, 1, "N", "T"):
        for lower in (False, True):
            check_gradient(lambda a, b: SL.solve_triangular(a, b, trans=trans, lower=lower), a, Q3[:, 0])
            check_gradient(lambda a, b: SL.solve_triangular(a, b, trans=trans, lower=lower), a, Q3)


@pytest.mark.parametrize("name", ["cosm", "sinm", "tanm", "coshm", "sinhm", "tanhm"])
@pytest.mark.parametrize("kind", ["real", "complex", "float32"])
def test_trigonometric_and_hyperbolic_matrix_functions(name, kind):
    """They raised a conversion error; as SciPy's expressions in expm and solve they give SciPy's
    bits and differentiate through expm."""
    rng = np.random.default_rng(len(name))
    A = rng.standard_normal((3, 3)) * 0.4
    if kind == "complex":
        A = A + 0.3j * rng.standard_normal((3, 3))
    elif kind == "float32":
        A = A.astype(np.float32)
    f = getattr(SL, name)
    value, _ = pb.pullback(f, A)
    want = f(A)
    assert value.dtype == want.dtype and value.tobytes() == want.tobytes()
    check_gradient(f, A.astype(np.result_type(A, np.float64)))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", ["logm", "sqrtm"])
def test_disp_false_returns_scipys_pair(name):
    """Regression: logm(A, disp=False) returned the matrix alone where SciPy returns (logm, errest),
    so ``[0]`` silently took its first row."""
    A = np.array([[2.0, 0.3], [0.1, 1.5]])
    f = getattr(SL, name)
    value, _ = pb.pullback(lambda A: f(A, disp=False), A)
    plain = f(A, disp=False)
    assert type(value) is tuple and len(value) == 2
    np.testing.assert_array_equal(pb.stop_gradient(value[0]), plain[0])
    assert value[1] == plain[1]
    check_gradient(lambda A: f(A, disp=False)[0], A)


def test_funm_of_a_traced_function_raises_a_clear_error():
    with pytest.raises(pb.NoRuleError, match="scipy.linalg.funm"):
        pb.gradient(lambda t: np.sum(SL.funm(np.eye(2), lambda v: np.exp(v * t))), 0.9)
