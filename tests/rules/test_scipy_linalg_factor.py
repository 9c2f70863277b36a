"""scipy.linalg factorisations: cholesky, cho_factor/cho_solve, lu_factor/lu_solve, lu, det, inv."""

import numpy as np
import pytest
import scipy.linalg as SL

import pullback as pb
from pullback.errors import NoRuleError
from pullback.testing import check_adjoint, check_gradient

from .cases import case_id, check_float32, rand
from .test_scipy_linalg import K, same_value, second, spd

S4, Z4, SB = spd(4, seed=1), spd(4, dtype=complex, seed=2), spd(2, 3, seed=3)
A4, ZA4 = rand(4, 4, seed=4) + 3 * np.eye(4), rand(4, 4, dtype=complex, seed=5) + 3 * np.eye(4)
B42, ZB42, v4 = rand(4, 2, seed=6), rand(4, 2, dtype=complex, seed=7), rand(4, seed=8)


def cho_solve_with(lower):
    def f(a, b):
        return SL.cho_solve(SL.cho_factor(a, lower=lower), b)

    return f


def lu_solve_with(trans):
    def f(a, b):
        return SL.lu_solve(SL.lu_factor(a), b, trans=trans)

    return f


def lu_parts(permute_l=False, p_indices=False):
    def f(a):
        out = SL.lu(a, permute_l=permute_l, p_indices=p_indices)
        return np.concatenate([np.ravel(x) for x in out[-2:]])

    return f


CASES = [
    (K("cholesky"), SL.cholesky, (S4,)),
    (K("cholesky"), lambda a: SL.cholesky(a, lower=True), (Z4,)),
    (K("cholesky"), SL.cholesky, (SB,)),
    (K("cho_factor"), lambda a: SL.cho_factor(a)[0], (S4,)),
    (K("cho_factor"), lambda a: SL.cho_factor(a, lower=True)[0], (Z4,)),
    (K("cho_solve"), lambda c, b: SL.cho_solve((c, False), b), (SL.cholesky(S4), B42)),
    (K("cho_solve"), cho_solve_with(True), (Z4, ZB42)),
    (K("cho_solve"), cho_solve_with(False), (SB, rand(2, 3, 1, seed=9))),
    (K("lu_factor"), lambda a: SL.lu_factor(a)[0], (A4,)),
    (K("lu_factor"), lambda a: SL.lu_factor(a)[0], (rand(2, 3, 3, dtype=complex, seed=10) + 3 * np.eye(3),)),
    (K("lu_solve"), lu_solve_with(0), (A4, v4)),
    (K("lu_solve"), lu_solve_with(1), (ZA4, ZB42)),
    (K("lu_solve"), lu_solve_with(2), (ZA4, v4)),
    (K("lu"), lu_parts(), (A4,)),
    (K("lu"), lu_parts(permute_l=True), (ZA4,)),
    (K("lu"), lu_parts(p_indices=True), (rand(2, 3, 3, seed=11),)),
    (K("det"), SL.det, (A4,)),
    (K("det"), SL.det, (rand(2, 3, 3, dtype=complex, seed=12),)),
    (K("inv"), SL.inv, (ZA4,)),
    (K("inv"), SL.inv, (SB,)),
    (K("inv"), lambda a: SL.inv(a, assume_a="pos", lower=True), (S4 + np.triu(A4, 1),)),
    (K("inv"), lambda a: SL.inv(a, assume_a="her"), (Z4,)),
    (K("inv"), lambda a: SL.inv(a, assume_a="upper triangular"), (A4,)),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_values_are_scipys_bit_for_bit(case):
    _, f, args = case
    same_value(f, *args)


@pytest.mark.parametrize("trans", [0, 1, 2])
def test_lu_solve_every_trans(trans):
    check_gradient(lu_solve_with(trans), A4, B42)
    check_gradient(lu_solve_with(trans), ZA4, ZB42)


@pytest.mark.parametrize("permute_l", [False, True])
@pytest.mark.parametrize("p_indices", [False, True])
def test_lu_options(permute_l, p_indices):
    f = lu_parts(permute_l, p_indices)
    check_gradient(f, A4)
    check_gradient(f, ZA4)
    same_value(lambda a: SL.lu(a, permute_l=permute_l, p_indices=p_indices), A4)


def test_cho_factor_reads_one_triangle_and_passes_the_other():
    junk = S4 + np.tril(rand(4, 4, seed=20), -1)  # the lower triangle is never read by potrf('U')
    g = pb.gradient(lambda a: np.sum(np.triu(SL.cho_factor(a)[0]) ** 2), junk)[0]
    assert not np.any(np.tril(g, -1))
    g = pb.gradient(lambda a: np.sum(np.tril(SL.cho_factor(a)[0], -1)), junk)[0]
    np.testing.assert_array_equal(g, np.tril(np.ones((4, 4)), -1))


def test_adjoint_solves_reuse_the_factors(monkeypatch):
    """cho_solve's and lu_solve's pullbacks solve with the same factors: no new factorisation."""
    c = SL.cho_factor(S4)
    lu = SL.lu_factor(A4)
    seen = []
    for name in ("cho_solve", "lu_solve", "cho_factor", "lu_factor", "solve", "cholesky"):
        plain = getattr(SL, name)

        def spy(*args, __name=name, __plain=plain, **kwargs):
            seen.append((__name, args[0]))
            return __plain(*args, **kwargs)

        monkeypatch.setattr(SL, name, spy)
    gb = pb.gradient(lambda b: np.sum(np.sin(SL.cho_solve(c, b))), B42)[0]
    # the user's own call, then the pullback's: the same factors, no other solver
    assert [n for n, _ in seen] == ["cho_solve"] * 2 and all(a[0] is c[0] for _, a in seen)
    seen.clear()
    pb.gradient(lambda b: np.sum(np.sin(SL.lu_solve(lu, b))), v4)
    assert [n for n, _ in seen] == ["lu_solve"] * 2 and all(a[0] is lu[0] for _, a in seen)
    monkeypatch.undo()
    np.testing.assert_allclose(gb, SL.cho_solve(c, np.cos(SL.cho_solve(c, B42))), rtol=1e-12)


def test_linear_maps_match_their_dense_adjoints():
    c, zc = SL.cho_factor(S4), SL.cho_factor(Z4, lower=True)
    lu, zlu = SL.lu_factor(A4), SL.lu_factor(ZA4)
    check_adjoint(lambda b: SL.cho_solve(c, b), B42)
    check_adjoint(lambda b: SL.cho_solve(zc, b), ZB42)
    check_adjoint(lambda b: SL.lu_solve(lu, b, trans=1), v4)
    check_adjoint(lambda b: SL.lu_solve(zlu, b, trans=1), ZB42)
    check_adjoint(lambda b: SL.lu_solve(zlu, b, trans=2), ZB42)


@pytest.mark.parametrize(
    ("f", "args"),
    [
        (SL.cholesky, (S4,)),
        (lambda a: SL.cho_factor(a, lower=True)[0], (S4,)),
        (cho_solve_with(False), (S4, B42)),
        (lambda c, b: SL.cho_solve((c, True), b), (np.linalg.cholesky(S4), v4)),
        (lambda a: SL.lu_factor(a)[0], (A4,)),
        (lu_solve_with(1), (A4, v4)),
        (lu_parts(permute_l=True), (A4,)),
        (SL.det, (A4,)),
        (SL.inv, (A4,)),
    ],
)
def test_second_order(f, args):
    for i in range(len(args)):
        check_gradient(second(f, i), *args)


def test_single_precision():
    s32 = S4.astype(np.float32)
    check_float32((None, SL.cholesky, (S4,)))
    check_float32((None, cho_solve_with(True), (S4, B42)))
    check_float32((None, lu_solve_with(0), (A4, B42)))
    same_value(SL.cholesky, s32)


def test_unsupported():
    with pytest.raises(NoRuleError, match="non-square"):
        pb.gradient(lambda a: np.sum(SL.lu(a)[1]), rand(3, 4))
    with pytest.raises(np.linalg.LinAlgError):  # SciPy's own error
        pb.gradient(lambda a: np.sum(SL.cholesky(a)), -S4)
