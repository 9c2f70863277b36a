"""Per-operation tape overhead on a tiny problem, where bookkeeping is all there is to measure.

A 200-operation chain on 64 float64 values, then L = sum(y), in three flavours:

* elementwise  100 x  y = sin(y) * c                              (2 ops each)
* fft           50 x  y = sin(irfft(rfft(y) * k, n=64))           (4 ops each)
* mixed        the two blocks alternating, 200 ops in all
* views         50 x  y = sin(y.reshape(8, 8).T).reshape(64)       (4 ops each, two of them views)

For each library, overhead per op = (gradient time - ideal) / 200, with
ideal = 2 x the library's plain (untraced) forward time: a reverse pass costs
about one more forward pass, so anything above that is tape overhead.
Libraries: pullback, HIPS autograd, PyTorch eager (torch.fft.rfft/irfft).

Also prints the size of pullback's engine: lines in src/pullback/core/.

Run:  python benchmarks/overhead.py [--quick] [--reps N]
"""

from __future__ import annotations

import argparse
import ast
import io
import sys
import tokenize
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_common as C  # noqa: E402
import numpy as np  # noqa: E402

N = 64
N_OPS = 200


def elementwise_block(xp, y, c, k):
    return xp.sin(y) * c


def fft_block(xp, y, c, k):
    return xp.sin(xp.fft.irfft(xp.fft.rfft(y) * k, n=N))


def views_block(xp, y, c, k):
    return xp.sin(y.reshape(8, 8).T).reshape(N)


#: chain name -> the blocks, in order, that make up exactly N_OPS operations
CHAINS = {
    "elementwise": [elementwise_block] * (N_OPS // 2),
    "fft": [fft_block] * (N_OPS // 4),
    "mixed": [fft_block, elementwise_block] * (N_OPS // 6) + [elementwise_block] * ((N_OPS % 6) // 2),
    "views": [views_block] * (N_OPS // 4),
}
OPS = {elementwise_block: 2, fft_block: 4, views_block: 4}
assert all(sum(OPS[b] for b in blocks) == N_OPS for blocks in CHAINS.values())


def chain_loss(xp, blocks, x, c, k):
    y = x
    for block in blocks:
        y = block(xp, y, c, k)
    return xp.sum(y)


def inputs():
    rng = np.random.default_rng(200)
    x = rng.standard_normal(N)
    c = 0.9 + 0.1 * rng.random(N)
    k = np.exp(-((np.arange(N // 2 + 1) / 8.0) ** 2)) * 1.5
    return x, c, k


# ---------------------------------------------------------------- one function per library
# each returns (forward, gradient): zero-argument callables for one chain


def pullback_fns(blocks, x, c, k):
    import pullback as pb

    f = lambda x: chain_loss(np, blocks, x, c, k)
    return (lambda: f(x)), (lambda: pb.gradient(f, x))


def autograd_fns(blocks, x, c, k):
    import autograd
    import autograd.numpy as anp

    f = lambda x: chain_loss(anp, blocks, x, c, k)
    g = autograd.grad(f)
    return (lambda: f(x)), (lambda: g(x))


def torch_fns(blocks, x, c, k):
    import torch

    tx = torch.from_numpy(x).requires_grad_(True)
    tc, tk = torch.from_numpy(c), torch.from_numpy(k)

    def forward():
        with torch.no_grad():
            return chain_loss(torch, blocks, tx, tc, tk)

    def gradient():
        return torch.autograd.grad(chain_loss(torch, blocks, tx, tc, tk), [tx])

    return forward, gradient


LIBS = {"pullback": ("pullback", pullback_fns), "autograd": ("autograd", autograd_fns),
        "torch": ("torch", torch_fns)}


# ---------------------------------------------------------------- engine size


def count_lines(folder: Path) -> tuple[int, int]:
    """(non-blank non-comment lines, the same without docstrings) over the .py files in ``folder``."""
    total = no_doc = 0
    for path in sorted(folder.glob("*.py")):
        src = path.read_text()
        code = set()
        for tok in tokenize.generate_tokens(io.StringIO(src).readline):
            if tok.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                                tokenize.DEDENT, tokenize.ENDMARKER):
                code.update(range(tok.start[0], tok.end[0] + 1))
        docs = set()
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body
                if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                        and isinstance(body[0].value.value, str):
                    docs.update(range(body[0].lineno, body[0].end_lineno + 1))
        total += len(code)
        no_doc += len(code - docs)
    return total, no_doc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="7 repetitions (a smoke test)")
    ap.add_argument("--reps", type=int, default=None, help="timed repetitions (default 31)")
    ap.add_argument("--libs", default=",".join(LIBS), help=f"among {', '.join(LIBS)}")
    a = ap.parse_args(argv)
    C.ensure_pullback_importable()
    reps = a.reps or (7 if a.quick else 31)

    libs = []
    for name in [s.strip() for s in a.libs.split(",") if s.strip()]:
        if C.have(LIBS[name][0]):
            libs.append(name)
        else:
            print(f"skipping {name}: not installed")

    x, c, k = inputs()
    fns, errors = {}, {}
    for chain, blocks in CHAINS.items():
        for lib in libs:
            forward, gradient = LIBS[lib][1](blocks, x, c, k)
            try:
                gradient()
            except Exception as e:  # noqa: BLE001 - a missing rule is a result
                errors[(lib, chain)] = f"{type(e).__name__}: {str(e).splitlines()[0][:90]}"
                fns[(lib, chain, "forward")] = forward
                continue
            fns[(lib, chain, "forward")] = forward
            fns[(lib, chain, "gradient")] = gradient
    # every callable interleaved, so machine noise hits all libraries alike
    t = C.median_times({"/".join(key): fn for key, fn in fns.items()}, reps=reps, warmup=3)

    rows = []
    for chain in CHAINS:
        for lib in libs:
            fwd = t[f"{lib}/{chain}/forward"]
            grad = t.get(f"{lib}/{chain}/gradient")
            if grad is None:
                rows.append([chain, lib, C.fmt(fwd * 1e6), "-", "-", "-", errors[(lib, chain)]])
                continue
            per_op = (grad - 2 * fwd) / N_OPS * 1e6
            rows.append([chain, lib, C.fmt(fwd * 1e6), C.fmt(grad * 1e6), C.fmt(grad / fwd, 2),
                         C.fmt(per_op, 2), ""])
    headers = ["chain", "library", "forward us", "gradient us", "grad/fwd", "overhead us/op", "note"]
    print(f"# tape overhead: {N_OPS}-op chains on float64[{N}], median of {reps}\n")
    print(C.machine_line() + "\n")
    print(C.markdown_table(headers, rows))
    print(f"\noverhead us/op = (gradient - 2 x forward) / {N_OPS}; forward is each library's untraced pass.")

    core = C.REPO / "src" / "pullback" / "core"
    if core.is_dir():
        total, no_doc = count_lines(core)
        print(f"\npullback engine size: {total} non-blank, non-comment lines in src/pullback/core/ "
              f"({no_doc} without docstrings)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
