"""GLM benchmark: the PROMISE solvers against scikit-learn on L1, L2 (logistic) and Q1 (ridge).

Every solver runs on the same data in this process. The score is the wall time to reach a
relative suboptimality ``(f − f*)/f* <= 1e-6``, with ``f*`` from a tight reference solve
(``LogisticRegression(solver='newton-cholesky', tol=1e-12)``; a Cholesky solve of the normal
equations for ridge). scikit-learn has no callback, so each of its solvers is run with a
growing ``max_iter`` (and ``tol=1e-15`` so the limit binds); the first run that reaches the
target gives its time, re-measured to a median of three. The Sketchy solvers stop themselves
through their callback once the target is met; their ``history['time']`` includes all work
(preconditioner, step-size estimate, per-epoch evaluation). Medians over three seeds.

S1 (sparse logistic, 100000×50000, density 1e-3; ``--quick``: S1s, 20000×10000) compares one epoch
(one pass over the data) of SketchySAGA/SVRG at their default settings with one epoch of scikit-learn's
per-sample SAGA, and the time to relative suboptimality 1e-4 of both and of L-BFGS.

    python benchmarks/glm.py [--problems L1 L2 Q1 S1] [--budget SECONDS] [--quick] [--write-docs]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import scipy.linalg
from _report import IMG, IMG_LINK, machine, markdown_table, timed_fit, write_section
from problems import make_l1, make_l2, make_r2
from sklearn.linear_model import LogisticRegression, Ridge

import optim
import rnla

TARGET = 1e-6
SEEDS = (0, 1, 2)
SKETCHY = ("sketchy_svrg", "sketchy_saga", "sketchy_katyusha")
SCHEDULES = {
    "newton-cholesky": [1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20],
    "newton-cg": [1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 32, 40, 50, 64, 80, 100],
    "lbfgs": [10, 20, 30, 40, 60, 80, 100, 130, 160, 200, 250, 320, 400, 500, 640, 800, 1000, 1300, 1600,
              2000, 2500, 3200, 4000, 5000],
    "sag": [1, 2, 3, 4, 6, 8, 11, 16, 22, 32, 45, 64, 90, 128, 180, 256, 360, 512, 720, 1024],
    "saga": [1, 2, 3, 4, 6, 8, 11, 16, 22, 32, 45, 64, 90, 128, 180, 256, 360, 512, 720, 1024],
}

#: Default caps (seconds): per Sketchy run, and per scikit-learn schedule / unpreconditioned run.
BUDGETS = {"L1": (60.0, 120.0), "L2": (60.0, 120.0), "Q1": (30.0, 60.0), "L1s": (5.0, 8.0)}

PROBLEMS = {
    "L1": ("logistic", make_l1, "X 100000×500 N(0,1), column j scaled by 3/j (seed 1); labels "
           "Bernoulli(σ(X w0)), w0 ~ 3·N(0,1); reg = 1e-4"),
    "L2": ("logistic", make_l2, "2000 random features sqrt(2/2000)·cos(Z W + c) of Z 50000×10 N(0,1) "
           "(seed 2), W ~ N(0, 1/16); labels sign(sin(ΣZ) + 0.3ε); reg = 1e-5"),
    "Q1": ("ridge", make_r2, "ridge on R2: 8000 random features of Z 20000×8 (seed 1), reg = 1e-6"),
    "L1s": ("logistic", lambda: make_l1(10000, 200), "L1's construction at 10000×200 (the quick report)"),
}


def reference(kind, X, y, reg):
    """Tight reference solution ``w*``."""
    n, d = X.shape
    if kind == "logistic":
        est = LogisticRegression(C=1.0 / (reg * n), solver="newton-cholesky", tol=1e-12, max_iter=100,
                                 fit_intercept=False)
        return est.fit(X, y).coef_.ravel()
    G = X.T @ X
    G[np.diag_indices(d)] += reg * n
    return scipy.linalg.solve(G, X.T @ y, assume_a="pos")


def sklearn_estimator(kind, solver, reg, n, max_iter):
    if kind == "logistic":
        return LogisticRegression(C=1.0 / (reg * n), solver=solver, max_iter=max_iter, tol=1e-15,
                                  fit_intercept=False)
    if solver == "cholesky":
        return Ridge(alpha=reg * n, solver="cholesky", fit_intercept=False)
    return Ridge(alpha=reg * n, solver=solver, max_iter=max_iter, tol=1e-15, fit_intercept=False,
                 random_state=0)


def run_sklearn(kind, solver, X, y, reg, prob, fstar, budget, target=TARGET):
    """Growing max_iter until the target or the budget; returns the trace and the time to target."""
    n = X.shape[0]
    schedule = [None] if solver == "cholesky" else SCHEDULES[solver]
    trace, spent, hit = [], 0.0, None
    for k in schedule:
        est = sklearn_estimator(kind, solver, reg, n, k)
        elapsed = timed_fit(est, X, y)
        spent += elapsed
        iters = int(np.max(est.n_iter_)) if getattr(est, "n_iter_", None) is not None else 1
        sub = max((prob.value(est.coef_.ravel()) - fstar) / fstar, 0.0)
        trace.append((elapsed, iters, sub))
        if sub <= target:
            hit = (est, elapsed)
            break
        if spent > budget:
            break
    if hit is None:
        return trace, None, None
    est, first = hit
    times = [first]
    for _ in range(2):
        if first > 60:
            break
        times.append(timed_fit(est, X, y))
    return trace, statistics.median(times), trace[-1][1]


def run_sketchy(name, prob, fstar, seed, budget, precondition=True, epochs=1000, target=TARGET):
    """One seeded run that stops at the target or the budget; returns the history and time to target."""
    start = time.perf_counter()

    def stop(info):
        return (info.fun - fstar) / fstar <= target or time.perf_counter() - start > budget

    res = getattr(optim, name)(prob, epochs=epochs, tol=0.0, random_state=seed, callback=stop,
                               precondition=precondition)
    h = res.history
    sub = np.maximum((h["fun"] - fstar) / fstar, 0.0)
    hits = np.flatnonzero(sub <= target)
    reached = (float(h["time"][hits[0]]), int(h["epoch"][hits[0]])) if hits.size else (None, None)
    return h, sub, reached, res


def fmt_time(t):
    return "—" if t is None else f"{t:.2f}"


def bench_problem(key, budget, peer_budget, plots=True):
    kind, make, description = PROBLEMS[key]
    X, y, reg = make()
    n, d = X.shape
    prob = (optim.Logistic if kind == "logistic" else optim.LeastSquares)(X, y, reg=reg)
    t0 = time.perf_counter()
    wstar = reference(kind, X, y, reg)
    ref_time = time.perf_counter() - t0
    fstar = prob.value(wstar)
    gstar = float(np.linalg.norm(prob.grad(wstar)))
    print(f"{key}: n={n} d={d} f*={fstar:.12g} |grad f*|={gstar:.1e} ({ref_time:.1f} s)", flush=True)

    rows, curves, sketchy_best = [], {}, {}
    for name in SKETCHY:
        times, epochs, bests = [], [], []
        for seed in SEEDS:
            h, sub, (t_hit, e_hit), _ = run_sketchy(name, prob, fstar, seed, budget)
            bests.append(float(sub.min()))
            if t_hit is not None:
                times.append(t_hit)
                epochs.append(e_hit)
            if seed == SEEDS[0]:
                curves[name] = (h["time"], h["epoch"], sub)
        med = statistics.median(times) if len(times) == len(SEEDS) else None
        sketchy_best[name] = med
        rows.append([name, f"{len(times)}/{len(SEEDS)}", fmt_time(med),
                     str(int(statistics.median(epochs))) if len(epochs) == len(SEEDS) else "—",
                     f"{min(bests):.1e}"])
        print(f"  {name}: {rows[-1]}", flush=True)
    h, sub, _, _ = run_sketchy("sketchy_sgd", prob, fstar, SEEDS[0], budget, epochs=30)
    curves["sketchy_sgd"] = (h["time"], h["epoch"], sub)
    for name in ("sketchy_svrg", "sketchy_saga"):
        plain = name.replace("sketchy_", "") + " (P = I)"
        h, sub, (t_hit, e_hit), _ = run_sketchy(name, prob, fstar, SEEDS[0], peer_budget, precondition=False)
        curves[plain] = (h["time"], h["epoch"], sub)
        rows.append([plain, "1/1" if t_hit is not None else "0/1", fmt_time(t_hit),
                     "—" if e_hit is None else str(e_hit), f"{sub.min():.1e}"])
        print(f"  {plain}: {rows[-1]}", flush=True)

    peers = (["lbfgs", "newton-cg", "newton-cholesky", "sag", "saga"] if kind == "logistic"
             else ["cholesky", "sag", "saga"])
    peer_times = {}
    for solver in peers:
        trace, t_hit, iters = run_sklearn(kind, solver, X, y, reg, prob, fstar, peer_budget)
        label = ("LogisticRegression" if kind == "logistic" else "Ridge") + f"({solver})"
        peer_times[label] = t_hit
        arr = np.array(trace)
        curves[label] = (arr[:, 0], arr[:, 1], arr[:, 2])
        rows.append([label, "1/1" if t_hit is not None else "0/1", fmt_time(t_hit),
                     "—" if iters is None else str(iters), f"{arr[:, 2].min():.1e}"])
        print(f"  {label}: {rows[-1]}", flush=True)
    if kind == "ridge":
        t0 = time.perf_counter()
        w, _ = rnla.nystrom_pcg(rnla.GramOperator(X), X.T @ y / n, reg, rtol=1e-8, random_state=0)
        t_pcg = time.perf_counter() - t0
        sub = max((prob.value(w) - fstar) / fstar, 0.0)
        rows.append(["rnla.nystrom_pcg (rtol 1e-8)", "1/1" if sub <= TARGET else "0/1", f"{t_pcg:.2f}", "—",
                     f"{sub:.1e}"])
        print(f"  nystrom_pcg: {rows[-1]}", flush=True)

    best = min((t for t in sketchy_best.values() if t is not None), default=None)
    fastest_peer = min((t for t in peer_times.values() if t is not None), default=None)
    if plots:
        plot(key, curves)
    return dict(key=key, description=description, n=n, d=d, fstar=fstar, rows=rows, best=best,
                budget=budget, peer_budget=peer_budget,
                sketchy=sketchy_best, peers=peer_times, fastest_peer=fastest_peer, ref_time=ref_time)


def plot(key, curves):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 5.2))
    floor = 1e-12
    for label, (t, e, sub) in curves.items():
        style = "-" if label.startswith("sketchy") else ("--" if "(P = I)" in label else ":")
        marker = "" if label.startswith("sketchy") or "(P = I)" in label else "o"
        axes[0].semilogy(t, np.maximum(sub, floor), style, marker=marker, ms=3, label=label)
        axes[1].semilogy(e, np.maximum(sub, floor), style, marker=marker, ms=3, label=label)
    for ax, xlabel in zip(axes, ("wall time (s)", "epochs (scikit-learn: iterations)"), strict=True):
        ax.axhline(TARGET, color="grey", lw=0.8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("(f − f*) / f*")
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_xscale("log")
    axes[1].set_xscale("symlog", linthresh=10)
    axes[1].set_xlim(left=0)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=4, frameon=False)
    fig.suptitle(f"{key}: relative suboptimality")
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    IMG.mkdir(parents=True, exist_ok=True)
    fig.savefig(IMG / f"glm_{key}.png", dpi=110)
    plt.close(fig)


def report(results):
    header = [
        "## GLM solvers: the PROMISE family against scikit-learn (`benchmarks/glm.py`)",
        "",
        f"Machine: {machine()}.",
        "",
        f"Time to relative suboptimality (f − f*)/f* ≤ {TARGET:g}, with f* from a tight reference solve. "
        "Sketchy solvers: default settings (rank 10, b_H = ⌊√n⌋, b_g = 256, automatic step size), "
        f"medians over seeds {', '.join(map(str, SEEDS))}, time from the call (preconditioner, step-size "
        "estimate and the per-epoch full evaluation included), each run capped at the problem's "
        "budget (below). '(P = I)' rows are the same SVRG/SAGA code with the identity preconditioner and the "
        "same step-size rule. scikit-learn solvers: growing `max_iter` with `tol=1e-15`; the first run "
        "that reaches the target, median of three fits; each solver's schedule (and each "
        "'(P = I)' run) capped at the problem's peer budget. 'reached' counts runs that met the "
        "target; 'best' is the lowest suboptimality seen.",
    ]
    write_section("glm", "\n".join(header))
    for r in results:
        lines = [f"### {r['key']} (n = {r['n']}, d = {r['d']})", "", r["description"] + ".",
                  f"f* = {r['fstar']:.12g} (reference solve {r['ref_time']:.1f} s). Budgets: "
                  f"{r['budget']:g} s per Sketchy run, {r['peer_budget']:g} s per peer.", "",
                  markdown_table(["solver", "reached", "time to 1e-6 (s)", "epochs / iterations", "best"],
                                 r["rows"]), ""]
        if r["best"] is not None and r["fastest_peer"] is not None:
            ratio = r["best"] / r["fastest_peer"]
            lines.append(f"Best Sketchy solver / fastest scikit-learn solver: "
                         f"{r['best']:.2f} s / {r['fastest_peer']:.2f} s = {ratio:.2f}×.")
        elif r["best"] is None:
            lines.append("No Sketchy solver reached the target on every seed within the budget.")
        lines += ["", f"![{r['key']} convergence]({IMG_LINK}/glm_{r['key']}.png)", ""]
        write_section(f"glm-{r['key']}", "\n".join(lines))


#: Sparse logistic problems (n, d, density); S1s is the quick variant.
SPARSE = {"S1": (100000, 50000, 1e-3), "S1s": (20000, 10000, 1e-3)}
SPARSE_TARGET = 1e-4
SPARSE_EPOCHS = 5
#: Seconds per run (Sketchy run, scikit-learn schedule) for the time to SPARSE_TARGET.
SPARSE_BUDGET = {"S1": 60.0, "S1s": 15.0}


def make_s1(n, d, density, seed=3):
    """CSR X with ``density`` of its entries N(0, 1) at uniform positions (seed 3), labels
    Bernoulli(σ(X w0)) with w0 ~ N(0, 1); reg = 1e-4."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, format="csr", random_state=rng)
    X.data = rng.standard_normal(X.nnz)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ rng.standard_normal(d))))).astype(np.float64)
    return X, y, 1e-4


def sklearn_saga_epochs(X, y, reg, epochs, seed):
    est = LogisticRegression(C=1.0 / (reg * X.shape[0]), solver="saga", max_iter=epochs, tol=0.0,
                             fit_intercept=False, random_state=seed)
    return est, timed_fit(est, X, y)


def epoch_overheads(prob, repeats=3):
    """Milliseconds of the per-epoch work besides the minibatch steps, timed alone at w = 0 (medians):
    the preconditioner refresh (Nyström sketch and step-size estimate, default settings) and one full
    evaluation of the objective and gradient."""
    w = np.zeros(prob.dim)
    rng = np.random.default_rng(0)
    refresh, evaluation = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        P = optim.hessian_preconditioner(prob, w, random_state=rng)
        optim.preconditioned_smoothness(prob, w, P, random_state=rng)
        refresh.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        prob.value_and_grad(w)
        evaluation.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(refresh), 1e3 * statistics.median(evaluation)


def bench_sparse(key):
    n, d, density = SPARSE[key]
    X, y, reg = make_s1(n, d, density)
    prob = optim.Logistic(X, y, reg=reg)
    t0 = time.perf_counter()
    ref = LogisticRegression(C=1.0 / (reg * n), solver="lbfgs", tol=1e-12, max_iter=20000,
                             fit_intercept=False)
    fstar = prob.value(ref.fit(X, y).coef_.ravel())
    ref_time = time.perf_counter() - t0
    print(f"{key}: n={n} d={d} nnz={X.nnz} f*={fstar:.12g} (L-BFGS reference {ref_time:.1f} s)", flush=True)
    E = SPARSE_EPOCHS
    per_epoch = {"LogisticRegression(saga)": [], "sketchy_saga": [], "sketchy_svrg": []}
    losses = {}
    for seed in SEEDS:  # alternated: scikit-learn, then ours, seed by seed
        _, t = sklearn_saga_epochs(X, y, reg, E, seed)
        per_epoch["LogisticRegression(saga)"].append(t / E)
        for name in ("sketchy_saga", "sketchy_svrg"):
            res = getattr(optim, name)(prob, epochs=E, tol=0.0, random_state=seed)
            per_epoch[name].append(res.history["time"][-1] / E)  # setup at x0 included
            losses.setdefault(name, res.history["fun"][1:])
    losses["LogisticRegression(saga)"] = [
        prob.value(sklearn_saga_epochs(X, y, reg, k, SEEDS[0])[0].coef_.ravel()) for k in range(1, E + 1)]
    refresh_ms, eval_ms = epoch_overheads(prob)
    print(f"  per epoch: preconditioner refresh {refresh_ms:.0f} ms, full evaluation {eval_ms:.0f} ms",
          flush=True)
    base = statistics.median(per_epoch["LogisticRegression(saga)"])
    rows = []
    for name, times in per_epoch.items():
        med = statistics.median(times)
        rows.append([name, f"{1e3 * med:.0f}", f"{med / base:.2f}"] + [f"{f:.5f}" for f in losses[name]])
        print(f"  epoch: {rows[-1]}", flush=True)
    to_target = []
    budget = SPARSE_BUDGET[key]
    for name in ("sketchy_saga", "sketchy_svrg"):
        hits = [run_sketchy(name, prob, fstar, seed, budget, target=SPARSE_TARGET)[2] for seed in SEEDS]
        ok = [h for h in hits if h[0] is not None]
        med = statistics.median(h[0] for h in ok) if len(ok) == len(SEEDS) else None
        epochs = str(int(statistics.median(h[1] for h in ok))) if med is not None else "—"
        to_target.append([name, f"{len(ok)}/{len(SEEDS)}", fmt_time(med), epochs])
        print(f"  target: {to_target[-1]}", flush=True)
    for solver in ("saga", "lbfgs"):
        _, t_hit, iters = run_sklearn("logistic", solver, X, y, reg, prob, fstar, budget,
                                      target=SPARSE_TARGET)
        to_target.append([f"LogisticRegression({solver})", "1/1" if t_hit is not None else "0/1",
                          fmt_time(t_hit), "—" if iters is None else str(iters)])
        print(f"  target: {to_target[-1]}", flush=True)
    lines = [
        f"### {key}: sparse logistic regression (n = {n}, d = {d}, density {density:g})", "",
        "CSR X with uniformly placed N(0, 1) entries, labels Bernoulli(σ(X w0)), w0 ~ N(0, 1), reg = 1e-4, "
        f"no intercept; {X.nnz} stored entries. f* = {fstar:.12g} from L-BFGS with tol 1e-12 "
        f"({ref_time:.1f} s).", "",
        f"One epoch is one pass over the data. Sketchy solvers: default settings (b_g = 256, rank 10, "
        "the preconditioner and step size refreshed every epoch), time per epoch = total time of "
        f"{E} epochs / {E} with all work included (preconditioner, step size, per-epoch full evaluation, "
        f"setup), medians over seeds {', '.join(map(str, SEEDS))}. scikit-learn's SAGA is per sample "
        f"(batch 1, lazy sparse updates): `max_iter={E}, tol=0` fit / {E}, median of three, alternated "
        "with ours. The loss columns are the objective after each epoch (seed 0), so the per-epoch "
        "progress can be compared as well as the cost.", "",
        markdown_table(["solver", "ms / epoch", "× sklearn saga"] + [f"f after {k}" for k in range(1, E + 1)],
                       rows), "",
        f"Of a Sketchy epoch, {refresh_ms:.0f} ms is the preconditioner refresh (the Nyström sketch of a "
        f"⌊√n⌋-sample Hessian at d = {d} and the step-size estimate, timed alone at w = 0, median of "
        f"three) and {eval_ms:.0f} ms the full evaluation for the history; the rest is the "
        f"{-(-n // 256)} minibatch steps.",
        "",
        f"Time to relative suboptimality {SPARSE_TARGET:g} (Sketchy: callback stop, medians over seeds; "
        f"scikit-learn: growing `max_iter`, median of three; {budget:g} s cap per run):", "",
        markdown_table(["solver", "reached", f"time to {SPARSE_TARGET:g} (s)", "epochs / iterations"],
                       to_target),
        "",
    ]
    return dict(key=key, markdown="\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="+", default=["L1", "L2", "Q1", "S1"],
                        choices=list(PROBLEMS) + list(SPARSE))
    parser.add_argument("--budget", type=float, default=None, help="seconds per Sketchy run")
    parser.add_argument("--peer-budget", type=float, default=None, help="seconds per peer schedule")
    parser.add_argument("--quick", action="store_true", help="L1s (10000×200) and S1s (20000×10000) only")
    parser.add_argument("--write-docs", action="store_true", help="write the sections of docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.quick:
        args.problems = ["L1s", "S1s"]
    results, sparse = [], []
    for key in args.problems:
        if key in SPARSE:
            sparse.append(bench_sparse(key))
            continue
        budget = args.budget if args.budget is not None else BUDGETS[key][0]
        peer_budget = args.peer_budget if args.peer_budget is not None else BUDGETS[key][1]
        results.append(bench_problem(key, budget, peer_budget, plots=args.write_docs))
    if args.write_docs:
        if results:
            report(results)
        for r in sparse:
            write_section(f"glm-{r['key']}", r["markdown"])
    else:
        for r in sparse:
            print(r["markdown"])


if __name__ == "__main__":
    main()
