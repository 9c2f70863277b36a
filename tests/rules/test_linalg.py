"""Linear algebra: products (matmul, dot, einsum, ...), solve/inv/det/slogdet and norms."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pullback as pb
from pullback.testing import check_gradient

from .cases import case_id, check_float32, rand

A = rand(3, 4)
B = rand(4, 5)
v4 = rand(4)
Z = rand(3, 4, dtype=complex)
W = rand(4, 5, dtype=complex)
zv4 = rand(4, dtype=complex)
T = rand(2, 3, 4)
S3 = rand(3, 3) + 3 * np.eye(3)  # well conditioned
SB = rand(2, 3, 3) + 3 * np.eye(3)
SZ = rand(2, 3, 3, dtype=complex) + 3 * np.eye(3)
PATH = np.einsum_path("ij,jk,kl", A, B, rand(5, 2))[0]  # an explicit contraction path

CASES = [
    (np.matmul, lambda a, b: a @ b, (A, B)),
    (np.matmul, lambda a, b: np.matmul(a, b), (Z, W)),
    (np.matmul, lambda a, b: a @ b, (v4, rand(2, 4, 3))),
    (np.matmul, lambda a, b: a @ b, (rand(2, 1, 3, 4, dtype=complex), zv4)),
    (np.matmul, lambda a, b: a @ b, (zv4, zv4)),
    (np.matmul, lambda a, b: a @ b, (rand(2, 1, 3, 4), rand(5, 4, 2))),
    (np.tensordot, lambda a, b: np.tensordot(a, b, axes=([2, 0], [0, 1])), (T, rand(4, 2, 5))),
    (np.tensordot, lambda a, b: np.tensordot(a, b, 1), (Z, rand(4, 2, dtype=complex))),
    (np.tensordot, lambda a, b: np.tensordot(a, b, axes=0), (v4, A)),
    (np.einsum, lambda a, b: np.einsum("ij,jk->ik", a, b), (Z, W)),
    (np.einsum, lambda a, b: np.einsum("...ij,...jk", a, b), (rand(2, 1, 3, 4), rand(5, 4, 2))),
    (np.einsum, lambda a: np.einsum("ii->i", a), (S3,)),
    (np.einsum, lambda a: np.einsum("ii", a), (rand(3, 3, dtype=complex),)),
    (np.einsum, lambda a, b: np.einsum("iij,k->jk", a, b), (rand(3, 3, 2), v4)),
    (np.einsum, lambda a, b: np.einsum("ab,b->a", a, b), (rand(2, 1), rand(3))),
    (np.einsum, lambda a, b: np.einsum(a, [0, 1], b, [1, Ellipsis], [Ellipsis, 0]), (A, B)),
    (np.einsum, lambda a, b, c: np.einsum("ij,jk,kl->li", a, b, c, optimize=True), (A, B, rand(5, 2))),
    (np.einsum, lambda a, b, c: np.einsum("ij,jk,kl", a, b, c, optimize=PATH), (A, B, rand(5, 2))),
    (np.dot, np.dot, (A, B)),
    (np.dot, np.dot, (T, rand(3, 4, 2))),
    (np.dot, np.dot, (Z, zv4)),
    (np.dot, lambda a, b: np.dot(a, b), (A, np.array(2.5))),
    (np.inner, np.inner, (T, rand(5, 4))),
    (np.inner, np.inner, (zv4, zv4)),
    (np.outer, np.outer, (Z, zv4)),
    (np.vdot, np.vdot, (Z, rand(12, dtype=complex))),
    (np.vdot, np.vdot, (A, rand(4, 3))),
    (np.kron, np.kron, (A, rand(2, 1, 3))),
    (np.kron, np.kron, (zv4, Z)),
    (np.linalg.multi_dot, lambda a, b, c: np.linalg.multi_dot([a, b, c]), (v4, B, rand(5, 2))),
    (np.linalg.solve, np.linalg.solve, (S3, rand(3, 2))),
    (np.linalg.solve, np.linalg.solve, (SB, rand(3))),
    (np.linalg.solve, np.linalg.solve, (SZ, rand(2, 3, 4, dtype=complex))),
    (np.linalg.inv, np.linalg.inv, (SB,)),
    (np.linalg.inv, np.linalg.inv, (SZ,)),
    (np.linalg.det, np.linalg.det, (SB,)),
    (np.linalg.det, np.linalg.det, (rand(3, 3, dtype=complex),)),
    (np.linalg.slogdet, lambda a: np.linalg.slogdet(a).logabsdet, (rand(2, 3, 3),)),
    (np.linalg.slogdet, lambda a: np.linalg.slogdet(a)[1], (rand(3, 3, dtype=complex),)),
    (np.linalg.slogdet, lambda a: np.linalg.slogdet(a).sign, (rand(2, 3, 3, dtype=complex),)),
    (np.linalg.norm, np.linalg.norm, (T,)),
    (np.linalg.norm, lambda a: np.linalg.norm(a, axis=1, keepdims=True), (Z,)),
    (np.linalg.norm, lambda a: np.linalg.norm(a, 3), (zv4,)),
    (np.linalg.norm, lambda a: np.linalg.norm(a, np.inf, axis=-1), (T,)),
    (np.linalg.norm, lambda a: np.linalg.norm(a, "fro", axis=(2, 0)), (T,)),
    (np.linalg.norm, lambda a: np.linalg.norm(a, 1), (Z,)),
    (np.linalg.norm, lambda a: np.linalg.norm(a, 2), (Z,)),
    (np.linalg.norm, lambda a: np.linalg.norm(a, -2, axis=(2, 0), keepdims=True), (T,)),
    (np.linalg.norm, lambda a: np.linalg.norm(a, "nuc", axis=(1, 2)), (rand(2, 3, 4, dtype=complex),)),
    (np.linalg.norm, lambda a: np.linalg.norm(a, -np.inf, axis=(0, 2)), (T,)),
]

if isinstance(getattr(np, "vecdot", None), np.ufunc):
    CASES += [
        (np.vecdot, np.vecdot, (Z, zv4)),
        (np.vecdot, lambda a, b: np.vecdot(a, b, axis=0), (rand(4, 3), rand(4, 3))),
        (np.linalg.vecdot, lambda a, b: np.linalg.vecdot(a, b, axis=-2), (T, rand(3, 1))),
        (np.matvec, np.matvec, (rand(2, 3, 4, dtype=complex), zv4)),
        (np.vecmat, np.vecmat, (rand(3, dtype=complex), rand(2, 3, 4, dtype=complex))),
        (np.linalg.matmul, np.linalg.matmul, (A, B)),
        (np.linalg.outer, np.linalg.outer, (v4, rand(3, dtype=complex))),
        (np.linalg.tensordot, lambda a, b: np.linalg.tensordot(a, b, axes=1), (A, B)),
        (np.linalg.vector_norm, lambda a: np.linalg.vector_norm(a, axis=(0, 2), ord=-np.inf), (T,)),
        (np.linalg.vector_norm, lambda a: np.linalg.vector_norm(a, keepdims=True), (Z,)),
        (np.linalg.matrix_norm, np.linalg.matrix_norm, (rand(2, 3, 4, dtype=complex),)),
        (np.linalg.matrix_norm, lambda a: np.linalg.matrix_norm(a, ord=-1, keepdims=True), (T,)),
        (np.linalg.matrix_norm, lambda a: np.linalg.matrix_norm(a, ord=2), (T,)),
        (np.linalg.matrix_norm, lambda a: np.linalg.matrix_norm(a, ord="nuc"), (Z,)),
        (np.linalg.matrix_norm, lambda a: np.linalg.matrix_norm(a, ord=np.inf), (Z,)),
        (np.linalg.matrix_norm, lambda a: np.linalg.matrix_norm(a, ord=-2, keepdims=True), (T,)),
    ]






@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_float32_stays_float32(case):
    check_float32(case)


# ---------------------------------------------------------------- conventions and special cases


def test_matmul_pulls_back_with_conjugate_transposes():
    g = rand(3, 5, dtype=complex)
    _, back = pb.pullback(lambda a, b: a @ b, Z, W)
    ga, gb = back(g)
    np.testing.assert_allclose(ga, g @ W.conj().T)
    np.testing.assert_allclose(gb, Z.conj().T @ g)


def test_plain_array_on_the_left_of_matmul():
    g = pb.gradient(lambda b: np.sum(A @ b), B)[0]
    np.testing.assert_allclose(g, A.T @ np.ones((3, 5)))


def test_slogdet_real_sign_is_constant():
    def f(a):
        sign, logabsdet = np.linalg.slogdet(a)
        assert type(sign) is np.ndarray or np.isscalar(sign)
        return sign * logabsdet

    a = rand(3, 3)
    g = pb.gradient(f, a)[0]
    np.testing.assert_allclose(g, np.linalg.slogdet(a).sign * np.linalg.inv(a).T)


def test_det_gradient_is_cofactor_matrix():
    a = rand(3, 3)
    np.testing.assert_allclose(pb.gradient(np.linalg.det, a)[0], np.linalg.det(a) * np.linalg.inv(a).T)


def test_norm_ties_share_the_gradient():
    x = np.array([3.0, -3.0, 1.0])
    np.testing.assert_allclose(pb.gradient(lambda x: np.linalg.norm(x, np.inf), x)[0], [0.5, -0.5, 0.0])


def test_errors_are_numpys():
    def raised(f, *args):
        with pytest.raises(Exception) as info:
            f(*args)
        return type(info.value), str(info.value)

    cases = [
        (lambda a: np.einsum("ij,jk->ik", a, a), A),
        (lambda a: np.einsum("ijk", a), A),
        (lambda a: np.einsum("...i->i", a), A),
        (lambda a: np.linalg.norm(a, 2), T),
        (lambda a: np.linalg.norm(a, "fro"), v4),
        (lambda a: np.linalg.norm(a, axis=(0, 0)), A),
        (lambda a: np.tensordot(a, a, axes=([0], [0, 1])), A),
        (lambda a: np.linalg.solve(a, v4), S3),
        (lambda a: np.dot(a, a), A),
        (lambda a: np.dot(a, T), A),
        (lambda a: np.inner(a, B), A),
        (lambda a: np.vdot(a, v4), A),
        (lambda a: np.linalg.multi_dot([a, a]), A),
        (lambda a: a @ v4[:3], A),
    ]
    for f, x in cases:
        want = raised(f, x)
        got = raised(lambda x: pb.gradient(lambda y: np.sum(np.abs(f(y))), x), x)
        assert got == want


def test_unsupported_norm_order_raises_numpys_error():
    with pytest.raises(ValueError, match="Invalid norm order"):
        pb.gradient(lambda a: np.linalg.norm(a, 3), A)


# ---------------------------------------------------------------- second order


def test_second_order_matmul():
    b0 = rand(4, 2)
    check_gradient(lambda a: pb.gradient(lambda b: np.sum(np.sin(a @ b)), b0)[0], A)
    check_gradient(lambda b: pb.gradient(lambda a: np.sum(np.sin(a @ b)), A)[0], b0)
    check_gradient(lambda z: pb.gradient(lambda w: np.sum(np.abs(z @ w) ** 2), W)[0], Z)


def test_second_order_solve():
    b0 = rand(3)
    check_gradient(lambda a: pb.gradient(lambda b: np.sum(np.sin(np.linalg.solve(a, b))), b0)[0], S3)
    check_gradient(lambda a: pb.gradient(lambda a: np.sum(np.sin(np.linalg.solve(a, b0))), a)[0], S3)


def test_second_order_einsum_det_inv_norm():
    check_gradient(lambda a: pb.gradient(lambda a: np.sum(np.sin(np.einsum("ii,ij->j", a, a))), a)[0], S3)
    check_gradient(lambda a: pb.gradient(np.linalg.det, a)[0], S3)
    check_gradient(lambda a: pb.gradient(lambda a: np.linalg.slogdet(a)[1], a)[0], S3)
    check_gradient(lambda a: pb.gradient(lambda a: np.sum(np.abs(np.linalg.inv(a)) ** 2), a)[0], SZ[0])
    check_gradient(lambda x: pb.gradient(lambda x: np.linalg.norm(x, 3), x)[0], v4)


def test_hessian_of_quadratic_form():
    h = pb.hessian(lambda x: x @ S3 @ x, rand(3))
    np.testing.assert_allclose(h, S3 + S3.T)


# ---------------------------------------------------------------- property sweeps


def _batch(draw, n):
    return tuple(draw(st.sampled_from([1, 2])) for _ in range(n))


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_matmul_shapes(data):
    draw = data.draw
    n, k, m = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    a_vec, b_vec = draw(st.booleans()), draw(st.booleans())
    a_shape = (k,) if a_vec else _batch(draw, draw(st.integers(0, 2))) + (n, k)
    b_shape = (k,) if b_vec else _batch(draw, draw(st.integers(0, 2))) + (k, m)
    dtype = draw(st.sampled_from([np.float64, np.complex128, np.float32]))
    a = rand(*a_shape, dtype=dtype, seed=1)
    b = rand(*b_shape, dtype=dtype, seed=2)
    check_gradient(lambda a, b: a @ b, a, b)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_einsum_subscripts(data):
    draw = data.draw
    sizes = {"a": 2, "b": 3, "c": 1, "d": 2}
    n_ops = draw(st.integers(1, 3))
    ins, ops = [], []
    for i in range(n_ops):
        letters = draw(st.lists(st.sampled_from("abcd"), min_size=0, max_size=3))
        ell = draw(st.booleans())
        shape = [sizes[c] if draw(st.integers(0, 4)) else 1 for c in letters]  # sometimes broadcast
        if ell:
            batch = _batch(draw, draw(st.integers(0, 2)))
            ins.append("..." + "".join(letters))
            shape = list(batch) + shape
        else:
            ins.append("".join(letters))
        dtype = draw(st.sampled_from([np.float64, np.complex128]))
        ops.append(rand(*shape, dtype=dtype, seed=i))
    present = sorted(set("".join(ins)) - set("."))
    explicit = draw(st.booleans())
    if explicit:
        out = "".join(draw(st.permutations(present))[: draw(st.integers(0, len(present)))])
        if any("..." in s for s in ins):
            out = "..." + out
        subs = ",".join(ins) + "->" + out
    else:
        subs = ",".join(ins)
    try:
        np.einsum(subs, *ops)
    except ValueError:
        return  # not a valid einsum (e.g. repeated letters of different sizes)
    check_gradient(lambda *xs: np.einsum(subs, *xs), *ops)



# ---------------------------------------------------------------- solve keeps its factors


def test_solve_adjoint_reuses_the_forward_factorisation(monkeypatch):
    import scipy.linalg

    calls = []
    real = scipy.linalg.lu_factor

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(scipy.linalg, "lu_factor", counting)
    for a, b in [(S3, rand(3, 2)), (SZ, rand(2, 3, 4, dtype=complex)), (S3, rand(3))]:
        calls.clear()
        ga, gb = pb.gradient(lambda a, b: np.sum(np.abs(np.linalg.solve(a, b)) ** 2), a, b)
        assert len(calls) == 1  # the forward's; the adjoint solves with its factors
        x = np.linalg.solve(a, b)
        want_b = np.linalg.solve(a.conj().swapaxes(-1, -2), 2 * x)
        np.testing.assert_allclose(gb, want_b, rtol=1e-12)


def test_solve_values_and_errors_are_numpys():
    for a, b in [(S3, rand(3, 2)), (SZ.astype(np.complex64), rand(2, 3, 4).astype(np.complex64))]:
        got = pb.pullback(np.linalg.solve, a, b)[0]
        assert got.dtype == np.linalg.solve(a, b).dtype
        np.testing.assert_array_equal(got, np.linalg.solve(a, b))
    with pytest.raises(np.linalg.LinAlgError, match="Singular matrix"):
        pb.gradient(lambda a: np.sum(np.linalg.solve(a, v4)), np.ones((4, 4)))
    check_gradient(np.linalg.solve, SB, rand(1, 3, 2))  # broadcast batches: the general rule


def test_solve_values_are_numpys_bits():
    """Regression: the factor-keeping solve took its value from SciPy's getrf + getrs (another
    OpenBLAS build), which differed from NumPy's gesv in the last bits for many sizes; now the value
    is NumPy's own solve and the kept factors serve the adjoint solves."""
    rng = np.random.default_rng(1)
    for dtype in (np.float64, np.complex128):
        for n, batch, k in [(2, (), None), (8, (), 4), (17, (3,), 1), (40, (), None), (100, (3,), 4)]:
            a = rng.standard_normal(batch + (n, n)) + 2 * np.eye(n)
            b = rng.standard_normal(batch + ((n,) if k is None else (n, k)))
            if dtype == np.complex128:
                a, b = a + 1j * rng.standard_normal(a.shape), b - 1j * rng.standard_normal(b.shape)
            value, back = pb.pullback(lambda u, v: np.linalg.solve(u, v), a, b)
            assert value.tobytes() == np.linalg.solve(a, b).tobytes(), (dtype, n, batch, k)
    check_gradient(lambda u, v: np.linalg.solve(u, v), a[0, :5, :5], b[0, :5])


def _same(want, got):
    return (type(want) is type(got) and np.asarray(want).dtype == np.asarray(got).dtype
            and np.shape(want) == np.shape(got) and np.asarray(want).tobytes() == np.asarray(got).tobytes())


@pytest.mark.parametrize("shapes", [((2, 3, 4), (4, 2)), ((2, 3, 4), (2, 4, 5)), ((4,), (2, 4, 5)),
                                    ((3, 4), (2, 4, 5)), ((6, 7, 8), (3, 8, 9)), ((2, 3, 4), (4,))])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.float32])
def test_dot_of_more_than_two_axes_is_numpys_value(shapes, dtype):
    """Regression (A3): np.dot with a >2-d operand sums each entry with NumPy's dot loop; the traced
    tensordot / matmul gave other bits. Now NumPy's value, the same gradient."""
    rng = np.random.default_rng(1)
    a, b = (rng.standard_normal(s).astype(dtype) for s in shapes)
    if dtype == np.complex128:
        a, b = a + 0.5j * rng.standard_normal(a.shape), b - 0.3j * rng.standard_normal(b.shape)
    for f in (np.dot, lambda a, b: a.dot(b)):
        assert _same(f(a, b), pb.pullback(f, a, b)[0])
    if dtype != np.float32:
        check_gradient(np.dot, a, b)


@pytest.mark.parametrize("shapes", [[(2, 3), (3, 4), (4,)], [(3,), (3, 4), (4, 2)], [(3,), (3, 4), (4,)],
                                    [(10, 100), (100, 5), (5, 50)], [(5, 2), (2, 30), (30, 4), (4, 8)],
                                    [(3,), (3, 20), (20, 2), (2, 9), (9,)], [(4, 6), (6, 3), (3, 7), (7, 2)]])
def test_multi_dot_follows_numpys_order(shapes):
    """Regression (A4): multi_dot([A(2,3), B(3,4), c(4)]) is A @ (B @ c) in NumPy (its cheaper
    order), the traced (A @ B) @ c: other bits. Now NumPy's order (1-d ends, the 3-matrix rule, the
    chain order), value and type."""
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(s) for s in shapes]
    f = lambda *xs: np.linalg.multi_dot(list(xs))  # noqa: E731
    assert _same(f(*arrays), pb.pullback(f, *arrays)[0])
    check_gradient(f, *arrays)
    with pytest.raises(np.linalg.LinAlgError, match="3-dimensional array given"):
        pb.gradient(lambda a: np.sum(np.linalg.multi_dot([a, np.ones((4, 2, 2)), np.ones(2)])), arrays[0])


def test_vector_norm_and_norm_follow_numpys_steps():
    """Regression (A5): vector_norm over non-adjacent axes (a(2,1,3,4), axis=(0,-1)) summed in
    another order than NumPy's (which moves the axes to the front and flattens them); norm's
    full reductions were 0-d arrays, not NumPy scalars. Now NumPy's bits and types."""
    rng = np.random.default_rng(5)
    xs = [rng.standard_normal((2, 1, 3, 4)), rng.standard_normal((37, 29)) * (1 - 0.5j),
          rng.standard_normal((2, 3, 5, 4)).astype(np.float32)]
    bad = []
    for x in xs:
        fs = [np.linalg.norm, lambda a: np.linalg.norm(a, keepdims=True)]
        for o in (None, 1, 2, 3, 0.5, -1, np.inf, -np.inf, 0, -2.5):
            o2 = 2 if o is None else o
            fs += [lambda a, o=o: np.linalg.norm(a, o, axis=-1), lambda a, o=o: np.linalg.norm(a.ravel(), o),
                   lambda a, o=o: np.linalg.norm(a, o, axis=0, keepdims=True),
                   lambda a, o=o2: np.linalg.vector_norm(a, ord=o),
                   lambda a, o=o2: np.linalg.vector_norm(a, ord=o, axis=(0, -1)),
                   lambda a, o=o2: np.linalg.vector_norm(a, ord=o, axis=(-1, 0), keepdims=True),
                   lambda a, o=o2: np.linalg.vector_norm(a, ord=o, axis=1)]
        bad += [(x.shape, i) for i, f in enumerate(fs) if not _same(f(x), pb.pullback(f, x)[0])]
    assert not bad
    x = xs[0]
    for o in (1, 3, np.inf, 2):
        check_gradient(lambda a, o=o: np.linalg.vector_norm(a, ord=o, axis=(0, -1)), x)
    check_gradient(lambda a: np.linalg.vector_norm(a, ord=3, axis=(-1, 0), keepdims=True), xs[1][:3, :4])
    with pytest.raises(ValueError, match="repeated axis"):
        pb.gradient(lambda a: np.linalg.vector_norm(a, axis=(0, 0)), x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128, np.complex64])
def test_complex_dot_and_nd_inner_are_numpys_bits(dtype):
    """Regression: complex np.dot of 2-d operands and np.inner of N-d operands (complex or float32)
    were matmul's / tensordot's rounding, not NumPy's; now NumPy's value with the same gradient."""
    rng = np.random.default_rng(0)

    def arr(shape):
        x = rng.standard_normal(shape)
        return (x + 1j * rng.standard_normal(shape) if np.dtype(dtype).kind == "c" else x).astype(dtype)

    for f, sa, sb in [(np.dot, (3, 1), (1, 3)), (np.dot, (4, 3), (3, 5)), (np.dot, (4, 3), (3,)),
                      (np.inner, (2, 3, 4), (4,)), (np.inner, (2, 3, 4), (5, 4)),
                      (np.inner, (1, 2, 3), (1, 2, 3)), (np.inner, (2, 3, 3), (2, 3, 3)),
                      (np.inner, (3,), (3,))]:
        a, b = arr(sa), arr(sb)
        assert _same(f(a, b), pb.pullback(f, a, b)[0])
        if dtype in (np.float64, np.complex128):
            check_gradient(f, a, b)


@pytest.mark.parametrize("ord", [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf])
def test_matrix_norms_of_a_matrix_are_numpy_scalars(ord):
    """Regression: np.linalg.norm of a 2-d input with an axis pair or a matrix ord, and
    np.linalg.matrix_norm, returned a 0-d array where NumPy returns a NumPy scalar."""
    a = rand(3, 4)
    fs = [lambda x: np.linalg.norm(x, ord=ord, axis=(0, 1)),
          lambda x: np.linalg.norm(x, ord=ord, axis=(1, 0))]
    if ord is not None:
        fs += [lambda x: np.linalg.norm(x, ord=ord), lambda x: np.linalg.matrix_norm(x, ord=ord)]
    for f in fs:
        assert _same(f(a), pb.pullback(f, a)[0])
    assert _same(np.linalg.matrix_norm(a), pb.pullback(np.linalg.matrix_norm, a)[0])
    b = rand(2, 3, 4)
    f = lambda x: np.linalg.norm(x, ord=ord, axis=(2, 0))  # noqa: E731
    assert _same(f(b), pb.pullback(f, b)[0])
    check_gradient(fs[0], a)


def test_det_and_slogdet_of_a_singular_matrix_differentiate():
    """Regression: the backward and jvp of det / slogdet raised LinAlgError (inv) at a singular
    matrix. det's gradient is the adjugate transpose, finite there (by the SVD), at second order
    too; slogdet's is inf / NaN there (log|det| = -inf), without an error."""
    s = np.array([[1.0, 2.0], [2.0, 4.0]])
    np.testing.assert_allclose(pb.gradient(np.linalg.det, s)[0], [[4, -2], [-2, 1]], rtol=1e-14)
    assert pb.jvp(np.linalg.det, (s,), (np.eye(2),))[1] == pytest.approx(5, rel=1e-14)
    batch = np.stack([s, rand(2, 2), np.zeros((2, 2))])
    g = pb.pullback(np.linalg.det, batch)[1](np.ones(3))[0]
    cof = np.stack([np.array([[m[1, 1], -m[1, 0]], [-m[0, 1], m[0, 0]]]) for m in batch])
    np.testing.assert_allclose(g, cof, rtol=1e-13, atol=1e-15)
    check_gradient(np.linalg.det, batch)
    r1 = np.outer([1.0, 2.0, 3.0], [0.5, -1.0, 2.0]) * (1 + 0.5j)  # rank 1, complex
    adj = pb.pullback(np.linalg.det, r1)[1](1.0 + 0j)[0]
    np.testing.assert_allclose(adj, np.zeros((3, 3)), atol=1e-14)  # adj of rank n-2 is 0
    sing = np.array([[1.0, 2, 0], [2, 4, 1], [0, 0, 3]])  # LU meets an exact zero pivot
    assert np.linalg.det(sing) == 0
    f = lambda a: np.sum(pb.gradient(np.linalg.det, a)[0] * np.arange(9.0).reshape(3, 3))  # noqa: E731
    check_gradient(f, sing)
    with np.errstate(all="ignore"):
        g = pb.pullback(lambda a: np.linalg.slogdet(a)[1], batch)[1](np.ones(3))[0]
        assert np.all(np.isinf(g[0])) and np.all(np.isfinite(g[1]))
        pb.jvp(lambda a: np.linalg.slogdet(a)[1], (batch,), (np.ones_like(batch),))
        pb.pullback(lambda a: np.linalg.slogdet(a)[0], s * 1j)[1](1.0 + 0j)
