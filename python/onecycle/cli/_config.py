"""The schedule options shared by the subcommands, and the configurations they describe."""

from __future__ import annotations

import argparse
import itertools
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Config", "UsageError", "add_schedule_options", "configs", "describe", "varying"]

# The schedule's parameters, in the order of onecycle.schedule's signature; a sweep's axes
# come in this order too.
PARAMETERS = (
    "total_steps",
    "max_lr",
    "pct_start",
    "anneal_strategy",
    "base_momentum",
    "max_momentum",
    "div_factor",
    "final_div_factor",
    "three_phase",
)


class UsageError(Exception):
    """A mistake on the command line: printed as one line, exit status 2."""


@dataclass(frozen=True)
class Config:
    """One 1cycle configuration: the arguments of ``onecycle.schedule`` but the window."""

    total_steps: int
    max_lr: float
    pct_start: float
    anneal_strategy: str
    base_momentum: float
    max_momentum: float
    div_factor: float
    final_div_factor: float
    three_phase: bool

    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``onecycle.schedule`` for this configuration."""
        return asdict(self)

    def phase_ends(self) -> list[float]:
        """The steps where the phases before the last one end, as torch's ``OneCycleLR``
        lays them out (``float(pct_start * total_steps) - 1``, and
        ``float(2 * pct_start * total_steps) - 2`` with ``three_phase``)."""
        ends = [float(self.pct_start * self.total_steps) - 1]
        if self.three_phase:
            ends.append(float(2 * self.pct_start * self.total_steps) - 2)
        return ends


def _boolean(text: str) -> bool:
    value = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(text.lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return value


def add_schedule_options(parser: argparse.ArgumentParser, *, sweep_steps: bool) -> None:
    """Add the options that mirror ``onecycle.schedule``'s arguments to ``parser``.

    Every option takes several values (a sweep: one configuration per combination);
    ``--total-steps`` only where ``sweep_steps`` is true.
    """
    group = parser.add_argument_group(
        "schedule", "the arguments of onecycle.schedule(); several values make a sweep over all combinations"
    )
    group.add_argument(
        "--total-steps",
        type=int,
        nargs="+" if sweep_steps else None,
        default=[10_000] if sweep_steps else 10_000,
        metavar="N",
        help="steps in the cycle (default: 10000)",
    )

    def floats(*options: tuple[str, float, str]) -> None:
        for flag, default, text in options:
            group.add_argument(
                flag,
                type=float,
                nargs="+",
                default=[default],
                metavar="X",
                help=f"{text} (default: {default})",
            )

    floats(
        ("--max-lr", 0.01, "peak learning rate"),
        ("--pct-start", 0.3, "fraction of the cycle spent raising the learning rate"),
    )
    group.add_argument(
        "--anneal-strategy",
        choices=("cos", "linear"),
        nargs="+",
        default=["cos"],
        help="annealing between the phase ends (default: cos)",
    )
    floats(
        ("--base-momentum", 0.85, "momentum at the learning-rate peak"),
        ("--max-momentum", 0.95, "momentum at both ends"),
        ("--div-factor", 25.0, "initial_lr = max_lr / div_factor"),
        ("--final-div-factor", 1e4, "min_lr = initial_lr / final_div_factor"),
    )
    group.add_argument(
        "--three-phase",
        type=_boolean,
        nargs="*",
        default=None,
        metavar="BOOL",
        help="use the three-phase layout; give 'false true' to sweep over both (default: false)",
    )


def configs(args: argparse.Namespace) -> tuple[list[Config], dict[str, list[Any]]]:
    """The configurations the options describe, in sweep order (the last swept parameter
    varies fastest), and the values of every parameter."""
    values: dict[str, list[Any]] = {}
    for name in PARAMETERS:
        given = getattr(args, name)
        if name == "three_phase":
            # absent: false; `--three-phase` alone: true; or the values given.
            given = [False] if given is None else given or [True]
        values[name] = given if isinstance(given, list) else [given]
    return [Config(*combo) for combo in itertools.product(*values.values())], values


def varying(values: dict[str, list[Any]]) -> list[str]:
    """The parameters given several values: the axes of a sweep."""
    return [name for name, v in values.items() if len(v) > 1]


def describe(config: Config, names: list[str] | tuple[str, ...] = PARAMETERS) -> str:
    """``name=value`` pairs of a configuration, for labels and messages."""
    return ", ".join(f"{name}={getattr(config, name)!r}" for name in names)
