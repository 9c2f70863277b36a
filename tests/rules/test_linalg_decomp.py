"""Decompositions of numpy.linalg and what is built on them (svd, eigh, eig, cholesky, qr, pinv, ...).

Losses of eigen- and singular vectors are gauge invariant (|U|^2 products, U diag(f) V^H,
projectors) unless a test says otherwise: those are the ones with a gradient.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pullback as pb
from pullback.errors import GaugeError, NoRuleError
from pullback.testing import check_gradient

from .cases import case_id, check_float32, rand


def mH(x):
    return np.conj(np.swapaxes(x, -1, -2))


def herm(x):
    return x + mH(x)


def spd(*shape, dtype=float, seed=None):
    x = rand(*shape, dtype=dtype, seed=seed)
    return x @ mH(x) + shape[-1] * np.eye(shape[-1])


def svd_loss(full=False):
    """A gauge-invariant function of all three outputs (real or complex, any shape)."""

    def f(a):
        u, s, vh = np.linalg.svd(a, full_matrices=full)
        k = s.shape[-1]
        return (
            np.abs(u[..., :, :k] @ (np.sin(s)[..., None] * vh[..., :k, :])) ** 2
            + np.real(u[..., :, :k] @ vh[..., :k, :])
            + np.sum(np.abs(u[..., :, :k]) ** 2 @ np.cos(np.arange(k)).astype(s.dtype))
            + np.sum(np.abs(vh[..., :k, :]) ** 3)
            # the extra columns of full matrices through their projectors
            + np.sum(np.real(u[..., :, k:] @ mH(u[..., :, k:])) * np.arange(u.shape[-2], dtype=s.dtype))
            + np.sum(np.real(mH(vh[..., k:, :]) @ vh[..., k:, :]) * np.arange(vh.shape[-1], dtype=s.dtype))
            + np.sum(s**2)
        )

    return f


def eigh_loss(uplo="L"):
    def f(a):
        w, v = np.linalg.eigh(a, UPLO=uplo)
        return np.abs(v) ** 2 @ np.sin(w)[..., None] + np.real(v @ (np.cos(w)[..., None] * mH(v)))

    return f


def eig_loss(a):
    w, v = np.linalg.eig(a)
    return np.abs(v) ** 2 * w[..., None, :] + np.sum(w**2)


def qr_loss(mode):
    def f(a):
        q, r = np.linalg.qr(a, mode=mode)
        return np.concatenate([np.reshape(q, (-1,)), np.reshape(r, (-1,)) * 0.5])

    return f


def complete_q_loss(a):
    """Sees the extra columns of a complete Q only through their projector."""
    q, r = np.linalg.qr(a, mode="complete")
    k = min(a.shape[-2:])
    p2 = q[..., :, k:] @ mH(q[..., :, k:])
    w = np.arange(1.0, 1 + a.shape[-2], dtype=r.real.dtype)
    return np.sum(np.real(p2 * w)) + np.sum(np.abs(q[..., :, :k]) ** 2 * 2) + r


def chol_upper(a):
    return np.linalg.cholesky(a, upper=True)


# float64 and complex128, tall / wide / square / stacked
T43, W34, Q33 = rand(4, 3), rand(3, 4), rand(3, 3)
Z43, ZW, ZB = rand(4, 3, dtype=complex), rand(2, 3, 4, dtype=complex), rand(2, 3, 3, dtype=complex)

CASES = [
    (np.linalg.svd, svd_loss(), (T43,)),
    (np.linalg.svd, svd_loss(), (ZW,)),
    (np.linalg.svd, svd_loss(full=True), (Z43,)),
    (np.linalg.svd, svd_loss(full=True), (rand(2, 2, 4),)),
    (np.linalg.svd, lambda a: np.linalg.svd(a, compute_uv=False), (ZB,)),
    (np.linalg.svd, lambda a: np.linalg.svd(a, hermitian=True)[1], (herm(ZB),)),
    (np.linalg.svd, lambda a: np.linalg.svd(a, compute_uv=False, hermitian=True), (herm(Q33),)),
    (np.linalg.svd, lambda a: (lambda u, s, vh: u @ vh)(*np.linalg.svd(a, hermitian=True)), (herm(Q33),)),
    (np.linalg.svdvals, np.linalg.svdvals, (W34,)),
    (np.linalg.eigh, eigh_loss(), (ZB,)),
    (np.linalg.eigh, eigh_loss("U"), (Q33,)),
    (np.linalg.eigvalsh, np.linalg.eigvalsh, (rand(2, 4, 4),)),
    (np.linalg.eigvalsh, lambda a: np.linalg.eigvalsh(a, UPLO="U"), (ZB,)),
    (np.linalg.eig, eig_loss, (rand(2, 3, 3),)),
    (np.linalg.eig, eig_loss, (ZB,)),
    (np.linalg.eig, lambda a: np.linalg.eig(a)[0], (spd(3, 3),)),  # real eigenvalues: real results
    (np.linalg.eigvals, np.linalg.eigvals, (rand(4, 4),)),
    (np.linalg.eigvals, np.linalg.eigvals, (ZB,)),
    (np.linalg.cholesky, np.linalg.cholesky, (spd(2, 3, 3),)),
    (np.linalg.cholesky, np.linalg.cholesky, (spd(3, 3, dtype=complex) + np.triu(Q33, 1),)),
    (np.linalg.cholesky, chol_upper, (spd(2, 3, 3, dtype=complex),)),
    (np.linalg.qr, qr_loss("reduced"), (T43,)),
    (np.linalg.qr, qr_loss("reduced"), (ZW,)),
    (np.linalg.qr, lambda a: np.linalg.qr(a, mode="r"), (Z43,)),
    (np.linalg.qr, lambda a: np.linalg.qr(a, mode="complete").R, (rand(2, 4, 3),)),
    (np.linalg.qr, complete_q_loss, (Z43,)),
    (np.linalg.qr, qr_loss("complete"), (ZW,)),
    (np.linalg.pinv, np.linalg.pinv, (T43,)),
    (np.linalg.pinv, lambda a: np.linalg.pinv(a, rtol=None), (ZW,)),
    (np.linalg.pinv, lambda a: np.linalg.pinv(a, hermitian=True), (spd(3, 3, dtype=complex),)),
    (np.linalg.pinv, lambda a: np.linalg.pinv(a, rcond=1e-3), (rand(4, 2) @ rand(2, 3),)),  # rank 2
    (np.linalg.lstsq, lambda a, b: np.linalg.lstsq(a, b)[0], (rand(5, 3), rand(5, 2))),
    (np.linalg.lstsq, lambda a, b: np.linalg.lstsq(a, b)[0], (rand(3, 5, dtype=complex), rand(3))),
    (np.linalg.lstsq, lambda a, b: np.linalg.lstsq(a, b)[1],
     (rand(5, 3, dtype=complex), rand(5, dtype=complex))),
    (np.linalg.lstsq, lambda a, b: np.linalg.lstsq(a, b, rcond=None)[3], (rand(5, 3), rand(5))),
    (np.linalg.lstsq, lambda a, b: np.linalg.lstsq(a, b, rcond=1e-3)[0], (rand(5, 2) @ rand(2, 3), rand(5))),
    (np.linalg.matrix_power, lambda a: np.linalg.matrix_power(a, 5), (rand(2, 3, 3, dtype=complex),)),
    (np.linalg.matrix_power, lambda a: np.linalg.matrix_power(a, -2), (spd(3, 3),)),
    (np.linalg.matrix_power, lambda a: np.linalg.matrix_power(a, 0) * a, (Q33,)),
    (np.linalg.cond, np.linalg.cond, (ZB,)),
    (np.linalg.cond, lambda a: np.linalg.cond(a, -2), (T43,)),
    (np.linalg.cond, lambda a: np.linalg.cond(a, "nuc"), (spd(2, 3, 3),)),
    (np.linalg.cond, lambda a: np.linalg.cond(a, -np.inf), (ZB,)),
    (np.linalg.tensorsolve, np.linalg.tensorsolve, (rand(6, 2, 3) + np.eye(6).reshape(6, 2, 3) * 3, rand(6))),
    (np.linalg.tensorsolve, lambda a, b: np.linalg.tensorsolve(a, b, axes=(0,)),
     (rand(2, 3, 2, 3, dtype=complex) + 3 * np.eye(6).reshape(2, 3, 2, 3), rand(2, 3, dtype=complex))),
    (np.linalg.tensorinv, lambda a: np.linalg.tensorinv(a, ind=1),
     (rand(6, 2, 3) + np.eye(6).reshape(6, 2, 3),)),
    (np.cross, np.cross, (rand(4, 3, dtype=complex), rand(3))),
    (np.cross, lambda a, b: np.cross(a, b, axisa=0, axisc=0), (rand(3, 4), rand(2, 1, 3))),
    (np.linalg.cross, np.linalg.cross, (rand(2, 3), rand(2, 3, dtype=complex))),
]

if hasattr(np.linalg, "diagonal"):
    CASES += [
        (np.linalg.diagonal, lambda a: np.linalg.diagonal(a, offset=1), (ZW,)),
        (np.linalg.trace, np.linalg.trace, (ZW,)),
        (np.linalg.matrix_transpose, np.linalg.matrix_transpose, (ZW,)),
    ]

# norms from the singular values (the norm family is tested in test_linalg)
NORMS = [
    (lambda a: np.linalg.norm(a, 2), (T43,)),
    (lambda a: np.linalg.norm(a, -2, axis=(2, 0)), (ZW,)),
    (lambda a: np.linalg.norm(a, "nuc", axis=(-2, -1), keepdims=True), (ZB,)),
    (lambda a: np.linalg.matrix_norm(a, ord=2), (ZW,)),
    (lambda a: np.linalg.matrix_norm(a, ord="nuc", keepdims=True), (rand(2, 4, 3),)),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_float32_stays_float32(case):
    check_float32(case, rtol=5e-3, atol=5e-3)


@pytest.mark.parametrize("k", range(len(NORMS)))
def test_spectral_norms(k):
    f, args = NORMS[k]
    np.testing.assert_allclose(pb.pullback(f, *args)[0], f(*args), rtol=1e-12)
    check_gradient(f, *args)


def test_nuclear_norm_gradient_is_u_vh():
    a = rand(5, 3, dtype=complex)
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    np.testing.assert_allclose(pb.gradient(lambda a: np.linalg.norm(a, "nuc"), a)[0], u @ vh, atol=1e-12)


# ---------------------------------------------------------------- what each option means


def test_triangle_read_gets_the_gradient():
    # NumPy reads one triangle (and the real diagonal): the other triangle has no gradient
    a = spd(3, 3, dtype=complex)
    g = pb.gradient(lambda a: np.sum(np.abs(np.linalg.cholesky(a)) ** 2), a)[0]
    assert np.all(np.triu(g, 1) == 0) and np.all(np.imag(np.diagonal(g)) == 0)
    g = pb.gradient(lambda a: np.sum(np.linalg.eigvalsh(a, UPLO="U") ** 3), a)[0]
    assert np.all(np.tril(g, -1) == 0)
    # an input built Hermitian gets the symmetric gradient through it
    b = rand(3, 3)
    gb = pb.gradient(lambda b: np.sum(np.linalg.eigvalsh(b + b.T) ** 3), b)[0]
    w, v = np.linalg.eigh(b + b.T)
    want = v @ np.diag(3 * w**2) @ v.T
    np.testing.assert_allclose(gb, 2 * want, atol=1e-10)


def test_qr_raw_has_no_rule():
    with pytest.raises(NoRuleError, match="raw"):
        pb.gradient(lambda a: np.sum(np.linalg.qr(a, mode="raw")[0]), T43)


def test_eig_of_real_matrix_with_real_eigenvalues_is_real():
    a = spd(3, 3)
    w, v = pb.pullback(np.linalg.eig, a)[0]
    assert w.dtype == np.float64 and v.dtype == np.float64
    g = pb.gradient(lambda a: np.sum(np.abs(np.linalg.eigvals(a)) ** 2), rand(3, 3))[0]
    assert g.dtype == np.float64


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_cross_of_two_dimensional_vectors():
    check_gradient(lambda a, b: np.cross(a, b, axisa=0), rand(2, 4), rand(4, 3))
    check_gradient(np.cross, rand(4, 2, dtype=complex), rand(2))


def test_lstsq_outputs_match_numpy():
    a, b = rand(6, 3, dtype=complex), rand(6, 2, dtype=complex)
    got = pb.pullback(lambda a, b: np.linalg.lstsq(a, b), a, b)[0]
    assert type(got[2]) is type(np.linalg.lstsq(a, b)[2])
    want = np.linalg.lstsq(a, b)
    for x, y in zip(got, want, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12)
        assert np.result_type(x) == np.result_type(y) and np.shape(x) == np.shape(y)
    assert pb.pullback(lambda a, b: np.linalg.lstsq(a, b)[1], rand(2, 4), rand(2))[0].shape == (0,)


# ---------------------------------------------------------------- gauge and degeneracy


def test_phase_dependent_losses_raise():
    z = rand(4, 3, dtype=complex)
    with pytest.raises(GaugeError, match="phase"):
        pb.gradient(lambda a: np.sum(np.real(np.linalg.svd(a, full_matrices=False)[0])), z)
    with pytest.raises(GaugeError, match="phase"):
        pb.gradient(lambda a: np.sum(np.real(np.linalg.eigh(a)[1])), herm(ZB))
    with pytest.raises(GaugeError, match="phase"):
        pb.gradient(lambda a: np.sum(np.real(np.linalg.eig(a)[1][:, 0])), ZB[0])
    # U and Vh together, with opposite phases: invariant, so it has a gradient
    check_gradient(lambda a: (lambda u, s, vh: np.real(u[:, 0] * vh[0, 1]))(*np.linalg.svd(a)), z)


def test_extra_columns_of_a_complete_basis():
    # seen through their projector: exact; through one basis vector: no gradient
    check_gradient(complete_q_loss, rand(5, 2))
    check_gradient(svd_loss(full=True), rand(5, 2, dtype=complex))
    with pytest.raises(GaugeError, match="extra columns"):
        pb.gradient(lambda a: np.sum(np.linalg.qr(a, mode="complete")[0][:, -1] * np.arange(5)), rand(5, 2))
    with pytest.raises(GaugeError, match="extra"):
        pb.gradient(lambda a: np.sum(np.linalg.svd(a)[2][-1]), rand(2, 4))


def _rotated(values, seed=0, dtype=float):
    q = np.linalg.qr(rand(len(values), len(values), dtype=dtype, seed=seed))[0]
    return q @ np.diag(values) @ mH(q)


def test_repeated_eigenvalues_give_finite_exact_gradients():
    a = _rotated([1.0, 1.0, 3.0, 5.0])
    c = rand(4, 4)

    def cluster_projector(a):  # the eigenspace of the repeated eigenvalue as a whole
        w, v = np.linalg.eigh(a)
        return np.sum(c * (v[:, :2] @ v[:, :2].T)) + np.sum(w**2)

    g = pb.gradient(cluster_projector, a)[0]
    assert np.all(np.isfinite(g))
    check_gradient(cluster_projector, a)
    check_gradient(lambda a: np.sum(np.linalg.svd(a)[1] ** 3), _rotated([2.0, 2.0, 1.0]))  # symmetric in s
    check_gradient(lambda a: np.linalg.norm(a, "nuc"), 2 * np.linalg.qr(rand(3, 3))[0])  # all equal
    # one vector of the repeated pair: no gradient exists
    with pytest.raises(GaugeError, match="repeated"):
        pb.gradient(lambda a: np.sum(c[:, 0] * np.linalg.eigh(a)[1][:, 0] ** 2), a)


def test_nearly_repeated_eigenvalues_use_the_exact_formula():
    a = _rotated([1.0, 1.0 + 1e-7, 3.0])
    f = eigh_loss()
    check_gradient(f, a, eps=1e-10, rtol=1e-3, atol=1e-3)
    g = pb.gradient(lambda a: np.sum(f(a)), a)[0]
    assert np.all(np.isfinite(g))


def test_rank_deficient_pinv_and_zero_singular_values():
    a = rand(4, 2) @ rand(2, 3)
    g = pb.gradient(lambda a: np.sum(np.linalg.pinv(a) ** 2), a)[0]
    assert np.all(np.isfinite(g))
    check_gradient(lambda a: np.linalg.pinv(a, rcond=1e-3), a)  # the cut-off keeps the rank
    z = np.zeros((3, 2))
    assert np.all(np.isfinite(pb.gradient(lambda a: np.sum(np.abs(svd_loss()(a))), z)[0]))


# ---------------------------------------------------------------- second order and forward over reverse


def test_second_order():
    h = spd(3, 3)
    check_gradient(lambda a: pb.gradient(lambda a: np.sum(np.linalg.eigvalsh(a) ** 3), a)[0], h)
    check_gradient(lambda a: pb.gradient(lambda a: np.sum(eigh_loss()(a)), a)[0], h)
    check_gradient(lambda a: pb.gradient(lambda a: np.linalg.norm(a, "nuc"), a)[0], rand(3, 2))
    logdet = lambda a: np.sum(np.log(np.diagonal(np.linalg.cholesky(a))))  # noqa: E731
    check_gradient(lambda a: pb.gradient(logdet, a)[0], h)
    check_gradient(lambda a: pb.gradient(lambda a: np.sum(qr_loss("reduced")(a) ** 2), a)[0], T43)
    check_gradient(lambda a: pb.gradient(lambda a: np.sum(np.abs(svd_loss()(a))), a)[0], rand(3, 2))


def test_hessian_of_log_det_via_cholesky():
    a = spd(3, 3)

    def logdet(x):
        return 2 * np.sum(np.log(np.diagonal(np.linalg.cholesky(x))))

    v = rand(3, 3)
    v = v + v.T
    got = pb.jvp(lambda x: pb.gradient(logdet, x)[0], (a,), (v,))[1]
    ai = np.linalg.inv(a)
    want = -ai @ v @ ai  # d(inv(a)) along v, on the triangle cholesky reads
    want = 2 * np.tril(want, -1) + np.diag(np.diag(want))
    np.testing.assert_allclose(got, want, atol=1e-10)


# ---------------------------------------------------------------- shape sweeps


@settings(max_examples=25, deadline=None)
@given(
    batch=st.sampled_from([(), (2,), (1, 2)]),
    m=st.integers(1, 4),
    n=st.integers(1, 4),
    dtype=st.sampled_from([np.float64, np.complex128]),
    full=st.booleans(),
)
def test_svd_shapes(batch, m, n, dtype, full):
    a = rand(*batch, m, n, dtype=dtype, seed=m * 7 + n)
    check_gradient(svd_loss(full=full), a)


@settings(max_examples=25, deadline=None)
@given(
    batch=st.sampled_from([(), (2,), (1, 2)]),
    m=st.integers(1, 4),
    n=st.integers(1, 4),
    dtype=st.sampled_from([np.float64, np.complex128]),
    mode=st.sampled_from(["reduced", "complete", "r"]),
)
def test_qr_shapes(batch, m, n, dtype, mode):
    a = rand(*batch, m, n, dtype=dtype, seed=m * 5 + n)
    f = complete_q_loss if mode == "complete" and m > n else qr_loss(mode) if mode != "r" else (
        lambda a: np.linalg.qr(a, mode="r"))
    check_gradient(f, a)


@settings(max_examples=25, deadline=None)
@given(
    batch=st.sampled_from([(), (2,), (2, 1)]),
    n=st.integers(1, 4),
    dtype=st.sampled_from([np.float64, np.complex128]),
    which=st.sampled_from(["eigh", "eig", "cholesky", "pinv"]),
)
def test_square_shapes(batch, n, dtype, which):
    a = rand(*batch, n, n, dtype=dtype, seed=n)
    f = {"eigh": eigh_loss(), "eig": eig_loss, "cholesky": np.linalg.cholesky, "pinv": np.linalg.pinv}[which]
    if which == "cholesky":
        a = spd(*batch, n, n, dtype=dtype, seed=n)
    check_gradient(f, a)


def test_matrix_rank_carries_no_gradient():
    def f(a):
        return np.linalg.matrix_rank(a) * np.sum(a**2)

    a = rand(3, 4)
    np.testing.assert_allclose(pb.gradient(f, a)[0], 3 * 2 * a)


def test_list_operands_beside_traced_ones():
    a, b = spd(3, 3), [1.0, 2.0, 3.0]
    for f in (np.linalg.solve, lambda a, b: np.linalg.lstsq(a, b)[0], np.linalg.tensorsolve):
        g = pb.gradient(lambda a: np.sum(f(a, b) ** 2), a)[0]
        np.testing.assert_allclose(g, pb.gradient(lambda a: np.sum(f(a, np.array(b)) ** 2), a)[0])
    g = pb.gradient(lambda x: np.sum(np.linalg.lstsq(a.tolist(), x)[0]), np.array(b))[0]
    np.testing.assert_allclose(g, np.linalg.solve(a.T, np.ones(3)), rtol=1e-12)


# ---------------------------------------------------------------- cholesky's BLAS-3 pullback


def _blas_n():
    from pullback.rules import linalg_decomp

    return linalg_decomp.BLAS_MIN + 3


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
@pytest.mark.parametrize("batch", [(), (2,)])
def test_cholesky_blas_pullback(upper, dtype, batch):
    """Plain matrices of BLAS_MIN or more take trmm + two trsm: the general formula's gradient."""
    n = _blas_n()
    a = spd(*batch, n, n, dtype=dtype, seed=11)
    w = rand(*batch, n, n, dtype=dtype, seed=12)

    def f(a):
        return np.real(np.sum(w * np.tanh(np.linalg.cholesky(a, upper=upper) / 4)))

    check_gradient(f, a, n_directions=1)


def test_cholesky_blas_matches_general_formula(monkeypatch):
    from pullback.rules import linalg_decomp

    n = _blas_n()
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-5), (np.complex128, 1e-12), (np.complex64, 1e-5)):
        a = spd(2, n, n, dtype=dtype, seed=13).astype(dtype)
        L = np.linalg.cholesky(a)
        g = rand(2, n, n, dtype=dtype, seed=14).astype(dtype)
        g0, L0 = g.copy(), L.copy()
        for upper in (False, True):
            fac = np.conj(np.swapaxes(L, -1, -2)).copy() if upper else L
            fast = linalg_decomp.cholesky_vjp(g, fac, a, upper=upper)
            monkeypatch.setattr(linalg_decomp, "BLAS_MIN", 10**9)
            slow = linalg_decomp.cholesky_vjp(g, fac, a, upper=upper)
            monkeypatch.setattr(linalg_decomp, "BLAS_MIN", n - 3)
            assert fast.dtype == slow.dtype == np.dtype(dtype)
            np.testing.assert_allclose(fast, slow, rtol=tol, atol=tol * np.max(np.abs(slow)))
        np.testing.assert_array_equal(g, g0)  # the cotangent and the factor are never written
        np.testing.assert_array_equal(L, L0)


def test_cholesky_blas_second_order():
    n = _blas_n()
    a = spd(n, n, seed=15)
    w = rand(n, n, seed=16)

    def f(s):
        return np.sum(w * np.sin(np.linalg.cholesky(a + s[0] * np.eye(n) + s[1] * a)))

    check_gradient(pb.grad(f), np.array([0.3, 0.2]), rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.float32])
def test_values_only_decompositions_are_numpys_bits(dtype):
    """Regression: svd(compute_uv=False), svdvals, eigvalsh (and norm 'nuc'/2, cond through them)
    took their values from the decomposition with vectors, whose last bits differ from LAPACK's
    values-only call. Now NumPy's own call gives the value and the vectors come at the backward
    pass, from the full primitive (so second order holds too)."""
    rng = np.random.default_rng(7)
    a = rng.standard_normal((2, 4, 3))
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(a.shape)
    a = a.astype(dtype)
    sq = a[..., :3, :]
    h = sq + np.conj(np.swapaxes(sq, -1, -2))
    calls = [
        (lambda u: np.linalg.svd(u, compute_uv=False), a),
        (np.linalg.svdvals, a),
        (lambda u: np.linalg.norm(u, "nuc", axis=(-2, -1)), a),
        (lambda u: np.linalg.norm(u, -2, axis=(-2, -1)), a),
        (lambda u: np.linalg.cond(u), sq),
        (lambda u: np.linalg.eigvalsh(u), h),
        (lambda u: np.linalg.eigvalsh(u, UPLO="U"), sq),
        (lambda u: np.linalg.svd(u, compute_uv=False, hermitian=True), h),
    ]
    tol = {"rtol": 2e-2, "atol": 2e-3} if dtype == np.float32 else {}
    for f, x in calls:
        value, _ = pb.pullback(f, x)
        assert value.dtype == f(x).dtype and value.tobytes() == f(x).tobytes()
        if dtype != np.float32:
            check_gradient(f, x, modes=("reverse", "forward"), **tol)
    if dtype == np.float64:
        m = a[0]
        check_gradient(lambda u: pb.gradient(lambda w: np.sum(np.linalg.svdvals(w) ** 3), u)[0], m)
        check_gradient(lambda u: pb.gradient(lambda w: np.sum(np.linalg.eigvalsh(w) ** 3), u)[0], h[0])


def test_lstsq_is_numpys_bit_for_bit():
    """lstsq's values are NumPy's own (gelsd's rounding); its derivatives the svd composite's."""
    rng = np.random.default_rng(2)
    for m, n, k, cplx in [(5, 3, None, False), (6, 2, 2, True), (3, 3, None, True)]:
        a = rng.standard_normal((m, n)) + (1j * rng.standard_normal((m, n)) if cplx else 0)
        b = rng.standard_normal((m,) if k is None else (m, k))
        value, _ = pb.pullback(lambda u, v: np.linalg.lstsq(u, v, rcond=None), a, b)
        want = np.linalg.lstsq(a, b, rcond=None)
        for got, w in zip(value, want):
            assert np.asarray(got).tobytes() == np.asarray(w).tobytes()
        check_gradient(lambda u, v: np.linalg.lstsq(u, v, rcond=None)[0], a, b)


def test_full_rank_lstsq_has_no_gauge_with_repeated_singular_values():
    """Regression: lstsq went through the svd's vectors, so a full-rank matrix with a repeated
    singular value (two mirrored blocks, as Gustafsson's filtfilt builds) raised GaugeError,
    though the solution is unique. Now a reduced QR for full rank (tall and wide)."""
    import scipy.linalg as sl

    rng = np.random.default_rng(0)
    v, y = rng.standard_normal(4), rng.standard_normal((8, 3))
    w = np.arange(24.0).reshape(8, 3)

    def blocks(v):
        z = np.zeros(4)
        return np.concatenate([np.stack([v, z], 1), np.stack([z, -v[::-1]], 1)], 0)  # s = (|v|, |v|)

    for solve in (lambda a, b: np.linalg.lstsq(a, b)[0], lambda a, b: sl.lstsq(a, b)[0]):
        check_gradient(lambda v: np.sum(solve(blocks(v), y) * w[:2]), v)
        check_gradient(lambda v: np.sum(solve(blocks(v).T, y[:2]) * w), v)
        value = pb.pullback(lambda v: solve(blocks(v), y), v)[0]
        assert value.tobytes() == solve(blocks(v), y).tobytes()


@pytest.mark.parametrize("p", [None, 2, -2, 1, -1, np.inf, -np.inf, "fro", "nuc"])
def test_cond_is_numpys_value_singular_and_float32_included(p):
    """Regression: np.linalg.cond of float32 (NumPy inverts in double precision) differed in the
    last bits; a singular matrix gave nan (NumPy: inf) or raised LinAlgError. Now NumPy's own value,
    and a zero (finite) gradient where the condition number is infinite."""
    rng = np.random.default_rng(0)
    s = np.array([[1.0, 2.0], [2.0, 4.0]])
    for a in (rng.standard_normal((3, 3)).astype(np.float32),
              rng.standard_normal((2, 3, 3)).astype(np.float32), s, np.zeros((2, 2)),
              np.stack([s, np.eye(2)]), s * (1 + 0.5j)):
        f = lambda x: np.linalg.cond(x, p)  # noqa: E731
        try:
            want = f(a)
        except np.linalg.LinAlgError:  # NumPy's 'nuc' of a NaN inverse: its error
            with pytest.raises(np.linalg.LinAlgError):
                pb.pullback(f, a)
            continue
        got, back = pb.pullback(f, a)
        assert type(got) is type(want) and np.asarray(got).dtype == np.asarray(want).dtype
        assert np.asarray(got).tobytes() == np.asarray(want).tobytes()
        assert np.all(np.isfinite(back(np.ones_like(want))[0]))
    check_gradient(lambda x: np.linalg.cond(x, p), rng.standard_normal((3, 3)))


@pytest.mark.parametrize("shape", [(0, 3, 3), (2, 0, 3, 3), (0, 4, 3)])
def test_zero_size_batches_are_numpys(shape):
    """Regression: an empty batch of matrices raised in eigh, svd, qr, pinv (packing with -1),
    solve (SciPy's lu_factor) and cholesky's backward (solve_triangular); NumPy returns empty
    results. Now NumPy's (types, dtypes, shapes), with empty gradients."""
    fs = [np.linalg.eigh, np.linalg.eigvalsh, np.linalg.svd, lambda x: np.linalg.svd(x, full_matrices=False),
          lambda x: np.linalg.svd(x, compute_uv=False), np.linalg.qr,
          lambda x: np.linalg.qr(x, mode="complete"),
          np.linalg.pinv, lambda x: np.linalg.solve(x, np.zeros(shape[:-1] + (2,), x.dtype)),
          np.linalg.eig, np.linalg.inv, np.linalg.det, np.linalg.slogdet, np.linalg.cholesky]
    for dtype in (np.float64, np.float32, np.complex128):
        z = np.zeros(shape, dtype)
        for f in fs:
            try:
                want = f(z)
            except np.linalg.LinAlgError:  # not square
                with pytest.raises(np.linalg.LinAlgError):
                    pb.pullback(f, z)
                continue
            got, back = pb.pullback(f, z)
            wants, gots = (want, got) if isinstance(want, tuple) else ((want,), (got,))
            for w, g in zip(wants, gots, strict=True):
                assert type(w) is type(g) and w.dtype == g.dtype and w.shape == g.shape
            seed = tuple(np.ones_like(w) for w in wants) if isinstance(want, tuple) else np.ones_like(want)
            assert back(seed)[0].shape == shape


@pytest.mark.parametrize("shape", [(4, 3, 2), (3, 5, 2), (4, 3, 1), (3, 3, 2)])
@pytest.mark.parametrize("which", ["np.pinv", "sl.pinv", "np.lstsq", "sl.lstsq"])
def test_rank_deficient_pinv_and_lstsq_second_order(which, shape):
    """Regression: pinv/lstsq of a rank-deficient matrix (the cut-off keeps the rank) went through
    ``V_r S_r^-1 U_r^H``, whose svd tangent cuts ``1/s`` of the dropped singular values to 0 and
    so lost ``s_j du_j`` (of order one): the first derivative was right, the second was not (not
    square; square was right, and stays). The value stays the library's, bit for bit."""
    import scipy.linalg as sl

    m, n, r = shape
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, r)) @ rng.standard_normal((r, n))
    b, v = rng.standard_normal(m), rng.standard_normal((m, n))
    f = {"np.pinv": lambda a: np.linalg.pinv(a, rcond=1e-3), "sl.pinv": lambda a: sl.pinv(a, atol=1e-3),
         "np.lstsq": lambda a: np.linalg.lstsq(a, b, rcond=1e-3)[0],
         "sl.lstsq": lambda a: sl.lstsq(a, b, cond=1e-3)[0]}[which]
    w = rng.standard_normal(np.shape(f(a)))
    g = lambda a: pb.gradient(lambda a: np.sum(w * f(a)), a)[0]  # noqa: E731
    fd = (g(a + 1e-5 * v) - g(a - 1e-5 * v)) / 2e-5
    np.testing.assert_allclose(pb.jvp(g, (a,), (v,))[1], fd, atol=1e-6 * np.max(np.abs(fd)))
    u = rng.standard_normal((m, n))
    rr = pb.gradient(lambda a: np.sum(u * g(a)), a)[0]  # reverse over reverse
    fd = (g(a + 1e-5 * u) - g(a - 1e-5 * u)) / 2e-5
    np.testing.assert_allclose(rr, fd, atol=1e-6 * np.max(np.abs(fd)))
    assert np.array_equal(pb.jvp(f, (a,), (v,))[0], f(a))


@pytest.mark.parametrize("dtype", [float, complex])
def test_rank_deficient_hermitian_pinv_second_order(dtype):
    """Regression: ``pinv(a, hermitian=True)`` of a rank-deficient matrix went through eigh of
    ``a`` itself, whose zero eigenvalues are degenerate: its tangents keep only the diagonal of
    the perturbation on their eigenspace, so the second derivative was wrong. Directions off the
    Hermitian ones too (NumPy reads the lower triangle)."""
    rng = np.random.default_rng(3)
    b = rng.standard_normal((4, 2)).astype(dtype)
    if dtype is complex:
        b = b + 1j * rng.standard_normal((4, 2))
    a = b @ np.diag([1.0, -2.0]) @ b.conj().T
    w = rng.standard_normal((4, 4))
    f = lambda a: np.linalg.pinv(a, rcond=1e-3, hermitian=True)  # noqa: E731
    g = lambda a: pb.gradient(lambda a: np.sum(np.real(w * f(a))), a)[0]  # noqa: E731
    for v in (rng.standard_normal((4, 4)), (lambda x: x + x.T)(rng.standard_normal((4, 4)))):
        fd = (g(a + 1e-5 * v) - g(a - 1e-5 * v)) / 2e-5
        np.testing.assert_allclose(pb.jvp(g, (a,), (v,))[1], fd, atol=1e-6 * np.max(np.abs(fd)))
    check_gradient(f, a)
    assert np.array_equal(pb.jvp(f, (a,), (a,))[0], f(a))


def test_rank_deficient_pinv_small_kept_singular_values():
    """Regression: truncated_pinv through eigh of a formed ``a^H a`` squared the condition number
    of the kept singular values (1e-6 of the largest: first derivative 1e-5 off); from the svd's
    values and vectors it keeps the svd's accuracy, first and second order."""
    rng = np.random.default_rng(3)
    u, _, vt = np.linalg.svd(rng.standard_normal((5, 3)), full_matrices=False)
    v, w = rng.standard_normal((5, 3)), rng.standard_normal((3, 5))
    a = u @ np.diag([1.0, 1e-6, 1e-15]) @ vt
    f = lambda a: np.linalg.pinv(a, rcond=1e-8)  # noqa: E731
    x = f(a)
    # Golub-Pereyra (a is of rank 2 to rounding)
    exact = -x @ v @ x + x @ x.T @ v.T @ (np.eye(5) - a @ x) + (np.eye(3) - x @ a) @ v.T @ x.T @ x
    np.testing.assert_allclose(pb.jvp(f, (a,), (v,))[1], exact, atol=1e-8 * np.max(np.abs(exact)))
    a = u @ np.diag([1.0, 1e-4, 1e-15]) @ vt
    g = lambda a: pb.gradient(lambda a: np.sum(w * np.linalg.pinv(a, rcond=1e-6)), a)[0]  # noqa: E731
    fd = (g(a + 1e-8 * v) - g(a - 1e-8 * v)) / 2e-8
    np.testing.assert_allclose(pb.jvp(g, (a,), (v,))[1], fd, atol=1e-5 * np.max(np.abs(fd)))
