"""Second-order and hybrid optimizers: NNCG, FOSI, AdamQLR and OSGM against their peers.

N1  Full-batch logistic regression on L1 (the GLM benchmark's problem): NNCG against
    scikit-learn's newton-cg and lbfgs (and newton-cholesky) and SciPy's
    ``minimize(method='Newton-CG')``; gradient evaluations, Hessian-vector products and wall
    time to ‖∇f‖ <= 1e-8, all on the same objective.
F1  Mini-batch logistic regression on L1 (batch 1024): heavy-ball against FOSI-HB and Adam
    against FOSI-Adam at the same learning rates; epochs and wall time to reach the base
    optimizer's best loss within 30 epochs.
F2  A 100-dimensional quadratic made of ten randomly rotated 10×10 blocks, condition numbers
    1e2, 1e4, 1e6: iterations of GD, heavy-ball and Adam, their FOSI versions, AdamQLR and OSGM
    to a relative suboptimality of 1e-6.

    python benchmarks/second_order.py [--parts N1 F1 F2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _report import IMG, IMG_LINK, machine, markdown_table, timed_fit, write_section
from problems import make_l1
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression

import optim

SEEDS = (0, 1, 2)
GTOL = 1e-8
N1_SCHEDULES = {
    "newton-cholesky": [1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20],
    "newton-cg": [1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 32, 40, 50, 64, 80, 100],
    "lbfgs": [20, 40, 60, 80, 100, 130, 160, 200, 250, 320, 400, 500, 640, 800, 1000, 1300, 1600, 2000],
}
N1_BUDGET = 120.0
F1_EPOCHS = 30
F1_BATCH = 1024
F1_HESSIAN_BATCH = 1024
F1_GRIDS = {"heavy_ball": (0.1, 0.3, 1.0), "adam": (1e-3, 3e-3, 1e-2, 3e-2)}
F2_KAPPAS = (1e2, 1e4, 1e6)
F2_TARGET = 1e-6
F2_MAX_STEPS = 20000
F2_ADAM_GRID = (1e-3, 1e-2, 1e-1)


def _median_time(fn, repeats=3):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


# ---------------------------------------------------------------------------------------- N1


def n1():
    X, y, reg = make_l1()
    n, d = X.shape
    prob = optim.Logistic(X, y, reg)
    gnorm = lambda w: float(np.linalg.norm(prob.grad(w)))  # noqa: E731
    rows, curves = [], {}

    def run_nncg(seed):
        return optim.nncg(prob.value, np.zeros(d), jac=prob.grad, hessp=prob.hvp, hessp_blocks=True,
                          gtol=GTOL, random_state=seed)

    results = []
    for seed in SEEDS:
        t0 = time.perf_counter()
        res = run_nncg(seed)
        results.append((time.perf_counter() - t0, res))
    t_med = statistics.median(t for t, _ in results)
    res = results[0][1]
    rows.append(["NNCG (rank 30, μ auto)", "yes" if res.success else "no", f"{t_med:.2f}", res.nit,
                 res.nfev, res.njev, res.nhev, f"{res.cg_iterations}", f"{gnorm(res.x):.1e}"])
    curves["NNCG"] = (res.history["time"], res.history["grad_norm"])
    nncg_time = t_med

    # SciPy Newton-CG on the same callables, stopped by the callback at the same gradient norm.
    def run_scipy():
        seen = {"g": None}

        def jac(w):
            g = prob.grad(w)
            seen["g"] = float(np.linalg.norm(g))
            return g

        trace = {"t": [0.0], "g": [gnorm(np.zeros(d))]}
        start = time.perf_counter()

        def callback(intermediate_result):
            trace["t"].append(time.perf_counter() - start)
            trace["g"].append(seen["g"])
            if seen["g"] <= GTOL or time.perf_counter() - start > N1_BUDGET:
                raise StopIteration

        out = minimize(prob.value, np.zeros(d), jac=jac, hessp=prob.hvp, method="Newton-CG",
                       callback=callback, options={"xtol": 1e-30, "maxiter": 10000})
        return out, trace

    t_sc, (out, trace) = _median_time(run_scipy)
    reached = gnorm(out.x) <= GTOL
    verdict = "yes" if reached else f"no: stopped with status {out.status}, '{out.message}'"
    rows.append(["SciPy minimize(Newton-CG)", verdict, f"{t_sc:.2f}", out.nit, out.nfev,
                 out.njev, out.nhev, "—", f"{gnorm(out.x):.1e}"])
    curves["SciPy Newton-CG"] = (np.asarray(trace["t"]), np.asarray(trace["g"]))

    peers = {}
    for solver, schedule in N1_SCHEDULES.items():
        spent, hit, pts = 0.0, None, []
        for k in schedule:
            est = LogisticRegression(C=1.0 / (reg * n), solver=solver, max_iter=k, tol=1e-15,
                                     fit_intercept=False)
            elapsed = timed_fit(est, X, y)
            spent += elapsed
            g = gnorm(est.coef_.ravel())
            pts.append((elapsed, g))
            if g <= GTOL:
                hit = (est, elapsed, int(np.max(est.n_iter_)))
                break
            if spent > N1_BUDGET:
                break
        curves[f"sklearn {solver}"] = (np.array([p[0] for p in pts]), np.array([p[1] for p in pts]))
        if hit is None:
            rows.append([f"sklearn {solver}", "no", "—", int(np.max(est.n_iter_)), "—", "—", "—", "—",
                         f"{min(p[1] for p in pts):.1e}"])
            continue
        est, first, iters = hit
        t_peer = statistics.median([first] + [timed_fit(est, X, y) for _ in range(2)])
        peers[solver] = t_peer
        rows.append([f"sklearn {solver}", "yes", f"{t_peer:.2f}", iters, "—", "—", "—", "—",
                     f"{gnorm(est.coef_.ravel()):.1e}"])
    return {"rows": rows, "curves": curves, "nncg": nncg_time, "scipy": t_sc if reached else None,
            "peers": peers, "n": n, "d": d}


# ---------------------------------------------------------------------------------------- F1


class _FreshBatchHessian:
    """``hvp(params, v)`` on a random batch drawn afresh for each new ``params`` (each Lanczos run)."""

    def __init__(self, prob, size, seed):
        self.prob, self.size = prob, size
        self.rng = np.random.default_rng(seed)
        self.params, self.batch = None, None

    def __call__(self, params, v):
        if params is not self.params:
            self.params = params
            idx = np.sort(self.rng.choice(self.prob.n_samples, self.size, replace=False))
            self.batch = self.prob.batch(idx)
        return self.batch.hvp(params, v)


def f1_curve(prob, make_opt, seed):
    """Full loss after each epoch and the wall time spent in the optimizer up to it."""
    n, d = prob.n_samples, prob.dim
    per_epoch = -(-n // F1_BATCH)
    losses, times = [], []
    state = {"eval": 0.0, "start": None}

    def callback(info):
        if info.nit % per_epoch == 0:
            t0 = time.perf_counter()
            losses.append(prob.value(info.x))
            times.append(t0 - state["start"] - state["eval"])
            state["eval"] += time.perf_counter() - t0

    opt = make_opt(seed)
    state["start"] = time.perf_counter()
    optim.run(opt, prob, np.zeros(d), steps=F1_EPOCHS * per_epoch, batches=F1_BATCH, random_state=seed,
              callback=callback)
    return np.asarray(losses), np.asarray(times)


def f1():
    X, y, reg = make_l1()
    prob = optim.Logistic(X, y, reg)
    bases = {"heavy_ball": optim.heavy_ball, "adam": optim.adam}
    out = {}
    for name, make in bases.items():
        table = []
        for lr in F1_GRIDS[name]:
            base_runs = [f1_curve(prob, lambda s, lr=lr, make=make: make(lr), s) for s in SEEDS]
            fosi_runs = [f1_curve(prob, lambda s, lr=lr, make=make: optim.fosi(make(lr), _FreshBatchHessian(
                prob, F1_HESSIAN_BATCH, s), random_state=s), s) for s in SEEDS]
            base_loss = np.median([r[0] for r in base_runs], axis=0)
            fosi_loss = np.median([r[0] for r in fosi_runs], axis=0)
            base_time = np.median([r[1] for r in base_runs], axis=0)
            fosi_time = np.median([r[1] for r in fosi_runs], axis=0)
            target = float(base_loss.min())
            e_base = int(np.argmax(base_loss <= target)) + 1
            hit = np.flatnonzero(fosi_loss <= target)
            e_fosi = int(hit[0]) + 1 if hit.size else None
            table.append({"lr": lr, "target": target, "e_base": e_base,
                          "t_base": float(base_time[e_base - 1]), "e_fosi": e_fosi,
                          "t_fosi": None if e_fosi is None else float(fosi_time[e_fosi - 1]),
                          "base_loss": base_loss, "fosi_loss": fosi_loss,
                          "fosi_best": float(fosi_loss.min())})
        tuned = min(table, key=lambda r: r["target"])
        out[name] = {"table": table, "tuned": tuned}
    return out


# ---------------------------------------------------------------------------------------- F2


def f2_problem(kappa, seed=0, d=100, block=10):
    """Ten random rotations of 10×10 blocks holding a log-spaced spectrum from 1 down to 1/κ."""
    rng = np.random.default_rng(seed)
    lam = rng.permutation(np.logspace(0.0, -np.log10(kappa), d))
    A = np.zeros((d, d))
    for i in range(0, d, block):
        Q, _ = np.linalg.qr(rng.standard_normal((block, block)))
        A[i:i + block, i:i + block] = (Q * lam[i:i + block]) @ Q.T
    b = rng.standard_normal(d)
    return A, b


def f2_iterations(opt, A, b):
    xstar = np.linalg.solve(A, b)
    fstar = -0.5 * b @ xstar
    f0 = 0.0
    target = fstar + F2_TARGET * (f0 - fstar)

    def objective(x):
        Ax = A @ x
        return 0.5 * x @ Ax - b @ x, Ax - b

    res = optim.run(opt, objective, np.zeros(A.shape[0]), steps=F2_MAX_STEPS,
                    callback=lambda info: info.fun <= target)
    hit = np.flatnonzero(res.history["fun"] <= target)
    return (int(hit[0]) if hit.size else None), res


def f2(kappas=F2_KAPPAS):
    rows = []
    curves = {}
    for kappa in kappas:
        A, b = f2_problem(kappa)
        L = float(np.linalg.eigvalsh(A)[-1])
        hvp = lambda x, v, A=A: A @ v  # noqa: E731
        adam_lr = min(F2_ADAM_GRID, key=lambda lr: f2_iterations(optim.adam(lr), A, b)[0] or np.inf)
        methods = {
            "GD (η = 1/L)": optim.sgd(1.0 / L),
            "FOSI-GD": optim.fosi(optim.sgd(1.0 / L), hvp, random_state=0),
            "HB (η = 1/L, β = 0.9)": optim.heavy_ball(1.0 / L),
            "FOSI-HB": optim.fosi(optim.heavy_ball(1.0 / L), hvp, random_state=0),
            f"Adam (η = {adam_lr:g}, best of grid)": optim.adam(adam_lr),
            "FOSI-Adam": optim.fosi(optim.adam(adam_lr), hvp, random_state=0),
            "AdamQLR": optim.qlr(optim.adam(), hvp),
            "OSGM": optim.osgm(),
        }
        row = [f"{kappa:.0e}"]
        fstar = -0.5 * b @ np.linalg.solve(A, b)
        for label, opt in methods.items():
            it, res = f2_iterations(opt, A, b)
            sub = (res.history["fun"] - fstar) / (-fstar)
            row.append(f"— ({sub.min():.0e})" if it is None else str(it))
            if kappa == kappas[-1]:
                curves[label] = sub
        rows.append(row)
    return {"header": ["κ", *methods], "rows": rows, "curves": curves, "kappa": kappas[-1]}


# ---------------------------------------------------------------------------------------- report


def _plot(name, draw):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = draw(plt)
    IMG.mkdir(parents=True, exist_ok=True)
    fig.savefig(IMG / f"second_order_{name}.png", dpi=110)
    plt.close(fig)


def report_n1(r):
    def draw(plt):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for label, (t, g) in r["curves"].items():
            style = "-" if label in ("NNCG", "SciPy Newton-CG") else ":"
            ax.semilogy(t, g, style, marker="o", ms=3, label=label)
        ax.axhline(GTOL, color="grey", lw=0.8)
        ax.set_xlabel("wall time (s)")
        ax.set_ylabel("‖∇f‖")
        ax.set_title("N1: full-batch logistic regression (L1)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        return fig

    _plot("N1", draw)
    lines = [f"### N1: full-batch logistic regression on L1 (n = {r['n']}, d = {r['d']}, reg = 1e-4)", "",
             f"Time and work to ‖∇f‖₂ ≤ {GTOL:g} on the same objective (mean log-loss + reg/2 ‖w‖²). NNCG: "
             "default settings, block Hessian products (`hessp_blocks=True`), median time over seeds "
             f"{', '.join(map(str, SEEDS))} (counts from seed 0). SciPy Newton-CG: the same callables, "
             "stopped by its callback at the same gradient norm, median of 3. scikit-learn: growing "
             "`max_iter` with `tol=1e-15`, the first fit that reaches the gradient norm, median of 3 "
             "fits; its "
             "counts are not exposed, so only iterations are given.", "",
             markdown_table(["solver", "reached", "time (s)", "iterations", "f evals", "gradients",
                             "Hessian products", "CG iterations", "final ‖∇f‖"], r["rows"]), ""]
    fastest = min(r["peers"].items(), key=lambda kv: kv[1]) if r["peers"] else None
    if fastest:
        lines.append(f"NNCG / fastest scikit-learn solver ({fastest[0]}): {r['nncg']:.2f} s / "
                     f"{fastest[1]:.2f} s = {r['nncg'] / fastest[1]:.2f}×.")
    if r["scipy"]:
        lines.append(f"NNCG / SciPy Newton-CG: {r['nncg']:.2f} s / {r['scipy']:.2f} s = "
                     f"{r['nncg'] / r['scipy']:.2f}×.")
    lines += ["", f"![N1 gradient norm]({IMG_LINK}/second_order_N1.png)", ""]
    write_section("second-order-N1", "\n".join(lines))


def report_f1(r):
    def draw(plt):
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
        for ax, (name, label) in zip(axes, (("heavy_ball", "HB"), ("adam", "Adam")), strict=True):
            t = r[name]["tuned"]
            epochs = np.arange(1, F1_EPOCHS + 1)
            ax.plot(epochs, t["base_loss"], label=f"{label} (η = {t['lr']:g})")
            ax.plot(epochs, t["fosi_loss"], label=f"FOSI-{label}")
            ax.axhline(t["target"], color="grey", lw=0.8)
            ax.set_xlabel("epoch")
            ax.set_ylabel("full loss (median of seeds)")
            lo = t["target"] - 5 * (t["base_loss"][-1] - t["target"] + 1e-4)
            ax.set_ylim(lo, t["base_loss"][0])
            ax.legend()
        fig.suptitle("F1: mini-batch logistic regression on L1, batch 1024")
        fig.tight_layout()
        return fig

    _plot("F1", draw)
    lines = ["### F1: mini-batch logistic regression on L1 (batch 1024, 30 epochs)", "",
             "Heavy-ball (β = 0.9) and Adam against FOSI around them at the same learning rate, FOSI with "
             "its defaults (k = 5, l = 0, α = 0.1, T = W = 100 steps; learning-rate clip 3 for HB, 1 for "
             "Adam) "
             f"and Hessian products on a fresh random batch of {F1_HESSIAN_BATCH} samples per "
             "eigen-estimate. "
             f"Full loss after every epoch, element-wise median over seeds {', '.join(map(str, SEEDS))}. "
             "Target: the base's best median loss within 30 epochs; 'epochs' is the first epoch at or below "
             "it, 'time' the optimizer's wall time to that epoch (loss evaluations excluded). The tuned "
             "learning rate is the grid value with the lowest base target.", ""]
    rows = []
    for name, label in (("heavy_ball", "HB"), ("adam", "Adam")):
        for t in r[name]["table"]:
            ratio = "—" if t["e_fosi"] is None else f"{t['e_fosi'] / t['e_base']:.2f}"
            tuned = " (tuned)" if t is r[name]["tuned"] else ""
            rows.append([f"{label}{tuned}", f"{t['lr']:g}", f"{t['target']:.6f}", t["e_base"],
                         f"{t['t_base']:.2f}", "—" if t["e_fosi"] is None else t["e_fosi"],
                         "—" if t["t_fosi"] is None else f"{t['t_fosi']:.2f}", ratio,
                         f"{t['fosi_best']:.6f}"])
    lines += [markdown_table(["base", "η", "target (base best)", "base epochs", "base time (s)",
                              "FOSI epochs", "FOSI time (s)", "FOSI / base epochs", "FOSI best"], rows), "",
              f"![F1 loss per epoch]({IMG_LINK}/second_order_F1.png)", ""]
    write_section("second-order-F1", "\n".join(lines))


def report_f2(r):
    def draw(plt):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for label, sub in r["curves"].items():
            ax.semilogy(np.maximum(sub, 1e-14), label=label, lw=1)
        ax.axhline(F2_TARGET, color="grey", lw=0.8)
        ax.set_xscale("symlog", linthresh=100)
        ax.set_xlabel("iteration")
        ax.set_ylabel("(f − f*) / (f0 − f*)")
        ax.set_title(f"F2: rotated-block quadratic, κ = {r.get('kappa', F2_KAPPAS[-1]):.0e}")
        ax.legend(fontsize=7)
        fig.tight_layout()
        return fig

    _plot("F2", draw)
    lines = ["### F2: 100-dimensional quadratic with rotated blocks", "",
             "f(x) = ½ xᵀAx − bᵀx with A block diagonal, ten 10×10 blocks Q_i diag(λ) Q_iᵀ (random "
             "rotations, seed 0) sharing a log-spaced spectrum from 1 down to 1/κ; x0 = 0, b ~ N(0, I). "
             f"Iterations to (f − f*)/(f0 − f*) ≤ {F2_TARGET:g}, at most {F2_MAX_STEPS} ('—': not reached, "
             "with the lowest value seen in brackets). "
             "FOSI with defaults and exact Hessian products; AdamQLR and OSGM untuned.", "",
             markdown_table(r["header"], r["rows"]), "",
             f"![F2 convergence]({IMG_LINK}/second_order_F2.png)", ""]
    write_section("second-order-F2", "\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["N1", "F1", "F2"], choices=["N1", "F1", "F2"])
    parser.add_argument("--quick", action="store_true", help="F2 only, κ = 1e2 and 1e4")
    args = parser.parse_args(argv)
    if args.quick:
        args.parts = ["F2"]
    f2_kappas = F2_KAPPAS[:2] if args.quick else F2_KAPPAS
    write_section("second-order", "\n".join([
        "## Second-order and hybrid optimizers (`benchmarks/second_order.py`)", "",
        f"Machine: {machine()}.", ""]))
    for part in args.parts:
        t0 = time.perf_counter()
        result = {"N1": n1, "F1": f1, "F2": lambda: f2(f2_kappas)}[part]()
        {"N1": report_n1, "F1": report_f1, "F2": report_f2}[part](result)
        print(f"{part} done in {time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
