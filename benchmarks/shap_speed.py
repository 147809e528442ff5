"""Shapley speed: batched exact enumeration against SHAP's KernelExplainer, and trace throughput.

The published configuration (original IKNet, 50 background poses, 20 explained poses) runs with
``"exact"`` and with KernelExplainer (``l1_reg=False``, all 126 coalitions) in the same run; the
script prints both times (best of ``--repeats``, explainer construction included), their ratio
and the largest difference between their values. Both methods evaluate the model through the
same batched float32 forward pass, so the ratio measures the algorithms, not the model wrapper.
The same comparison follows for the other models, then DeepExplainer's time and its gap to exact,
then per-step trace throughput: one pose per call, as the episode runner calls it, against a
k-means background of ``--trace-background`` rows.

Every time is printed as wall seconds and, in brackets, this process's CPU seconds: with
``--threads 1`` the CPU time is what the call takes on an otherwise idle core, which keeps the
figures meaningful on a machine shared with other jobs (with two threads, OpenMP spin-waiting
inflates both under load).

Models come from shipped checkpoints; an architecture without one is built with seeded random
weights (said so in the output): speed does not depend on the weights, values do.

Run: ``python benchmarks/shap_speed.py [--repeats 3] [--threads N]``
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from agents.iknet import MODEL_NAMES, build_model, load_model
from evaluation.explain import TraceExplainer, explain, published_setup
from sim.errors import CheckpointError
from sim.robot.kinematics import forward_kinematics, sample_joints


def best_time(function, repeats: int) -> tuple[float, object]:
    """Best-of-``repeats`` wall time (s) and the last result."""
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def best_cpu_time(function, repeats: int) -> float:
    """Best-of-``repeats`` CPU time of this process (s): with one torch thread, the wall time the
    call would take on an otherwise idle core (other jobs' load does not count)."""
    best = np.inf
    for _ in range(repeats):
        start = time.process_time()
        function()
        best = min(best, time.process_time() - start)
    return best


def models(seed: int) -> dict[str, tuple[torch.nn.Module, str]]:
    """Name -> (eval-mode model, where its weights come from)."""
    found = {}
    for name in MODEL_NAMES:
        try:
            found[name] = (load_model(name), "checkpoint")
        except CheckpointError:
            found[name] = (build_model(name, seed=seed).eval(), "random weights (no checkpoint)")
    return found


def forward_floor(model: torch.nn.Module, rows: int, repeats: int) -> float:
    """Best wall seconds of the model's bare batched forward pass over ``rows`` poses: the time
    any method needing that many model rows cannot beat."""
    from evaluation.explain.core import DEFAULT_BATCH_ROWS, forward_batched

    inputs = torch.from_numpy(np.random.default_rng(0).normal(size=(rows, 7)))
    return best_time(lambda: forward_batched(model, inputs, DEFAULT_BATCH_ROWS), repeats)[0]


def compare(model: torch.nn.Module, X: np.ndarray, background: np.ndarray, repeats: int) -> dict[str, float]:
    """Wall and CPU seconds of the three methods, kernel/exact ratios, max |exact - kernel|, gradient
    gap, and the forward-pass floor of the model rows both exact and Kernel SHAP evaluate."""
    row, values = {}, {}
    for method in ("exact", "kernel", "gradient"):
        call = lambda method=method: explain(model, X, background, method)  # noqa: E731
        row[f"{method}_s"], result = best_time(call, repeats)
        row[f"{method}_cpu_s"], values[method] = best_cpu_time(call, repeats), result.values
    row["ratio"] = row["kernel_s"] / row["exact_s"]
    row["cpu_ratio"] = row["kernel_cpu_s"] / row["exact_cpu_s"]
    row["max_diff_rad"] = float(np.abs(values["exact"] - values["kernel"]).max())
    row["gradient_gap"] = float(np.abs(values["gradient"] - values["exact"]).sum() / np.abs(values["exact"]).sum())
    model_rows = len(X) * (2**7 - 2) * len(background) + len(X) + len(background)
    row["model_rows"] = model_rows
    row["floor_s"] = forward_floor(model, model_rows, repeats)
    return row


def trace_rates(model: torch.nn.Module, pool: np.ndarray, steps: int, size: int, repeats: int) -> tuple[float, float]:
    """Control steps per second (wall, CPU) of TraceExplainer('exact') explaining one pose per call."""
    tracer = TraceExplainer(model, pool, size=size)
    tracer.explain(pool[0])  # warm-up

    def run() -> None:
        for pose in pool[:steps]:
            tracer.explain(pose)

    return steps / best_time(run, repeats)[0], steps / best_cpu_time(run, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3, help="timings keep the best of this many runs")
    parser.add_argument("--trace-steps", type=int, default=200, help="single-pose calls per trace timing")
    parser.add_argument("--trace-background", type=int, default=16, help="k-means background rows of traces")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads is not None:
        if args.threads < 1:
            parser.error("--threads must be >= 1")
        torch.set_num_threads(args.threads)
    print(f"seed {args.seed}, torch threads {torch.get_num_threads()}, best of {args.repeats}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    rng = np.random.default_rng(args.seed)
    pool = forward_kinematics(sample_joints(rng, 2000))
    X, background = published_setup(pool, seed=rng)
    catalogue = models(args.seed)
    explain(catalogue["original"][0], X[:2], background[:5], "kernel")  # imports shap once, outside the timings

    print(f"\nexact vs KernelExplainer, {len(X)} poses x {len(background)} background (published setup first);"
          " seconds are wall (CPU) time")
    print(f"{'model':<21}{'exact s':>16}{'kernel s':>16}{'ratio (CPU)':>14}{'max|diff| rad':>15}"
          f"{'gradient s':>16}{'grad gap':>9}  weights")
    rows = {}
    for name in ("original",) + tuple(n for n in MODEL_NAMES if n != "original"):
        model, source = catalogue[name]
        row = rows[name] = compare(model, X, background, args.repeats)
        cells = {m: f"{row[m + '_s']:.3f} ({row[m + '_cpu_s']:.3f})" for m in ("exact", "kernel", "gradient")}
        print(f"{name:<21}{cells['exact']:>16}{cells['kernel']:>16}{row['ratio']:>6.2f}x ({row['cpu_ratio']:.2f}x)"
              f"{row['max_diff_rad']:>15.2e}{cells['gradient']:>16}{row['gradient_gap']:>9.1%}  {source}")
    print("ratio = kernel / exact time; grad gap = sum|gradient - exact| / sum|exact| "
          "(DeepExplainer is DeepLIFT, not interventional Shapley)")
    print("\nforward-pass floor: both exact and KernelExplainer evaluate the same model rows "
          "(126 coalitions x background per pose)")
    print(f"{'model':<21}{'rows':>9}{'floor s':>10}{'exact/floor':>13}{'kernel/floor':>14}{'best possible ratio':>21}")
    for name, row in rows.items():
        print(f"{name:<21}{row['model_rows']:>9}{row['floor_s']:>10.3f}{row['exact_s'] / row['floor_s']:>12.2f}x"
              f"{row['kernel_s'] / row['floor_s']:>13.2f}x{row['kernel_s'] / row['floor_s']:>20.2f}x")
    print("best possible ratio = kernel / floor: what an exact method evaluating the same rows could reach at most")

    print(f"\ntrace: TraceExplainer('exact'), one pose per call, {args.trace_background} k-means background rows")
    rates = {}
    for name, (model, _) in catalogue.items():
        rates[name], cpu_rate = trace_rates(model, pool, args.trace_steps, args.trace_background, args.repeats)
        print(f"{name:<22}{rates[name]:>8.0f} steps/s wall ({1e3 / rates[name]:.2f} ms/step), "
              f"{cpu_rate:>6.0f} steps/s of CPU time")

    targets = {
        "exact >= 3x kernel (original, published setup)": rows["original"]["ratio"] >= 3.0,
        "exact = kernel within 1e-4 rad": max(row["max_diff_rad"] for row in rows.values()) <= 1e-4,
        "traces >= 100 steps/s for every model": min(rates.values()) >= 100.0,
    }
    print("\ntargets: " + "; ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in targets.items()))


if __name__ == "__main__":
    main()
