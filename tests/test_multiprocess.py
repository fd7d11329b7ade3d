"""Several processes, as people train at scale: torchrun with DistributedDataParallel,
accelerate with 2 processes, Lightning's DDP strategy. Each starts its own processes on the
CPU, talking over 127.0.0.1 only, bounded in time, and compares onecycle's scheduler with
torch's in the same setup, bit for bit, on every rank."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import onecycle
import pytest

HERE = Path(__file__).resolve().parent / "multiprocess"
TIMEOUT = 300  # seconds for one multi-process run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environment() -> dict[str, str]:
    """This environment, with the processes' collective traffic on the loopback device and
    one thread each (the models are tiny; threads would only contend)."""
    return {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}


def run_bounded(command: list[str], env: dict[str, str], *, fails: bool = False) -> str:
    """Run `command` in a process group of its own; past TIMEOUT, kill the whole group (the
    launcher and the processes it started) and fail. It must succeed (or, with `fails`,
    fail); return its stderr."""
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"{' '.join(command)} ran past {TIMEOUT} s:\n{out[-4000:]}{err[-8000:]}")
    assert (process.returncode != 0) == fails, out[-4000:] + err[-8000:]
    return err


def torchrun(script: str, *args: str, processes: int = 2) -> None:
    command = [
        sys.executable, "-m", "torch.distributed.run",
        f"--nproc_per_node={processes}", "--nnodes=1",
        "--master_addr=127.0.0.1", f"--master_port={free_port()}",
        str(HERE / script), *args,
    ]  # fmt: skip
    run_bounded(command, environment())


def per_rank(folder: Path, processes: int = 2) -> list[dict[str, Any]]:
    return [json.loads((folder / f"rank-{rank}.json").read_text()) for rank in range(processes)]


def test_ddp_with_torchrun(tmp_path: Path) -> None:
    """DDP over 2 processes with a DistributedSampler: every step's group values on every
    rank equal torch's; a checkpoint saved by rank 0 loads on every rank into a scheduler
    built with other arguments and continues as the uninterrupted run did, through the
    extra step torch allows, to torch's error."""
    torchrun("ddp.py", str(tmp_path))
    ranks = per_rank(tmp_path)
    for rank, result in enumerate(ranks):
        assert result["world_size"] == 2
        theirs, ours = result["torch"], result["onecycle"]
        assert ours == theirs, f"rank {rank}"
        total = theirs["total_steps"]
        assert total == 3 * 7  # 50 samples: 25 per process, 7 batches of 4, for 3 epochs
        # last_epoch 0 to total_steps (the extra step torch allows), then torch's error
        assert [seen[0] for seen in theirs["seen"]] == list(range(total + 1))
        assert theirs["error"] == (
            f"ValueError: Tried to step {total + 1} times. The specified number of total steps is {total}"
        )
        assert theirs["resumed"] == [*theirs["seen"][10:], theirs["error"]]
    assert ranks[0]["onecycle"]["seen"] == ranks[1]["onecycle"]["seen"]


def accelerate_run(
    folder: Path, checkpoints: Path, which: str, split: bool, first_epoch: int = 0
) -> list[dict[str, Any]]:
    out = folder / f"{which}-split{int(split)}-from{first_epoch}"
    out.mkdir()
    torchrun("accelerate_run.py", str(out), str(checkpoints), which, str(int(split)), str(first_epoch))
    return per_rank(out)


@pytest.mark.parametrize("split", [False, True], ids=["split_batches=False", "split_batches=True"])
def test_accelerate_with_two_processes(tmp_path: Path, split: bool) -> None:
    """accelerate over 2 processes, gradient accumulation, a last partial batch: the prepared
    scheduler's values on every rank equal torch's class, and the README's total_steps
    (through total_steps_for) is the number of scheduler steps the run really takes."""
    runs = {}
    for which in ("torch", "onecycle"):
        checkpoints = tmp_path / f"checkpoints-{which}"
        runs[which] = accelerate_run(tmp_path, checkpoints, which, split)
    for rank, (theirs, ours) in enumerate(zip(runs["torch"], runs["onecycle"], strict=True)):
        assert ours == theirs, f"rank {rank}"
        assert theirs["num_processes"] == 2
        assert theirs["batches_per_epoch"] == 14
        # Each process: 7 batches an epoch (14 with split_batches, each split in two), an
        # optimizer step after every 4 and at the end of the epoch.
        assert theirs["optimizer_steps"] == 3 * (4 if split else 2)
        assert theirs["last_epoch"] == theirs["total_steps"] == 12
    assert runs["onecycle"][0]["seen"] == runs["onecycle"][1]["seen"]


@pytest.mark.parametrize(
    ("saved_by", "resumed_by"), [("onecycle", "onecycle"), ("torch", "onecycle"), ("onecycle", "torch")]
)
def test_accelerate_save_state_load_state_with_two_processes(
    tmp_path: Path, saved_by: str, resumed_by: str
) -> None:
    """load_state of the state saved after the first epoch, by either class into either,
    goes on as the uninterrupted run did on every rank."""
    checkpoints = tmp_path / "checkpoints"
    full = accelerate_run(tmp_path, checkpoints, saved_by, split=False)
    resumed = accelerate_run(tmp_path, checkpoints, resumed_by, split=False, first_epoch=1)
    for rank, (whole, rest) in enumerate(zip(full, resumed, strict=True)):
        batches = len(rest["seen"])
        assert batches == 2 * 7, f"rank {rank}"  # two epochs of 7 batches
        assert rest["seen"] == whole["seen"][-batches:], f"rank {rank}"
        for key in ("last_epoch", "last_lr", "weights"):
            assert rest[key] == whole[key], f"rank {rank}: {key}"


def lightning_command(folder: Path, which: str, *options: str) -> list[str]:
    """The script under Lightning's DDP strategy, which starts the second process itself,
    writing its results and checkpoints to `folder / which`; `options` are the script's (a
    resume)."""
    out = folder / which
    out.mkdir(parents=True)
    return [sys.executable, str(HERE / "lightning_run.py"), str(out), str(out), which, *options]


def lightning_env() -> dict[str, str]:
    return {**environment(), "MASTER_PORT": str(free_port())}


def lightning_run(folder: Path, which: str, *options: str) -> list[dict[str, Any]]:
    run_bounded(lightning_command(folder, which, *options), lightning_env())
    return per_rank(folder / which)


LightningRuns = dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def lightning_ddp(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LightningRuns]:
    """A folder, and the full DDP runs of both classes (their checkpoints in
    `full/<which>` under it)."""
    folder = tmp_path_factory.mktemp("lightning-ddp")
    return folder, {which: lightning_run(folder / "full", which) for which in ("torch", "onecycle")}


def test_lightning_ddp_with_two_processes(lightning_ddp: tuple[Path, LightningRuns]) -> None:
    """Trainer(accelerator="cpu", devices=2, strategy="ddp") with accumulate_grad_batches:
    estimated_stepping_batches as total_steps (equal to total_steps_for), the run ends at
    last_epoch == total_steps on both ranks, equal to torch's class; resuming from the
    checkpoint of an epoch with ckpt_path= continues identically."""
    folder, full = lightning_ddp
    for rank, (theirs, ours) in enumerate(zip(full["torch"], full["onecycle"], strict=True)):
        assert ours["class"] == "onecycle._torch" and theirs["class"] == "torch.optim.lr_scheduler"
        ours, theirs = {**ours, "class": None}, {**theirs, "class": None}
        assert ours == theirs, f"rank {rank}"
        assert theirs["world_size"] == 2
        assert (
            theirs["total_steps"] == theirs["estimated_stepping_batches"] == theirs["total_steps_for"] == 12
        )
        assert theirs["last_epoch"] == theirs["global_step"] == 12
        assert len(theirs["seen"]) == 4 * 7
    assert full["onecycle"][0]["seen"] == full["onecycle"][1]["seen"]
    # Resume from the checkpoint written after the second epoch (global step 6).
    (checkpoint,) = (folder / "full" / "onecycle").glob("epoch=1-*.ckpt")
    resumed = lightning_run(folder / "resumed", "onecycle", "--resume", str(checkpoint))
    for rank, (whole, rest) in enumerate(zip(full["onecycle"], resumed, strict=True)):
        assert rest["seen"] == whole["seen"][2 * 7 :], f"rank {rank}"
        assert rest["weights"] == whole["weights"], f"rank {rank}"
        assert rest["last_epoch"] == whole["last_epoch"] == 12


def test_lightning_ddp_resumes_with_more_epochs_and_replan_on_load(
    lightning_ddp: tuple[Path, LightningRuns],
) -> None:
    """ckpt_path= the checkpoint written after the second epoch (global step 6) with
    max_epochs=6 in place of 4 and the scheduler built with replan_on_load=True: on both
    ranks the run goes on from the values held at the checkpoint along the curve re-planned
    there onto the new estimated_stepping_batches, bit for bit, and ends on its extra step."""
    folder, full = lightning_ddp
    (checkpoint,) = (folder / "full" / "onecycle").glob("epoch=1-*.ckpt")
    options = ("--resume", str(checkpoint), "--epochs", "6", "--replan-on-load")
    resumed = lightning_run(folder / "longer", "onecycle", *options)
    old, step, total = 12, 6, 18  # 3 optimizer steps a process and epoch
    replanned = onecycle.schedule(old, 0.05, replan=[(step, total)], stop=total + 1)
    lrs = [float(v).hex() for v in replanned.lr.tolist()]
    momenta = [float(v).hex() for v in replanned.momentum.tolist()]
    for rank, (whole, rest) in enumerate(zip(full["onecycle"], resumed, strict=True)):
        assert rest["world_size"] == 2
        assert rest["total_steps"] == rest["estimated_stepping_batches"] == rest["total_steps_for"] == total
        assert rest["last_epoch"] == rest["global_step"] == total, f"rank {rank}"
        assert whole["total_steps"] == old
        # [global_step, last_epoch, lr, momentum] as each batch ends: 4 epochs of 7 batches,
        # the first with the values held at the checkpoint.
        assert len(rest["seen"]) == 4 * 7
        assert rest["seen"][0] == whole["seen"][2 * 7], f"rank {rank}"
        assert rest["seen"][0][1] == step
        assert [s[2:] for s in rest["seen"]] == [[lrs[s[1]], momenta[s[1]]] for s in rest["seen"]]
        assert rest["last_lr"] == lrs[-1:]
    assert resumed[0]["seen"] == resumed[1]["seen"]


def test_lightning_ddp_resumes_with_more_epochs_without_replan_on_load_keeps_the_old_length(
    lightning_ddp: tuple[Path, LightningRuns],
) -> None:
    """The same resume without the flag: the scheduler takes the checkpoint's length, as
    torch's does, and the run fails one step past the extra step of the old length."""
    folder, full = lightning_ddp
    (checkpoint,) = (folder / "full" / "onecycle").glob("epoch=1-*.ckpt")
    command = lightning_command(folder / "plain", "onecycle", "--resume", str(checkpoint), "--epochs", "6")
    err = run_bounded(command, lightning_env(), fails=True)
    old = full["onecycle"][0]["total_steps"]
    assert f"ValueError: Tried to step {old + 1} times. The specified number of total steps is {old}\n" in err
