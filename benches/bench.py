"""Benchmark of onecycle against numpy, torch and the machine's floors, in one run.

    python benches/bench.py [--steps N] [--quick] [--json]
    python benches/bench.py --chosen-only [--steps N] [--quick] [--json]

Before timing, two numpy-vectorized references of the 1cycle schedule (written below, in
torch's order of operations) and onecycle.schedule() are compared bit for bit with the
values torch's OneCycleLR leaves in group['lr'] and group['momentum'] after construction
and after each step (two- and three-phase, cos and linear, 2,000 steps plus the extra step
torch allows); at the benchmark size, schedule() is compared with both references. The
largest difference of exact=False from the exact schedule is measured at N steps.

The numpy references. The main one follows torch's formula as torch writes it: torch's
get_lr() calls _annealing_cos(start, end, pct) once for the lr and once for the momentum,
so each value computes its own cosine, end + (start - end) / 2.0 * (cos(pi * pct) + 1).
The reference does exactly that, vectorized per phase, in place (np.cos into the output,
then three in-place operations): two cosines per step. The second, "shared cos", is a
hand-optimised variant a careful user could write: cos(pi * pct) + 1 once per step,
shared by lr and momentum (one cosine per step, the same values). Both are timed and
both ratios are printed; the target of the issue (3.5x) is stated against the first.

Rows: time, steps per second, ratios. Each is the best of several repeats
(time.perf_counter); N = --steps, 10,000,000 by default, 1,000,000 with --quick.

  schedule() cos f64/f32        onecycle.schedule(N, 0.1): two-phase, cos, float64 or
                                float32 (dtype=numpy.float32), new arrays each call.
  schedule() linear f64/f32     the same with anneal_strategy='linear'.
  schedule() ... exact=False    the fast cosine.
  schedule() cos f64 out=memmap the first row written into two numpy.memmap files of N
                                values (created once; pages resident after the first
                                repeat) through out=, then flushed to disk.
  schedule() ... out=touched    the cos rows (exact and exact=False) through out= into
                                two float64 arrays already written once: no fresh pages,
                                so the computation alone. The rows above allocate new
                                arrays per call, whose pages the kernel must fault in
                                and zero (about 10 ms of the two cores' time at 10M
                                steps): the cos floor below excludes that work.
  schedule() ... steps=         the values at N chosen steps in one call (steps=): random
                                steps in 0..N (drawn once, outside the timing), or every
                                step in order, against the window of the same length.
                                Skipped where the installed onecycle has no steps=.
  schedule() cos f64 replan=    N values in two plans: a schedule of N / 2 steps
                                re-planned at step N / 4 onto N, against the window of N
                                (the same loops, plan by plan). Skipped where the
                                installed onecycle has no replan=.
                                Exact cos in random order calls the platform cos class
                                by class of its argument (its branches would otherwise
                                be unpredictable); linear is bound by memory, and steps=
                                reads each 8-byte step twice (checked before any work,
                                then computed): see "floor: read the steps".
                                --chosen-only times just these, the window of each
                                strategy and that floor, interleaved (one call of each
                                per round, best of 15 rounds): steadier ratios on a
                                machine whose speed wanders.
  numpy reference (...)         the two references above at N steps (float64, cos).
  torch OneCycleLR loop         torch's scheduler.step() in a Python loop over 200,000
                                steps (SGD over one 4-element parameter, momentum=0.9;
                                the optimizer is stepped once, outside the timing),
                                scaled linearly to N.
  step() torch/onecycle, G      the same loop per call, for torch's OneCycleLR and the
                                drop-in onecycle.OneCycleLR, with G = 1 and 4 groups;
                                "re-planned": onecycle's, re-planned at step 0 onto one
                                step more, so each step runs on a re-planned phase list
                                (against the ordinary step(): it must be no slower).
  floor: f64::cos, all cores    onecycle._core._cos_floor(N): the platform cos (Rust's
                                f64::cos, the one schedule() calls) of N arguments over
                                [0, pi], summed, on all cores in schedule()'s blocks:
                                one cosine per step and nothing else.
  floor: numpy cos, 1 thread    np.cos over N float64 in [0, pi] into a preallocated
                                array (numpy's cos, one thread), for context.
  floor: cos + fresh write      the f64::cos floor plus the all-cores write floor of two
                                new float64 arrays (which includes the kernel faulting in
                                and zeroing their pages), both measured in this run: the
                                floor of a schedule into new arrays.
  floor: read the steps, numpy  the N random steps (int64) read once: numpy's max, one
                                thread. What steps= reads on top of a window's writes,
                                twice.
  floor: write 2 x f64/f32      allocating and writing the two output arrays: numpy's
                                np.empty twice and .fill(1.0) (one thread), and
                                onecycle._core._write_floor (np.zeros as schedule()
                                allocates, then 1.0 written on all cores). Ratios use the
                                faster of the two.
  small call                    schedule(1000, 0.1): median of many calls, per call.
  sweep: one call               schedule(100_000, max_lr=<64 values>): one (64, 100000)
                                call (the 64 rows share one cosine per step).
  sweep: 64 calls               the same 64 schedules, one call each.
  memory peak                   schedule(50_000_000, dtype=float32) (5,000,000 with
                                --quick) in a fresh process: growth of its peak resident
                                memory (VmHWM) during the call, against the bytes of the
                                two outputs.

Ratios are the other time over the row's time (above 1: the row is faster); targets are
the issue's, printed with "met" or "NOT met" ("aim" where the issue aims rather than
requires). schedule() fills large windows on all cores
(rayon); the numpy rows use one thread. Figures from a loaded machine are noisy: the
load average is printed with the machine.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onecycle
from onecycle import _core

try:
    import torch
    from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR
except ImportError:
    torch = None

MAX_LR = 0.1
LOOP_STEPS = 200_000
CHECK_STEPS = 2_000
SWEEP_STEPS, SWEEP_SIZE = 100_000, 64
REPEATS = 11  # best of, for the array rows and floors alike (3 for the loops)


def _phases(
    total_steps, max_lr, pct_start, base_momentum, max_momentum, div_factor, final_div_factor, three_phase
):
    """torch's phase ends and the (lr, momentum) values each phase anneals between."""
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
    return ends, values


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
    shared_cos=False,
):
    """(lr, momentum) for steps [0, stop), in numpy, with torch's operations in its order.

    As torch writes it (the default), each value computes its own cosine: torch's
    ``_annealing_cos(start, end, pct)`` is called once for the lr and once for the
    momentum. ``shared_cos=True`` is the hand-optimised variant that computes
    ``cos(pi * pct) + 1`` once per step and uses it for both (the same values).
    Both work in place on preallocated arrays (no temporaries of full length).
    """
    stop = total_steps if stop is None else stop
    ends, values = _phases(
        total_steps, max_lr, pct_start, base_momentum, max_momentum, div_factor, final_div_factor, three_phase
    )
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
                if shared_cos:
                    np.cos(pct, out=pct)
                    pct += 1
                for out, start, end in ((lr, lr0, lr1), (momentum, m0, m1)):
                    part = out[lo:hi]
                    if shared_cos:
                        np.multiply(pct, (start - end) / 2.0, out=part)
                    else:
                        np.cos(pct, out=part)
                        part += 1
                        part *= (start - end) / 2.0
                    part += end
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
    """Per case: in how many of its steps each implementation differs from torch."""
    results = []
    for three_phase in (False, True):
        for anneal in ("cos", "linear"):
            want = torch_values(CHECK_STEPS, anneal, three_phase)
            kw = dict(anneal_strategy=anneal, three_phase=three_phase, stop=CHECK_STEPS + 1)
            candidates = {
                "numpy reference": reference(CHECK_STEPS, MAX_LR, **kw),
                "numpy shared-cos": reference(CHECK_STEPS, MAX_LR, shared_cos=True, **kw),
                "schedule()": onecycle.schedule(CHECK_STEPS, MAX_LR, **kw),
            }
            results.append(
                {
                    "case": f"{'three' if three_phase else 'two'}-phase {anneal}",
                    "steps": CHECK_STEPS + 1,
                    "differs": {
                        who: int(np.sum((got[0] != want[0]) | (got[1] != want[1])))
                        for who, got in candidates.items()
                    },
                }
            )
    return results


def fast_mode_error(n):
    """Largest difference of exact=False from the exact schedule at n steps (plus the
    extra step), two- and three-phase: in ulp of the largest value each output anneals
    between (the documented measure), and in ulp of each value itself."""
    worst = {"ulp_of_scale": 0.0, "ulp_of_value": 0.0, "values_differing": 0, "values": 0}
    for three_phase in (False, True):
        kw = dict(three_phase=three_phase, stop=n + 1)
        exact, fast = onecycle.schedule(n, MAX_LR, **kw), onecycle.schedule(n, MAX_LR, exact=False, **kw)
        for e, f, scale in ((exact.lr, fast.lr, MAX_LR), (exact.momentum, fast.momentum, 0.95)):
            diff = np.abs(e - f)
            worst["ulp_of_scale"] = max(worst["ulp_of_scale"], float(diff.max() / np.spacing(scale)))
            worst["ulp_of_value"] = max(worst["ulp_of_value"], float((diff / np.spacing(np.abs(e))).max()))
            worst["values_differing"] += int(np.count_nonzero(diff))
            worst["values"] += diff.size
    return worst


def best(fn, repeats):
    """Fastest of `repeats` calls of fn, in seconds (the result is freed after timing)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
        del result
    return min(times)


def loop_time(cls, steps, repeats, groups=1, replanned=False):
    """Seconds for `steps` scheduler.step() calls, best of `repeats` fresh schedulers
    (SGD with momentum over `groups` parameter groups of one 4-element tensor each);
    `replanned`: each re-planned at step 0 onto one step more, so every timed step runs
    on a re-planned phase list."""
    times = []
    for _ in range(repeats):
        params = [{"params": [torch.nn.Parameter(torch.zeros(4))]} for _ in range(groups)]
        opt = torch.optim.SGD(params, lr=MAX_LR, momentum=0.9)
        sched = cls(opt, MAX_LR, total_steps=steps)
        if replanned:
            sched.replan(steps + 1)
        opt.step()  # so torch does not warn that the scheduler stepped first
        step = sched.step
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        times.append(time.perf_counter() - t0)
    return min(times)


COMPILE_STEPS = 200


def compiled_training(cls, steps=COMPILE_STEPS):
    """Wall time of `steps` training steps of a small MLP whose Adam step (tensor lr and
    betas) is compiled with torch.compile's default backend, compilation included, and the
    graphs dynamo built (torch's class recompiles as its floats change, up to dynamo's
    limit, then runs the step eagerly)."""
    from torch._dynamo.utils import counters

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 1))
    opt = torch.optim.Adam(
        model.parameters(), lr=torch.tensor(1e-3), betas=(torch.tensor(0.9), torch.tensor(0.999))
    )
    sched = cls(opt, max_lr=1e-2, total_steps=steps)
    step = torch.compile(opt.step)
    torch._dynamo.reset()
    counters.clear()
    x, y = torch.randn(128, 64), torch.randn(128, 1)
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        step()
        opt.zero_grad()
        sched.step()
    return {"seconds": time.perf_counter() - t0, "graphs": int(counters["stats"]["unique_graphs"])}


def step_ratios(steps=50_000, repeats=5):
    """How many times faster onecycle's step() is than torch's, for 1 and 4 groups."""
    return {
        str(groups): loop_time(TorchOneCycleLR, steps, repeats, groups)
        / loop_time(onecycle.OneCycleLR, steps, repeats, groups)
        for groups in (1, 4)
    }


def numpy_cos_floor(n):
    x, out = np.linspace(0.0, np.pi, n), np.empty(n)
    return best(lambda: np.cos(x, out=out), REPEATS)


def numpy_write_floor(n, dtype):
    a, b = np.empty(n, dtype), np.empty(n, dtype)
    a.fill(1.0)
    b.fill(1.0)
    return a, b


PEAK_CODE = """
import re, resource, sys
import numpy as np, onecycle
def peak():
    try:
        with open('/proc/self/status') as f:
            return int(re.search(r'VmHWM:\\s*(\\d+) kB', f.read())[1]) * 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
onecycle.schedule(100_000, 0.1, dtype=np.float32)
before = peak()
s = onecycle.schedule(int(sys.argv[1]), 0.1, dtype=np.float32)
print(peak() - before, s.lr.nbytes + s.momentum.nbytes)
"""


def memory_peak(n):
    """(peak growth in bytes, bytes of the two outputs) of schedule(n, dtype=float32), in a
    fresh process (its peak resident set, VmHWM, is its own, not its parent's)."""
    out = subprocess.run(
        [sys.executable, "-c", PEAK_CODE, str(n)], capture_output=True, text=True, check=True
    )
    grown, outputs = map(int, out.stdout.split())
    return grown, outputs


def run(n, memory_steps):
    rows = {}  # name -> (seconds, steps)

    def row(name, fn, steps=n):
        rows[name] = (best(fn, REPEATS), steps)

    row("schedule() cos f64", lambda: onecycle.schedule(n, MAX_LR))
    row("schedule() cos f32", lambda: onecycle.schedule(n, MAX_LR, dtype=np.float32))
    row("schedule() linear f64", lambda: onecycle.schedule(n, MAX_LR, anneal_strategy="linear"))
    row(
        "schedule() linear f32",
        lambda: onecycle.schedule(n, MAX_LR, anneal_strategy="linear", dtype=np.float32),
    )
    row("schedule() cos f64 exact=False", lambda: onecycle.schedule(n, MAX_LR, exact=False))
    row("schedule() cos f32 exact=False", lambda: onecycle.schedule(n, MAX_LR, exact=False, dtype=np.float32))
    with tempfile.TemporaryDirectory() as tmp:
        mm = tuple(np.memmap(os.path.join(tmp, k), mode="w+", dtype=np.float64, shape=(n,)) for k in "ab")

        def to_memmap():
            onecycle.schedule(n, MAX_LR, out=mm)
            for m in mm:
                m.flush()

        row("schedule() cos f64 out=memmap", to_memmap)
    # The same fills into arrays whose pages are already resident: the computation alone,
    # without the kernel's faulting-in and zeroing of fresh output pages.
    touched = (np.ones(n), np.ones(n))
    row("schedule() cos f64 out=touched", lambda: onecycle.schedule(n, MAX_LR, out=touched))
    row(
        "schedule() cos f64 exact=False out=touched",
        lambda: onecycle.schedule(n, MAX_LR, exact=False, out=touched),
    )
    if _takes_steps():
        rng = np.random.default_rng(0)
        chosen = {"random": rng.integers(0, n, size=n), "in order": np.arange(n)}
        for name, steps in chosen.items():
            row(
                f"schedule() cos f64 steps={name}",
                lambda steps=steps: onecycle.schedule(n, MAX_LR, steps=steps),
            )
        row(
            "schedule() linear f64 steps=random",
            lambda: onecycle.schedule(n, MAX_LR, anneal_strategy="linear", steps=chosen["random"]),
        )
        row("floor: read the steps, numpy", lambda: chosen["random"].max())
        del chosen
    if "replan" in inspect.signature(onecycle.schedule).parameters:
        # Two plans of n steps in all: half of the first, re-planned onto n.
        row("schedule() cos f64 replan=", lambda: onecycle.schedule(n // 2, MAX_LR, replan=[(n // 4, n)]))
    row("numpy reference (torch formula)", lambda: reference(n, MAX_LR))
    row("numpy reference (shared cos)", lambda: reference(n, MAX_LR, shared_cos=True))
    if torch is not None:
        k = min(LOOP_STEPS, n)
        rows["torch OneCycleLR loop"] = (loop_time(TorchOneCycleLR, k, 3) * n / k, n)
        for groups in (1, 4):
            for who, cls in (("torch", TorchOneCycleLR), ("onecycle", onecycle.OneCycleLR)):
                rows[f"step() {who}, {groups} group{'s' * (groups > 1)}"] = (
                    loop_time(cls, k, 3, groups) / k,
                    1,
                )
            if hasattr(onecycle.OneCycleLR, "replan"):
                rows[f"step() onecycle, {groups} group{'s' * (groups > 1)}, re-planned"] = (
                    loop_time(onecycle.OneCycleLR, k, 3, groups, replanned=True) / k,
                    1,
                )
    row("floor: f64::cos, all cores", lambda: _core._cos_floor(n))
    rows["floor: numpy cos, 1 thread"] = (numpy_cos_floor(n), n)
    row("floor: write 2 x f64, all cores", lambda: _core._write_floor(n, False))
    row("floor: write 2 x f64, numpy", lambda: numpy_write_floor(n, np.float64))
    row("floor: write 2 x f32, all cores", lambda: _core._write_floor(n, True))
    row("floor: write 2 x f32, numpy", lambda: numpy_write_floor(n, np.float32))
    cos_and_write = rows["floor: f64::cos, all cores"][0] + rows["floor: write 2 x f64, all cores"][0]
    rows["floor: cos + fresh write 2 x f64"] = (cos_and_write, n)
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
    row("sweep: one call (64 x 100k)", lambda: onecycle.schedule(SWEEP_STEPS, max_lrs), sweep_steps)
    row(
        "sweep: 64 calls (64 x 100k)",
        lambda: [onecycle.schedule(SWEEP_STEPS, float(v)) for v in max_lrs],
        sweep_steps,
    )
    grown, outputs = memory_peak(memory_steps)
    return rows, {"steps": memory_steps, "peak_growth_bytes": grown, "output_bytes": outputs}


def chosen_ratios(n, repeats=15):
    """Window and steps= calls of n values, interleaved (one of each per round, so a slow
    spell of the machine slows them alike), best of `repeats` rounds: {row: seconds} and
    {steps row: its time over the window's of the same strategy}."""
    rng = np.random.default_rng(0)
    random, in_order = rng.integers(0, n, size=n), np.arange(n)
    calls = {
        "cos window": lambda: onecycle.schedule(n, MAX_LR),
        "cos steps=random": lambda: onecycle.schedule(n, MAX_LR, steps=random),
        "cos steps=in order": lambda: onecycle.schedule(n, MAX_LR, steps=in_order),
        "linear window": lambda: onecycle.schedule(n, MAX_LR, anneal_strategy="linear"),
        "linear steps=random": lambda: onecycle.schedule(n, MAX_LR, anneal_strategy="linear", steps=random),
        "read the steps, numpy": lambda: random.max(),
    }
    times = {name: math.inf for name in calls}
    for _ in range(repeats):
        for name, fn in calls.items():
            t0 = time.perf_counter()
            result = fn()
            times[name] = min(times[name], time.perf_counter() - t0)
            del result
    ratios = {name: times[name] / times[name.split(" ")[0] + " window"] for name in times if "steps=" in name}
    return times, ratios


def _takes_steps():
    """Whether the installed onecycle's schedule() takes steps= (older builds do not)."""
    try:
        onecycle.schedule(2, MAX_LR, steps=[0])
    except TypeError:
        return False
    return True


def floor(rows, *names):
    """The fastest of several floor rows (name, seconds)."""
    return min(((name, rows[name][0]) for name in names if name in rows), key=lambda r: r[1])


# (label, row, what it is compared with, target). The comparison is a row name or a
# tuple of floor rows (the fastest is used). Targets: ("faster", x) means at least x
# times faster; ("within", x) at most x times the other's time; a third element "aim"
# marks what the issue aims for rather than requires (exact=False near the write floor).
COMPARISONS = [
    ("vs numpy, torch's formula", "schedule() cos f64", "numpy reference (torch formula)", ("faster", 3.5)),
    ("vs numpy, shared cos", "schedule() cos f64", "numpy reference (shared cos)", None),
    ("vs torch loop", "schedule() cos f64", "torch OneCycleLR loop", ("faster", 400)),
    # Into new arrays, the floor counts the kernel zeroing their fresh pages.
    (
        "vs cos + fresh write floor",
        "schedule() cos f64",
        ("floor: cos + fresh write 2 x f64",),
        ("within", 1.25),
    ),
    (
        "vs f64::cos floor",
        "schedule() cos f64 out=touched",
        ("floor: f64::cos, all cores",),
        ("within", 1.25),
    ),
    ("f32 vs f64", "schedule() cos f32", "schedule() cos f64", None),
    # Values at chosen steps cost no more per value than a window of the same length.
    ("vs window", "schedule() cos f64 steps=random", "schedule() cos f64", ("within", 1.0)),
    ("vs window", "schedule() cos f64 steps=in order", "schedule() cos f64", ("within", 1.0)),
    ("vs window", "schedule() linear f64 steps=random", "schedule() linear f64", ("within", 1.0)),
    (
        "vs write floor",
        "schedule() linear f64",
        ("floor: write 2 x f64, all cores", "floor: write 2 x f64, numpy"),
        ("within", 2.0),
    ),
    (
        "vs write floor",
        "schedule() linear f32",
        ("floor: write 2 x f32, all cores", "floor: write 2 x f32, numpy"),
        ("within", 2.0),
    ),
    ("vs exact", "schedule() cos f64 exact=False", "schedule() cos f64", ("faster", 3.0)),
    (
        "vs exact",
        "schedule() cos f64 exact=False out=touched",
        "schedule() cos f64 out=touched",
        ("faster", 3.0),
    ),
    (
        "vs write floor",
        "schedule() cos f64 exact=False",
        ("floor: write 2 x f64, all cores", "floor: write 2 x f64, numpy"),
        ("within", 2.0, "aim"),
    ),
    (
        "vs write floor",
        "schedule() cos f32 exact=False",
        ("floor: write 2 x f32, all cores", "floor: write 2 x f32, numpy"),
        ("within", 2.0, "aim"),
    ),
    ("vs plain call", "schedule() cos f64 out=memmap", "schedule() cos f64", None),
    ("vs 64 calls", "sweep: one call (64 x 100k)", "sweep: 64 calls (64 x 100k)", ("faster", 5.0)),
    ("vs torch", "step() onecycle, 1 group", "step() torch, 1 group", ("faster", 3.0)),
    ("vs torch", "step() onecycle, 4 groups", "step() torch, 4 groups", ("faster", 3.0)),
    ("vs ordinary", "step() onecycle, 1 group, re-planned", "step() onecycle, 1 group", ("within", 1.1)),
    ("vs ordinary", "step() onecycle, 4 groups, re-planned", "step() onecycle, 4 groups", ("within", 1.1)),
    ("vs plain window", "schedule() cos f64 replan=", "schedule() cos f64", ("within", 1.1)),
]


def ratios(rows):
    """One entry per comparison whose rows were timed: the row, what it is compared with,
    the ratio (other's time / row's time: > 1 means the row is faster), the target and
    whether it is met."""
    out = []
    for label, name, other, target in COMPARISONS:
        if name not in rows:
            continue
        if isinstance(other, tuple):
            other, other_time = floor(rows, *other)
        elif other in rows:
            other_time = rows[other][0]
        else:
            continue
        ratio = other_time / rows[name][0]
        entry = {"row": name, "label": label, "compared_with": other, "ratio": ratio}
        if target is not None:
            kind, x = target[:2]
            entry["goal"] = target[2] if len(target) > 2 else "target"
            entry["target"] = f"{'>=' if kind == 'faster' else '<='} {x}x" + (
                " faster" if kind == "faster" else " the time"
            )
            entry["met"] = ratio >= x if kind == "faster" else 1 / ratio <= x
        out.append(entry)
    return out


def verdict(ratio):
    return f"{ratio:.2f}x faster" if ratio >= 1 else f"{1 / ratio:.2f}x slower"


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
    parser.add_argument(
        "--compile",
        action="store_true",
        help=f"only the torch.compile rows: {COMPILE_STEPS} training steps with a compiled Adam step",
    )
    parser.add_argument(
        "--step-only",
        action="store_true",
        help="only step() against torch's, as JSON: {groups: how many times faster} (nox -s compat)",
    )
    parser.add_argument(
        "--chosen-only",
        action="store_true",
        help="only schedule(steps=) against the window of the same length, interleaved",
    )
    args = parser.parse_args()
    if args.chosen_only:
        n = 1_000_000 if args.quick else args.steps
        times, vs_window = chosen_ratios(n)
        if args.json:
            print(json.dumps({"steps": n, "seconds": times, "vs window": vs_window}))
            return
        print(f"{n:,} values, interleaved, best of 15 rounds, {os.cpu_count()} cores")
        for name, seconds in times.items():
            ratio = f"  {vs_window[name]:.2f}x the window" if name in vs_window else ""
            print(f"  {name:24} {fmt_time(seconds)}{ratio}")
        return
    if args.step_only:
        print(json.dumps(step_ratios()))
        return
    if args.compile:
        rows = {cls.__module__: compiled_training(cls) for cls in (TorchOneCycleLR, onecycle.OneCycleLR)}
        if args.json:
            print(json.dumps({"steps": COMPILE_STEPS, "torch": torch.__version__, "rows": rows}))
            return
        theirs, ours = rows["torch.optim.lr_scheduler"], rows["onecycle._torch"]
        print(
            f"torch {torch.__version__}, {os.cpu_count()} cores: {COMPILE_STEPS} training steps, Adam step compiled"
        )
        for name, row in (("torch OneCycleLR", theirs), ("onecycle OneCycleLR", ours)):
            print(f"  {name:20} {row['graphs']} graph(s)  {row['seconds']:7.2f} s")
        print(f"  onecycle's run takes {theirs['seconds'] / ours['seconds']:.1f}x less time")
        return
    if not hasattr(_core, "_cos_floor"):
        sys.exit(
            "the full run measures against floors the extension has only when built with the "
            "bench feature: make bench (or maturin develop --release --features python,bench)"
        )
    n = 1_000_000 if args.quick else args.steps
    memory_steps = 5_000_000 if args.quick else 50_000_000

    machine = {
        "processor": platform.processor() or platform.machine(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__ if torch is not None else None,
        "onecycle": onecycle.__version__,
        "threads": _core.threads(),
        "simd": _core.simd(),
    }
    checks = check_against_torch() if torch is not None else None
    got = onecycle.schedule(n, MAX_LR)
    big_equal = {}
    for who, shared in (("numpy reference", False), ("numpy shared-cos", True)):
        ref = reference(n, MAX_LR, shared_cos=shared)
        big_equal[who] = bool(np.array_equal(ref[0], got[0]) and np.array_equal(ref[1], got[1]))
        del ref
    del got
    fast = fast_mode_error(n)
    rows, memory = run(n, memory_steps)
    summary = ratios(rows)
    memory["ratio"] = memory["peak_growth_bytes"] / memory["output_bytes"]
    memory["target"] = "<= 1.1x the two outputs"
    memory["met"] = memory["ratio"] <= 1.1
    small = {"seconds": rows["small call (1,000 steps)"][0], "target": "well under 20 us"}
    small["met"] = small["seconds"] < 20e-6

    if args.json:
        print(
            json.dumps(
                {
                    "steps": n,
                    "loop_steps": min(LOOP_STEPS, n),
                    "machine": machine,
                    "torch_check": checks,
                    "schedule_equals_references_at_steps": big_equal,
                    "fast_mode_error": fast,
                    "rows": [
                        {"name": name, "seconds": s, "steps": k, "steps_per_second": k / s}
                        for name, (s, k) in rows.items()
                    ],
                    "ratios": summary,
                    "memory_peak": memory,
                    "small_call": small,
                },
                indent=2,
            )
        )
        return

    load = machine["load_average"]
    print(
        f"machine: {machine['processor']} ({machine['machine']}), {machine['cpu_count']} "
        f"CPUs, {machine['platform']}" + (f", load average {load[0]:.2f}" if load else "")
    )
    print(
        f"python {machine['python']}, numpy {machine['numpy']}, "
        f"torch {machine['torch'] or 'not installed'}, onecycle {machine['onecycle']} "
        f"({machine['threads']} threads, {machine['simd']})"
    )
    if checks is None:
        print("torch not installed: skipped the torch check and the torch rows")
    else:
        for c in checks:
            for who, count in c["differs"].items():
                verdict_text = (
                    "is bit-identical to torch"
                    if count == 0
                    else f"differs from torch in {count} of {c['steps']} steps"
                )
                print(f"check {c['case'] + ':':<23} {who} {verdict_text}")
    for who, equal in big_equal.items():
        print(
            f"check {f'{n:,} steps:':<23} schedule() "
            f"{'is bit-identical to' if equal else 'DIFFERS from'} the {who}"
        )
    print(
        f"check exact=False at {n:,} steps: at most {fast['ulp_of_scale']:.2f} ulp of the largest value "
        f"({fast['ulp_of_value']:.0f} ulp of the value itself); "
        f"{fast['values_differing']:,} of {fast['values']:,} values differ"
    )
    print()
    by_row = {}
    for r in summary:
        text = f"{r['label']}: {verdict(r['ratio'])}"
        if "target" in r:
            text += f" ({r['goal']} {r['target']}: {'met' if r['met'] else 'NOT met'})"
        by_row.setdefault(r["row"], []).append(text)
    print(f"{'measurement':<34}{'time':>12}{'steps/s':>11}  ratio")
    for name, (seconds, steps) in rows.items():
        texts = by_row.get(name, [""])
        print(f"{name:<34}{fmt_time(seconds):>12}{steps / seconds:>11.3g}  {texts[0]}")
        for text in texts[1:]:
            print(f"{'':<57}  {text}")
    print(
        f"{'memory peak, ' + format(memory['steps'], ',') + ' f32':<34}"
        f"{memory['peak_growth_bytes'] / 2**20:>9.0f} MiB{'':>11}  "
        f"{memory['ratio']:.3f}x the two outputs ({memory['output_bytes'] / 2**20:.0f} MiB) "
        f"(target {memory['target']}: {'met' if memory['met'] else 'NOT met'})"
    )
    print(
        f"small call (1,000 steps): {small['seconds'] * 1e6:.1f} us "
        f"(target {small['target']}: {'met' if small['met'] else 'NOT met'})"
    )
    loops = (
        f"torch loop: {min(LOOP_STEPS, n):,} steps scaled to {n:,}; step() rows: per call; " if torch else ""
    )
    print(f"\n({loops}schedule() and the 'all cores' floors use all {os.cpu_count()} cores, numpy one)")


if __name__ == "__main__":
    main()
