"""Benchmark of onecycle against numpy and torch.

    python benches/bench.py [--steps N] [--quick] [--json]

Before timing, a numpy-vectorized reference of the 1cycle schedule (written below, in
torch's order of operations) is compared bit for bit (np.array_equal) with the values
torch's OneCycleLR leaves in group['lr'] and group['momentum'] after construction and
after each step, for two- and three-phase, cos and linear schedules of 2,000 steps (plus
the extra step torch allows); onecycle.schedule() is compared the same way. At the
benchmark size, schedule() is compared with the reference.

Rows: time, steps per second, and a plain comparison. Each is the best of several
repeats (time.perf_counter); N = --steps, 10,000,000 by default, 1,000,000 with --quick.

  schedule() cos f64      onecycle.schedule(N, 0.1): two-phase, cos, float64.
  schedule() linear f64   the same with anneal_strategy='linear'.
  schedule() cos f32      the same as the first with dtype=numpy.float32.
  numpy reference         the reference below at N steps (float64, cos): one arange,
                          one np.cos and a few in-place array operations per phase.
  torch OneCycleLR loop   torch's scheduler.step() in a Python loop over 200,000 steps
                          (SGD over one 4-element parameter, momentum=0.9; the optimizer
                          is stepped once, outside the timing), scaled linearly to N.
  onecycle OneCycleLR     the same loop with the drop-in onecycle.OneCycleLR.
  floor: numpy cos        np.cos over N float64 in [0, pi] into a preallocated array:
                          one cosine per step, numpy's, single-threaded.
  floor: write f64/f32    np.empty(N) twice and .fill(1.0) on both: allocating and
                          writing the two output arrays, single-threaded.
  small call              schedule(1000, 0.1): median of many calls, per call.
  sweep: one call         schedule(100_000, max_lr=<64 values>): one (64, 100000) call.
  sweep: 64 calls         the same 64 schedules, one call each.

schedule() fills large windows on all cores (rayon); the numpy rows use one thread.
numpy asks the kernel for transparent huge pages for large arrays (madvise), so its fresh
arrays fault in more cheaply than memory from a plain malloc: the write floors are floors.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time

import numpy as np
import onecycle

try:
    import torch
    from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR
except ImportError:
    torch = None

MAX_LR = 0.1
LOOP_STEPS = 200_000
CHECK_STEPS = 2_000
SWEEP_STEPS, SWEEP_SIZE = 100_000, 64
REPEATS = 5  # best of, for the array rows (3 for the loops)


def reference(
    total_steps,
    max_lr,
    *,
    pct_start=0.3,
    anneal_strategy="cos",
    base_momentum=0.85,
    max_momentum=0.95,
    div_factor=25.0,
    final_div_factor=1e4,
    three_phase=False,
    stop=None,
):
    """(lr, momentum) for steps [0, stop), in numpy, with torch's operations in its order."""
    stop = total_steps if stop is None else stop
    initial_lr = max_lr / div_factor
    min_lr = initial_lr / final_div_factor
    if three_phase:
        ends = [float(pct_start * total_steps) - 1, float(2 * pct_start * total_steps) - 2, total_steps - 1]
        values = [
            (initial_lr, max_lr, max_momentum, base_momentum),
            (max_lr, initial_lr, base_momentum, max_momentum),
            (initial_lr, min_lr, max_momentum, max_momentum),
        ]
    else:
        ends = [float(pct_start * total_steps) - 1, total_steps - 1]
        values = [
            (initial_lr, max_lr, max_momentum, base_momentum),
            (max_lr, min_lr, base_momentum, max_momentum),
        ]
    lr, momentum = np.empty(stop), np.empty(stop)
    lo, start_step = 0, 0.0
    for i, (end_step, (lr0, lr1, m0, m1)) in enumerate(zip(ends, values, strict=True)):
        # A step belongs to the first phase whose end_step >= step (else the last phase).
        hi = stop if i == len(ends) - 1 else max(lo, min(stop, math.floor(end_step) + 1))
        if hi > lo:
            pct = np.arange(lo, hi, dtype=np.float64)
            pct -= start_step
            pct /= end_step - start_step
            if anneal_strategy == "cos":  # end + (start - end) / 2.0 * (cos(pi * pct) + 1)
                pct *= np.pi
                np.cos(pct, out=pct)
                pct += 1
                for out, start, end in ((lr, lr0, lr1), (momentum, m0, m1)):
                    np.multiply(pct, (start - end) / 2.0, out=out[lo:hi])
                    out[lo:hi] += end
            else:  # (end - start) * pct + start
                for out, start, end in ((lr, lr0, lr1), (momentum, m0, m1)):
                    np.multiply(pct, end - start, out=out[lo:hi])
                    out[lo:hi] += start
        lo, start_step = hi, end_step
    return lr, momentum


def torch_values(total_steps, anneal_strategy, three_phase):
    """group['lr'] and group['momentum'] after construction and after each of total_steps
    steps of torch's OneCycleLR (the last one is the extra step torch allows)."""
    param = torch.nn.Parameter(torch.zeros(4))
    opt = torch.optim.SGD([param], lr=MAX_LR, momentum=0.9)
    sched = TorchOneCycleLR(
        opt, MAX_LR, total_steps=total_steps, anneal_strategy=anneal_strategy, three_phase=three_phase
    )
    group = opt.param_groups[0]
    lrs, momenta = [group["lr"]], [group["momentum"]]
    for _ in range(total_steps):
        opt.step()
        sched.step()
        lrs.append(group["lr"])
        momenta.append(group["momentum"])
    return np.array(lrs), np.array(momenta)


def check_against_torch():
    """Per case: in how many of its steps the reference and schedule() differ from torch."""
    results = []
    for three_phase in (False, True):
        for anneal in ("cos", "linear"):
            want = torch_values(CHECK_STEPS, anneal, three_phase)
            kw = dict(anneal_strategy=anneal, three_phase=three_phase, stop=CHECK_STEPS + 1)
            ref = reference(CHECK_STEPS, MAX_LR, **kw)
            got = onecycle.schedule(CHECK_STEPS, MAX_LR, **kw)
            results.append(
                {
                    "case": f"{'three' if three_phase else 'two'}-phase {anneal}",
                    "steps": CHECK_STEPS + 1,
                    "reference_differs": int(np.sum((ref[0] != want[0]) | (ref[1] != want[1]))),
                    "schedule_differs": int(np.sum((got[0] != want[0]) | (got[1] != want[1]))),
                }
            )
    return results


def best(fn, repeats):
    """Fastest of `repeats` calls of fn, in seconds (the result is freed after timing)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
        del result
    return min(times)


def loop_time(cls, steps, repeats):
    """Seconds for `steps` scheduler.step() calls, best of `repeats` fresh schedulers."""
    times = []
    for _ in range(repeats):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(4))], lr=MAX_LR, momentum=0.9)
        sched = cls(opt, MAX_LR, total_steps=steps)
        opt.step()  # so torch does not warn that the scheduler stepped first
        step = sched.step
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        times.append(time.perf_counter() - t0)
    return min(times)


def cos_floor(n):
    x, out = np.linspace(0.0, np.pi, n), np.empty(n)
    return best(lambda: np.cos(x, out=out), REPEATS)


def write_floor(n, dtype):
    a, b = np.empty(n, dtype), np.empty(n, dtype)
    a.fill(1.0)
    b.fill(1.0)
    return a, b


def run(n):
    rows = {}  # name -> (seconds, steps)
    rows["schedule() cos f64"] = (best(lambda: onecycle.schedule(n, MAX_LR), REPEATS), n)
    rows["schedule() linear f64"] = (
        best(lambda: onecycle.schedule(n, MAX_LR, anneal_strategy="linear"), REPEATS),
        n,
    )
    rows["schedule() cos f32"] = (best(lambda: onecycle.schedule(n, MAX_LR, dtype=np.float32), REPEATS), n)
    rows["numpy reference"] = (best(lambda: reference(n, MAX_LR), REPEATS), n)
    if torch is not None:
        k = min(LOOP_STEPS, n)
        rows["torch OneCycleLR loop"] = (loop_time(TorchOneCycleLR, k, 3) * n / k, n)
        rows["onecycle OneCycleLR loop"] = (loop_time(onecycle.OneCycleLR, k, 3) * n / k, n)
    rows["floor: numpy cos (1 thread)"] = (cos_floor(n), n)
    rows["floor: write 2 x f64"] = (best(lambda: write_floor(n, np.float64), REPEATS), n)
    rows["floor: write 2 x f32"] = (best(lambda: write_floor(n, np.float32), REPEATS), n)
    calls = []
    for _ in range(500):  # warm-up: the first few hundred calls are slower
        onecycle.schedule(1_000, MAX_LR)
    for _ in range(2_000):
        t0 = time.perf_counter()
        onecycle.schedule(1_000, MAX_LR)
        calls.append(time.perf_counter() - t0)
    rows["small call (1,000 steps)"] = (statistics.median(calls), 1_000)
    max_lrs = np.linspace(0.01, 0.64, SWEEP_SIZE)
    sweep_steps = SWEEP_SIZE * SWEEP_STEPS
    rows["sweep: one call (64 x 100k)"] = (
        best(lambda: onecycle.schedule(SWEEP_STEPS, max_lrs), REPEATS),
        sweep_steps,
    )
    rows["sweep: 64 calls (64 x 100k)"] = (
        best(lambda: [onecycle.schedule(SWEEP_STEPS, float(v)) for v in max_lrs], REPEATS),
        sweep_steps,
    )
    return rows


def faster(a, b):
    """How a time a compares with a time b, as 'Nx faster' or 'Nx slower'."""
    return f"{b / a:.2f}x faster" if a <= b else f"{a / b:.2f}x slower"


# (label, row a, row b, table row it is shown on): how row a's time compares with row b's.
COMPARISONS = [
    ("schedule() linear vs cos", "schedule() linear f64", "schedule() cos f64", 0),
    ("schedule() float32 vs float64", "schedule() cos f32", "schedule() cos f64", 0),
    ("schedule() vs numpy reference", "schedule() cos f64", "numpy reference", 1),
    ("schedule() vs torch loop", "schedule() cos f64", "torch OneCycleLR loop", 1),
    ("step(): onecycle vs torch", "onecycle OneCycleLR loop", "torch OneCycleLR loop", 0),
    ("schedule() vs numpy cos floor", "schedule() cos f64", "floor: numpy cos (1 thread)", 1),
    ("schedule() vs write floor f64", "schedule() cos f64", "floor: write 2 x f64", 1),
    ("schedule() f32 vs write floor f32", "schedule() cos f32", "floor: write 2 x f32", 1),
    ("sweep: one call vs 64 calls", "sweep: one call (64 x 100k)", "sweep: 64 calls (64 x 100k)", 0),
]


def ratios(rows):
    """{label: (table row, verdict)}, for the comparisons whose rows were timed."""
    return {
        label: ((a, b)[shown], faster(rows[a][0], rows[b][0]))
        for label, a, b, shown in COMPARISONS
        if a in rows and b in rows
    }


def fmt_time(seconds):
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:8.2f} {unit}"
    return f"{seconds / 1e-9:8.2f} ns"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000_000)
    parser.add_argument("--quick", action="store_true", help="1,000,000 steps")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    n = 1_000_000 if args.quick else args.steps

    machine = {
        "processor": platform.processor() or platform.machine(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__ if torch is not None else None,
        "onecycle": onecycle.__version__,
    }
    checks = check_against_torch() if torch is not None else None
    ref = reference(n, MAX_LR)
    got = onecycle.schedule(n, MAX_LR)
    big_equal = bool(np.array_equal(ref[0], got[0]) and np.array_equal(ref[1], got[1]))
    del ref, got
    rows = run(n)
    summary = ratios(rows)

    if args.json:
        print(
            json.dumps(
                {
                    "steps": n,
                    "loop_steps": min(LOOP_STEPS, n),
                    "machine": machine,
                    "torch_check": checks,
                    "schedule_equals_reference_at_steps": big_equal,
                    "rows": [
                        {"name": name, "seconds": s, "steps": k, "steps_per_second": k / s}
                        for name, (s, k) in rows.items()
                    ],
                    "ratios": {label: verdict for label, (_, verdict) in summary.items()},
                },
                indent=2,
            )
        )
        return

    print(
        f"machine: {machine['processor']} ({machine['machine']}), {machine['cpu_count']} "
        f"CPUs, {machine['platform']}"
    )
    print(
        f"python {machine['python']}, numpy {machine['numpy']}, "
        f"torch {machine['torch'] or 'not installed'}, onecycle {machine['onecycle']}"
    )
    if checks is None:
        print("torch not installed: skipped the torch check and the torch rows")
    else:
        for c in checks:
            for who, key in (("numpy reference", "reference_differs"), ("schedule()", "schedule_differs")):
                verdict = (
                    "is bit-identical to torch"
                    if c[key] == 0
                    else f"differs from torch in {c[key]} of {c['steps']} steps"
                )
                print(f"check {c['case'] + ':':<23} {who} {verdict}")
    print(
        f"check {f'{n:,} steps:':<23} schedule() "
        f"{'is bit-identical to' if big_equal else 'DIFFERS from'} the numpy reference"
    )
    print()
    by_row = {row: f"{label}: {verdict}" for label, (row, verdict) in summary.items()}
    print(f"{'measurement':<30}{'time':>12}{'steps/s':>11}  ratio")
    for name, (seconds, steps) in rows.items():
        ratio = by_row.get(name, "")
        print(f"{name:<30}{fmt_time(seconds):>12}{steps / seconds:>11.3g}  {ratio}")
    loops = f"loops: {min(LOOP_STEPS, n):,} steps scaled to {n:,}; " if torch else ""
    print(f"\n({loops}schedule() uses all {os.cpu_count()} cores, the numpy rows one)")


if __name__ == "__main__":
    main()
