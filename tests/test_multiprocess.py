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


def run_bounded(command: list[str], env: dict[str, str]) -> None:
    """Run `command` in a process group of its own; past TIMEOUT, kill the whole group (the
    launcher and the processes it started) and fail."""
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"{' '.join(command)} ran past {TIMEOUT} s:\n{out[-4000:]}{err[-8000:]}")
    assert process.returncode == 0, out[-4000:] + err[-8000:]


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


def lightning_run(folder: Path, which: str, resume: Path | None = None) -> list[dict[str, Any]]:
    """The script under Lightning's DDP strategy, which starts the second process itself."""
    out = folder / f"{which}-{'resumed' if resume else 'full'}"
    out.mkdir()
    command = [
        sys.executable,
        str(HERE / "lightning_run.py"),
        str(out),
        str(folder / f"checkpoints-{which}"),
        which,
    ]
    if resume is not None:
        command.append(str(resume))
    run_bounded(command, {**environment(), "MASTER_PORT": str(free_port())})
    return per_rank(out)


def test_lightning_ddp_with_two_processes(tmp_path: Path) -> None:
    """Trainer(accelerator="cpu", devices=2, strategy="ddp") with accumulate_grad_batches:
    estimated_stepping_batches as total_steps (equal to total_steps_for), the run ends at
    last_epoch == total_steps on both ranks, equal to torch's class; resuming from the
    checkpoint of an epoch with ckpt_path= continues identically."""
    full = {which: lightning_run(tmp_path, which) for which in ("torch", "onecycle")}
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
    (checkpoint,) = (tmp_path / "checkpoints-onecycle").glob("epoch=1-*.ckpt")
    resumed = lightning_run(tmp_path, "onecycle", resume=checkpoint)
    for rank, (whole, rest) in enumerate(zip(full["onecycle"], resumed, strict=True)):
        assert rest["seen"] == whole["seen"][2 * 7 :], f"rank {rank}"
        assert rest["weights"] == whole["weights"], f"rank {rank}"
        assert rest["last_epoch"] == whole["last_epoch"] == 12
