"""Gradient/forward time ratios of two linear-algebra workloads, pullback beside PyTorch and JAX.

* GP   Gaussian-process negative log-likelihood, n points (default 2000) in 3-D, squared-
       exponential kernel; gradient w.r.t. (log lengthscale, log signal variance, log noise):
           K = s2 exp(-D / (2 l^2)) + sn2 I;  L = cholesky(K);  a = solve(L, y)
           nll = a.a / 2 + sum(log diag L) + n log(2 pi) / 2
* NUC  nuclear-norm penalty of a 1000 x 500 matrix; gradient w.r.t. the matrix:
           loss = |A - B|_F^2 / 2 + lam * |A|_*        (np.linalg.norm(A, "nuc"))
* SGP  the GP log-likelihood through scipy.linalg: c = cho_factor(K), a = cho_solve(c, y),
           nll = y.a / 2 + sum(log diag c) + n log(2 pi) / 2
       (PyTorch: cholesky + cholesky_solve; JAX: jax.scipy.linalg.cho_factor + cho_solve)
* SNUC the nuclear-norm penalty through scipy.linalg.svd(A, full_matrices=False)
       (PyTorch, JAX: their svd, singular values summed)

"forward" is the library's plain evaluation (NumPy for pullback; no autograd for PyTorch;
the jitted value for JAX); "gradient" is value and gradient together. The ratio is the cost
of differentiating. PyTorch and JAX run only when installed; every library computes in
float64 and the script checks that their gradients agree.

Threads: ``--threads N`` (default 1) holds every library's BLAS/LAPACK and intra-op pool to N
threads (set before NumPy, PyTorch or JAX is imported). On a shared machine one thread gives
stable numbers; oversubscribed OpenBLAS threads spin and can slow a solve tenfold.

Run:  python benchmarks/linalg.py [--quick] [--reps 5] [--threads 1] [--libs pullback,torch,jax]
      [--work GP,NUC,SGP,SNUC]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path


def _threads_from_argv(argv) -> int:
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if a.startswith("--threads="):
            return int(a.split("=", 1)[1])
    return 1


THREADS = _threads_from_argv(sys.argv)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(THREADS)
if THREADS == 1:
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    ).strip()

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_common as C  # noqa: E402
import numpy as np  # noqa: E402

C.ensure_pullback_importable()


def gp_data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, (n, 3))
    d = np.sum((x[:, None, :] - x[None, :, :]) ** 2, axis=-1)
    y = np.sin(x[:, 0]) + 0.1 * rng.standard_normal(n)
    theta = np.array([0.3, 0.1, -2.0])  # log lengthscale, log signal variance, log noise variance
    return d, y, theta


def nuc_data(m, n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, n)), rng.standard_normal((m, n)), 0.5


# ---------------------------------------------------------------- each library's loss


def gp_numpy(theta, d, y):
    n = y.shape[0]
    k = np.exp(theta[1]) * np.exp(-d / (2 * np.exp(2 * theta[0]))) + np.exp(theta[2]) * np.eye(n)
    chol = np.linalg.cholesky(k)
    a = np.linalg.solve(chol, y)
    return 0.5 * (a @ a) + np.sum(np.log(np.diagonal(chol))) + 0.5 * n * math.log(2 * math.pi)


def nuc_numpy(a, b, lam):
    return 0.5 * np.sum((a - b) ** 2) + lam * np.linalg.norm(a, "nuc")


def gp_scipy(theta, d, y):
    import scipy.linalg

    n = y.shape[0]
    k = np.exp(theta[1]) * np.exp(-d / (2 * np.exp(2 * theta[0]))) + np.exp(theta[2]) * np.eye(n)
    c, lower = scipy.linalg.cho_factor(k, lower=True)
    a = scipy.linalg.cho_solve((c, lower), y)
    return 0.5 * (y @ a) + np.sum(np.log(np.diagonal(c))) + 0.5 * n * math.log(2 * math.pi)


def nuc_scipy(a, b, lam):
    import scipy.linalg

    s = scipy.linalg.svd(a, full_matrices=False)[1]
    return 0.5 * np.sum((a - b) ** 2) + lam * np.sum(s)


def runners_pullback(work, args):
    import pullback as pb

    if work in ("GP", "SGP"):
        d, y, theta = args
        f = gp_numpy if work == "GP" else gp_scipy
        return (lambda: f(theta, d, y)), (lambda: pb.value_and_gradient(f, theta, d, y)[1][0])
    a, b, lam = args
    f = nuc_numpy if work == "NUC" else nuc_scipy
    return (lambda: f(a, b, lam)), (lambda: pb.value_and_gradient(f, a, b, lam)[1][0])


def runners_torch(work, args):
    import torch

    torch.set_num_threads(THREADS)
    if work in ("GP", "SGP"):
        d, y, theta = (torch.from_numpy(v) for v in args)

        def loss(t):
            n = y.shape[0]
            k = torch.exp(t[1]) * torch.exp(-d / (2 * torch.exp(2 * t[0]))) + torch.exp(t[2]) * torch.eye(
                n, dtype=d.dtype)
            chol = torch.linalg.cholesky(k)
            logdet = torch.sum(torch.log(torch.diagonal(chol)))
            if work == "SGP":
                a = torch.cholesky_solve(y[:, None], chol)[:, 0]
                return 0.5 * (y @ a) + logdet + 0.5 * n * math.log(2 * math.pi)
            a = torch.linalg.solve(chol, y)
            return 0.5 * (a @ a) + logdet + 0.5 * n * math.log(2 * math.pi)

        x0 = theta
    else:
        a0, b, lam = args
        a0, b = torch.from_numpy(a0), torch.from_numpy(b)

        def loss(a):
            if work == "SNUC":
                s = torch.linalg.svd(a, full_matrices=False)[1]
                return 0.5 * torch.sum((a - b) ** 2) + lam * torch.sum(s)
            return 0.5 * torch.sum((a - b) ** 2) + lam * torch.linalg.matrix_norm(a, "nuc")

        x0 = a0

    def forward():
        with torch.no_grad():
            return loss(x0).item()

    def gradient():
        x = x0.detach().requires_grad_(True)
        loss(x).backward()
        return x.grad.numpy()

    return forward, gradient


def runners_jax(work, args):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import jax.scipy.linalg as jsl

    if work in ("GP", "SGP"):
        d, y, theta = (jnp.asarray(v) for v in args)

        def loss(t):
            n = y.shape[0]
            k = jnp.exp(t[1]) * jnp.exp(-d / (2 * jnp.exp(2 * t[0]))) + jnp.exp(t[2]) * jnp.eye(n)
            if work == "SGP":
                c, lower = jsl.cho_factor(k, lower=True)
                a = jsl.cho_solve((c, lower), y)
                return 0.5 * (y @ a) + jnp.sum(jnp.log(jnp.diagonal(c))) + 0.5 * n * math.log(2 * math.pi)
            chol = jnp.linalg.cholesky(k)
            a = jnp.linalg.solve(chol, y)
            return 0.5 * (a @ a) + jnp.sum(jnp.log(jnp.diagonal(chol))) + 0.5 * n * math.log(2 * math.pi)

        x0 = theta
    else:
        a0, b, lam = args
        a0, b = jnp.asarray(a0), jnp.asarray(b)

        def loss(a):
            if work == "SNUC":
                return 0.5 * jnp.sum((a - b) ** 2) + lam * jnp.sum(jnp.linalg.svd(a, full_matrices=False)[1])
            return 0.5 * jnp.sum((a - b) ** 2) + lam * jnp.linalg.norm(a, "nuc")

        x0 = a0
    f = jax.jit(loss)
    g = jax.jit(jax.value_and_grad(loss))
    return (lambda: f(x0).block_until_ready()), (lambda: np.asarray(g(x0)[1]))


RUNNERS = {"pullback": runners_pullback, "torch": runners_torch, "jax": runners_jax}
MODULES = {"pullback": "pullback", "torch": "torch", "jax": "jax"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--libs", default="pullback,torch,jax")
    ap.add_argument("--work", default="GP,NUC,SGP,SNUC", help="workloads to run")
    ap.add_argument("--threads", type=int, default=1, help="BLAS/LAPACK threads per library")
    opts = ap.parse_args(argv)
    n_gp, (m, n) = (300, (120, 60)) if opts.quick else (2000, (1000, 500))
    workloads = {
        "GP": (f"GP log-likelihood, cholesky + solve, n={n_gp}", gp_data(n_gp)),
        "NUC": (f"nuclear-norm penalty, svd, {m}x{n}", nuc_data(m, n)),
        "SGP": (f"GP log-likelihood, scipy.linalg cho_factor + cho_solve, n={n_gp}", gp_data(n_gp)),
        "SNUC": (f"nuclear-norm penalty, scipy.linalg.svd, {m}x{n}", nuc_data(m, n)),
    }
    workloads = {k: v for k, v in workloads.items() if k in opts.work.split(",")}
    libs = [lib for lib in opts.libs.split(",") if lib]
    rows = []
    for work, (title, args) in workloads.items():
        grads = {}
        for lib in libs:
            if not C.have(MODULES[lib]):
                rows.append((title, lib, None, None, "not installed"))
                continue
            try:
                fwd, grad = RUNNERS[lib](work, args)
                grads[lib] = np.asarray(grad())
                t = C.median_times({"forward": fwd, "gradient": grad}, reps=opts.reps, warmup=1)
                rows.append((title, lib, t["forward"], t["gradient"], ""))
            except Exception as e:  # a peer that fails is reported, not fatal
                rows.append((title, lib, None, None, f"failed: {type(e).__name__}: {e}"))
        ref = grads.get("pullback")
        if ref is not None:
            for lib, g in grads.items():
                err = float(np.max(np.abs(g - ref)) / max(1e-300, float(np.max(np.abs(ref)))))
                if err > 1e-6:
                    print(f"WARNING: {work}: {lib}'s gradient differs from pullback's by {err:.2e}")
    print("| workload | library | forward (ms) | value+gradient (ms) | gradient / forward |")
    print("| --- | --- | ---: | ---: | ---: |")
    for title, lib, f, g, note in rows:
        if f is None:
            print(f"| {title} | {lib} | | | {note} |")
        else:
            print(f"| {title} | {lib} | {1e3 * f:.1f} | {1e3 * g:.1f} | {g / f:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
