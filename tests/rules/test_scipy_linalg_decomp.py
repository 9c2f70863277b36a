"""scipy.linalg decompositions (svd, eigh, eig, qr, ...) and what is built on them (pinv, lstsq,
null_space, orth), and norm. Losses of vectors are gauge invariant unless a test says otherwise."""

import numpy as np
import pytest
import scipy.linalg as SL

import pullback as pb
from pullback.errors import GaugeError, NoRuleError
from pullback.testing import check_gradient

from .cases import case_id, check_float32, rand
from .test_scipy_linalg import K, same_value, second, spd


def mH(x):
    return np.conj(np.swapaxes(x, -1, -2))


def sym(x):
    return x + mH(x)


def svd_loss(full=True, driver="gesdd"):
    def f(a):
        u, s, vh = SL.svd(a, full_matrices=full, lapack_driver=driver)
        k = s.shape[-1]
        return np.concatenate([
            np.ravel(np.abs(u[..., :, :k] @ (np.sin(s)[..., None] * vh[..., :k, :])) ** 2),
            np.ravel(np.real(u[..., :, k:] @ mH(u[..., :, k:]))),
            np.ravel(np.real(mH(vh[..., k:, :]) @ vh[..., k:, :])),
            np.ravel(s),
        ])

    return f


def eigh_loss(**kw):
    def f(a, *b):
        w, v = SL.eigh(a, *b, **kw)
        return np.concatenate([np.ravel(np.abs(v) ** 2 @ np.sin(w)[..., None]), np.ravel(w)])

    return f


def qr_loss(mode, pivoting=False):
    def f(a):
        out = SL.qr(a, mode=mode, pivoting=pivoting)
        if mode == "r":
            return np.ravel(out[0])
        q, r = out[:2]
        k = min(a.shape[-2:])
        p2 = q[..., :, k:] @ mH(q[..., :, k:])
        return np.concatenate([np.ravel(q[..., :, :k]), np.ravel(r), np.ravel(p2)])

    return f


def projector(f):
    def p(a):
        q = f(a)
        return q @ mH(q)

    return p


A43, A34, Z33 = rand(4, 3, seed=1), rand(3, 4, seed=2), rand(3, 3, dtype=complex, seed=3)
H4, ZH4 = sym(rand(4, 4, seed=4)), sym(rand(4, 4, dtype=complex, seed=5))
S4, ZS4 = spd(4, seed=6), spd(4, dtype=complex, seed=7)
AB = rand(2, 3, 4, seed=8)

CASES = [
    (K("svd"), svd_loss(), (A43,)),
    (K("svd"), svd_loss(False), (Z33,)),
    (K("svd"), svd_loss(True, "gesvd"), (A34,)),
    (K("svd"), svd_loss(False), (AB,)),
    (K("svd"), lambda a: SL.svd(a, compute_uv=False), (rand(3, 4, dtype=complex, seed=9),)),
    (K("svdvals"), SL.svdvals, (A43,)),
    (K("svdvals"), SL.svdvals, (AB,)),
    (K("eigh"), eigh_loss(), (H4,)),
    (K("eigh"), eigh_loss(lower=False), (ZH4,)),
    (K("eigh"), eigh_loss(), (H4, S4)),
    (K("eigh"), eigh_loss(lower=False), (ZH4, ZS4)),
    (K("eigh"), eigh_loss(subset_by_index=[1, 2]), (H4,)),
    (K("eigh"), lambda a: SL.eigh(a, eigvals_only=True, subset_by_index=[0, 1]), (ZH4,)),
    (K("eigh"), eigh_loss(), (sym(rand(2, 3, 3, seed=10)),)),
    (K("eigvalsh"), SL.eigvalsh, (H4,)),
    (K("eigvalsh"), lambda a, b: SL.eigvalsh(a, b, lower=False), (ZH4, ZS4)),
    (K("eig"), lambda a: np.concatenate([SL.eig(a)[0], np.ravel(np.abs(SL.eig(a)[1]) ** 2)]),
     (rand(3, 3, seed=11),)),
    (K("eig"), lambda a: SL.eig(a, right=False), (Z33,)),
    (K("eigvals"), SL.eigvals, (rand(3, 3, seed=12),)),
    (K("eigvals"), SL.eigvals, (rand(2, 3, 3, dtype=complex, seed=13),)),
    (K("qr"), qr_loss("full"), (A43,)),
    (K("qr"), qr_loss("economic"), (rand(3, 4, dtype=complex, seed=14),)),
    (K("qr"), qr_loss("r"), (A43,)),
    (K("qr"), qr_loss("full", True), (A34,)),
    (K("qr"), qr_loss("economic"), (AB,)),
    (K("pinv"), SL.pinv, (A43,)),
    (K("pinv"), SL.pinv, (rand(2, 3, 2, dtype=complex, seed=15),)),
    (K("null_space"), projector(SL.null_space), (A34,)),
    (K("orth"), projector(SL.orth), (rand(4, 2, dtype=complex, seed=16),)),
    (K("polar"), lambda a: SL.polar(a)[0], (A43,)),
    (K("polar"), lambda a: SL.polar(a, "left")[1], (Z33,)),
    (K("norm"), SL.norm, (A43,)),
    (K("norm"), SL.norm, (rand(5, dtype=complex, seed=17),)),
    (K("norm"), lambda a: SL.norm(a, 1), (np.asfortranarray(A43),)),
    (K("norm"), lambda a: SL.norm(a, "nuc", axis=(1, 2)), (AB,)),
    (K("lstsq"), lambda a, b: SL.lstsq(a, b)[0], (A43, rand(4, 2, seed=18))),
    (K("lstsq"), lambda a, b: np.concatenate([SL.lstsq(a, b)[0], np.atleast_1d(SL.lstsq(a, b)[1])]),
     (rand(4, 3, dtype=complex, seed=19), rand(4, seed=20))),
    (K("lstsq"), lambda a, b: SL.lstsq(a, b)[0], (A34, rand(3, seed=21))),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_values_are_scipys(case):
    _, f, args = case
    same_value(f, *args, exact=False)  # products of the outputs: BLAS rounding (see same_value)


@pytest.mark.parametrize(
    ("f", "a"),
    [
        (lambda a: SL.svd(a), A43), (lambda a: SL.svd(a, compute_uv=False), A43), (SL.svdvals, A34),
        (lambda a: SL.eigh(a, S4, subset_by_index=[1, 2]), H4), (SL.eigvalsh, H4), (SL.eig, Z33),
        (SL.eigvals, Z33), (lambda a: SL.qr(a, pivoting=True), A34), (lambda a: SL.qr(a, mode="r"), A43),
        (lambda a: SL.lstsq(a, rand(4, seed=3)), A43), (SL.pinv, A43), (SL.null_space, A34),
        (SL.orth, A43), (SL.norm, rand(5, seed=1)),
    ],
)
def test_decomposition_values_are_scipys_bit_for_bit(f, a):
    want = f(a)
    got = pb.pullback(f, a)[0]
    for g, w in zip(got if isinstance(want, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        np.testing.assert_array_equal(g, w)
        assert np.result_type(g) == np.result_type(w) and np.shape(g) == np.shape(w)


@pytest.mark.parametrize("mode", ["full", "economic", "r"])
@pytest.mark.parametrize("pivoting", [False, True])
@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (3, 3)])
def test_qr_modes(mode, pivoting, shape):
    check_gradient(qr_loss(mode, pivoting), rand(*shape, seed=sum(shape)))


def test_qr_pivoting_is_a_fixed_column_permutation():
    a = A34
    q, r, p = SL.qr(a, pivoting=True)
    g = pb.gradient(lambda a: np.sum(SL.qr(a, pivoting=True)[1] ** 2), a)[0]
    g_perm = pb.gradient(lambda b: np.sum(SL.qr(b)[1] ** 2), a[:, p])[0]
    np.testing.assert_allclose(g[:, p], g_perm, rtol=1e-10, atol=1e-12)


def test_eigh_generalized_matches_the_reduced_standard_problem():
    # A v = w B v  <=>  L^{-1} A L^{-H} y = w y with B = L L^H
    def reduced(a, b):
        lo = np.linalg.cholesky(b)
        c = np.linalg.solve(lo, mH(np.linalg.solve(lo, a)))
        return np.linalg.eigvalsh(c)

    ga = pb.grad(lambda a, b: np.sum(np.sin(SL.eigvalsh(a, b))), (0, 1))(H4, S4)
    gr = pb.grad(lambda a, b: np.sum(np.sin(reduced(sym(a) / 2, sym(b) / 2))), (0, 1))(H4, S4)
    # gr is the symmetric-convention gradient; SciPy reads one triangle: fold gr onto it
    for g, h in zip(ga, gr):
        np.testing.assert_allclose(g, np.tril(h + h.T, -1) + np.diag(np.diag(h)), rtol=1e-9, atol=1e-12)


def test_null_space_and_orth_through_projectors_only():
    check_gradient(projector(SL.null_space), rand(2, 4, dtype=complex, seed=30))
    check_gradient(projector(SL.orth), A43)
    with pytest.raises(GaugeError):  # the basis itself is arbitrary inside the null space
        pb.gradient(lambda a: np.sum(SL.null_space(a) * np.arange(2.0)[None, :]), A34[:2])


def test_gauge_errors():
    with pytest.raises(GaugeError):
        pb.gradient(lambda a: np.sum(np.real(SL.svd(a)[0])), Z33)
    with pytest.raises(GaugeError):
        pb.gradient(lambda a: np.sum(np.real(SL.eigh(a)[1])), ZH4)
    with pytest.raises(GaugeError):  # a repeated eigenvalue's vectors one by one
        pb.gradient(lambda a: np.sum(SL.eigh(a)[1][:, 0] * np.arange(3.0)), np.diag([1.0, 1.0, 2.0]))


@pytest.mark.parametrize(
    ("f", "args"),
    [
        (svd_loss(False), (A43,)), (SL.svdvals, (A34,)), (eigh_loss(), (H4,)), (eigh_loss(), (H4, S4)),
        (eigh_loss(subset_by_index=[2, 3]), (H4,)), (lambda a: SL.eig(a)[0], (rand(3, 3, seed=40),)),
        (SL.eigvals, (rand(3, 3, seed=41),)), (qr_loss("economic", True), (A43,)), (SL.pinv, (A34,)),
        (SL.norm, (A43,)), (lambda a, b: SL.lstsq(a, b)[0], (A43, rand(4, seed=42))),
        (projector(SL.null_space), (A34,)), (projector(SL.orth), (A43,)), (SL.eigvalsh, (H4,)),
        (lambda a, b: SL.eigvalsh(a, b, subset_by_index=[0, 1]), (H4, S4)),
    ],
)
def test_second_order(f, args):
    for i in range(len(args)):
        check_gradient(second(f, i), *args)


def test_single_precision():
    check_float32((None, svd_loss(False), (A43,)), rtol=1e-2, atol=1e-2)
    check_float32((None, SL.eigvalsh, (H4,)))
    check_float32((None, qr_loss("economic"), (A43,)), rtol=1e-2, atol=1e-2)
    a32 = A43.astype(np.float32)
    same_value(SL.svd, a32)
    same_value(lambda a: SL.qr(a, mode="economic"), a32)


def test_unsupported():
    with pytest.raises(NoRuleError, match="raw"):
        pb.gradient(lambda a: np.sum(SL.qr(a, mode="raw")[0][0]), A43)
    with pytest.raises(NoRuleError, match="type=2"):
        pb.gradient(lambda a: np.sum(SL.eigh(a, S4, type=2)[0]), H4)
    with pytest.raises(NoRuleError, match="subset_by_value"):
        pb.gradient(lambda a: np.sum(SL.eigh(a, subset_by_value=(0, 1))[0]), H4)
    with pytest.raises(NoRuleError, match="b="):
        pb.gradient(lambda a: np.sum(np.abs(SL.eig(a, S4)[0])), H4)


def test_polar_is_scipys_steps_bit_for_bit():
    """scipy.linalg.polar (a conversion error before): SciPy's own steps on the traced svd, a stack
    one matrix at a time as SciPy's batch decorator runs it, so SciPy's bits."""
    for a in (A43, A34, Z33, rand(2, 3, 3, dtype=complex, seed=9)):
        for side in ("right", "left"):
            value, _ = pb.pullback(lambda u, side=side: SL.polar(u, side), a)
            for got, want in zip(value, SL.polar(a, side)):
                assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
            check_gradient(lambda u, side=side: SL.polar(u, side)[1], a)
    with pytest.raises(ValueError, match="side"):
        pb.gradient(lambda u: np.sum(SL.polar(u, "up")[0]), A43)


def test_norm_of_everything_is_a_scalar_of_scipys_type():
    """Regression: a traced scipy.linalg.norm reducing to a scalar returned a 0-d ndarray; SciPy
    returns np.float64, or a Python float (its BLAS/LAPACK paths), and so does the traced one."""
    a, v = rand(7, 8, seed=2), rand(9, seed=3)
    matrix_ords = [None, "fro", "nuc", 1, 2, -1, -2, np.inf, -np.inf]
    vector_ords = [None, 1, 2, 0, 3.5, np.inf]
    for x, ords in ((a, matrix_ords), (v, vector_ords)):
        for o in ords:
            value, want = pb.pullback(lambda u: SL.norm(u, o), x)[0], SL.norm(x, o)
            assert type(value) is type(want) and isinstance(want, float) and value == want
    assert type(pb.pullback(lambda u: SL.norm(u, axis=0), a)[0]) is np.ndarray


def test_eigh_vectors_have_scipys_layout():
    """Regression (sweep 3a): the traced eigenvectors were row-major (unpacked from the primitive's
    result), SciPy's are column-major; a float32 matmul of them then rounded differently. Now the
    same strides, and downstream values SciPy's bits."""
    rng = np.random.default_rng(6)
    for dt, shape in ((np.float32, (4, 4)), (np.complex64, (4, 4)), (np.float32, (2, 3, 3))):
        a = rng.standard_normal(shape).astype(dt)
        if dt == np.complex64:
            a = a + 1j * np.swapaxes(a, -1, -2)
        a = a + np.conj(np.swapaxes(a, -1, -2))

        def f(a):
            w, v = SL.eigh(a)
            return np.concatenate([np.ravel(np.abs(v) ** 2 @ np.sin(w)[..., None]), np.ravel(w)])

        want, got = f(a), pb.pullback(f, a)[0]
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
        assert pb.pullback(lambda a: SL.eigh(a)[1], a)[0].strides == SL.eigh(a)[1].strides


def test_norm_returns_a_python_float_where_scipy_does():
    x, X = np.arange(1.0, 4.0), np.arange(1.0, 7.0).reshape(2, 3)
    for a, o in ((x, None), (x.astype(np.float32), 2), (X, 1), (X, np.inf), (X, None), (X, "fro"), (x, 1)):
        value, _ = pb.pullback(lambda u, o=o: SL.norm(u, o), a)
        want = SL.norm(a, o)
        assert type(value) is type(want) and value == want


def test_a_traced_norm_order_raises_a_clear_error():
    """Regression: scipy.linalg.norm(x, ord=traced) recursed (RecursionError)."""
    import scipy.linalg as SL

    v = np.array([1.0, 2.0])
    for f in (lambda c: SL.norm(v, ord=c), lambda c: SL.norm(v * c, ord=c),
              lambda c: np.linalg.norm(v * c, ord=c)):
        with pytest.raises(pb.NoRuleError, match="traced ord"):
            pb.gradient(f, 3.0)
