"""``total_steps_for``: the ``total_steps`` of a run, counted as the training loop steps."""

from __future__ import annotations

import operator
from typing import Any, Literal

__all__ = ["total_steps_for"]


def _count(name: str, value: Any, least: int) -> int:
    """``value`` as an int of at least ``least`` (numpy integers welcome; bools and floats
    refused)."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})") from None
    if number < least:
        raise ValueError(f"{name} must be an int >= {least}, got {number}")
    return number


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def total_steps_for(
    epochs: int,
    batches_per_epoch: int | None = None,
    *,
    dataset_size: int | None = None,
    batch_size: int | None = None,
    drop_last: bool = False,
    accumulation_steps: int = 1,
    num_processes: int = 1,
    split: Literal["samples", "batches"] = "samples",
) -> int:
    """The number of optimizer steps each process takes in a run: the ``total_steps`` of
    a ``OneCycleLR`` stepped once per optimizer step.

    Counts as PyTorch Lightning (``Trainer.estimated_stepping_batches``) and Hugging Face
    accelerate do: the data of an epoch is split across ``num_processes`` processes, each
    process steps its optimizer after every ``accumulation_steps`` batches and after the
    last batch of the epoch (a partial accumulation is stepped, not carried over), for
    ``epochs`` epochs. ``limit_train_batches``, ``max_steps`` and iterable datasets are
    not modelled.

    Parameters
    ----------
    epochs : int
        Epochs in the run, at least 1.
    batches_per_epoch : int, optional
        Batches in one epoch of the training ``DataLoader`` as the script builds it, before
        it is split across processes (``len(loader)``). Give either this or
        ``dataset_size`` and ``batch_size``.
    dataset_size, batch_size : int, optional
        Samples in the training set and samples per batch of one process.
    drop_last : bool, default False
        The ``DataLoader``'s ``drop_last``: a last partial batch is dropped. With more
        than one process, give ``dataset_size`` and ``batch_size`` (or
        ``split='batches'``), as the count then depends on them.
    accumulation_steps : int, default 1
        Batches per optimizer step (Lightning's ``accumulate_grad_batches``, accelerate's
        ``gradient_accumulation_steps``).
    num_processes : int, default 1
        Processes the data is split across (the world size).
    split : {'samples', 'batches'}, default 'samples'
        How the data is split across processes. ``'samples'``: by a
        ``DistributedSampler`` (Lightning, ``torchrun`` scripts): each process gets
        ``ceil(dataset_size / num_processes)`` samples (the sampler repeats samples to
        even them out), then batches them. ``'batches'``: as accelerate's prepared
        ``DataLoader``: the batches are dealt to the processes in turn, each getting
        ``ceil(batches / num_processes)`` (accelerate repeats batches to even them out,
        ``even_batches=True``), or ``floor`` with ``drop_last``. The two agree unless
        ``drop_last``.

    Returns
    -------
    int
        ``epochs * ceil(batches_per_process / accumulation_steps)``.

    Raises
    ------
    TypeError
        An argument that must be an int is not one (bools and floats included).
    ValueError
        A count below its minimum, both or neither of ``batches_per_epoch`` and
        ``dataset_size``/``batch_size``, an unknown ``split``, or a run in which a process
        gets no batch at all.

    Notes
    -----
    Lightning steps a scheduler with ``"interval": "step"`` once per optimizer step, so
    the result is its ``total_steps``: the run ends at ``last_epoch == total_steps``, the
    extra step torch allows. accelerate's prepared scheduler steps ``num_processes`` times
    per optimizer step (with its default ``split_batches=False``), so there pass
    ``num_processes * total_steps_for(...)``.

    Examples
    --------
    >>> total_steps_for(10, 100)  # 10 epochs of 100 batches
    1000
    >>> total_steps_for(3, dataset_size=1000, batch_size=32, accumulation_steps=4, num_processes=2)
    12
    """
    epochs = _count("epochs", epochs, 1)
    accumulation_steps = _count("accumulation_steps", accumulation_steps, 1)
    processes = _count("num_processes", num_processes, 1)
    if not isinstance(drop_last, bool):
        raise TypeError(f"drop_last must be True or False, got {drop_last!r}")
    if split not in ("samples", "batches"):
        raise ValueError(f"split must be 'samples' or 'batches', got {split!r}")
    by_samples = dataset_size is not None or batch_size is not None
    if (batches_per_epoch is None) == (not by_samples) or (
        by_samples and (dataset_size is None or batch_size is None)
    ):
        raise ValueError(
            "give either batches_per_epoch, or dataset_size and batch_size, got "
            f"batches_per_epoch={batches_per_epoch!r}, dataset_size={dataset_size!r}, "
            f"batch_size={batch_size!r}"
        )
    if by_samples:
        samples = _count("dataset_size", dataset_size, 1)
        size = _count("batch_size", batch_size, 1)
        if split == "samples":
            per_process = _ceil_div(samples, processes)
            batches = per_process // size if drop_last else _ceil_div(per_process, size)
        else:
            total = samples // size if drop_last else _ceil_div(samples, size)
            batches = total // processes if drop_last else _ceil_div(total, processes)
    else:
        total = _count("batches_per_epoch", batches_per_epoch, 1)
        if drop_last and processes > 1 and split == "samples":
            raise ValueError(
                "with drop_last=True and num_processes > 1, the batches per process depend "
                "on the dataset: give dataset_size and batch_size instead of batches_per_epoch"
            )
        batches = total // processes if drop_last else _ceil_div(total, processes)
    if batches == 0:
        raise ValueError(
            f"with drop_last=True, each of the {processes} processes gets no batch per "
            "epoch: there is no step to schedule"
        )
    return epochs * _ceil_div(batches, accumulation_steps)
