"""The schedule options shared by the subcommands, and the configurations they describe.

Both come from the core's list of the schedule's parameters (``onecycle._core.PARAMETERS``:
name, type, default, meaning), so a parameter added there is an option here."""

from __future__ import annotations

import argparse
import itertools
from typing import Any

from onecycle import _core

__all__ = [
    "PARAMETERS",
    "Config",
    "UsageError",
    "add_schedule_options",
    "configs",
    "describe",
    "replans",
    "varying",
]

# The schedule's parameters, in the order of onecycle.schedule's signature; a sweep's axes
# come in this order too.
PARAMETERS = tuple(name for name, *_ in _core.PARAMETERS)
# The command's defaults for the parameters schedule() requires.
REQUIRED_DEFAULTS: dict[str, Any] = {"total_steps": 10_000, "max_lr": 0.01}


class UsageError(Exception):
    """A mistake on the command line: printed as one line, exit status 2."""


class Config:
    """One 1cycle configuration: a value for each of :data:`PARAMETERS` (the arguments of
    ``onecycle.schedule`` but the window), read as attributes (``config.max_lr``), and the
    ``(step, total_steps)`` of each re-plan (``config.replan``, ``--replan``)."""

    __slots__ = ("_values", "replan")

    def __init__(self, *values: Any, replan: tuple[tuple[int, int], ...] = ()) -> None:
        if len(values) != len(PARAMETERS):
            raise TypeError(
                f"Config takes {len(PARAMETERS)} values ({', '.join(PARAMETERS)}), got {len(values)}"
            )
        self._values = values
        self.replan = tuple(replan)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[PARAMETERS.index(name)]
        except ValueError:
            raise AttributeError(f"Config has no parameter {name!r}") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Config) and (self._values, self.replan) == (other._values, other.replan)

    def __hash__(self) -> int:
        return hash((self._values, self.replan))

    def __repr__(self) -> str:
        return f"Config({describe(self)})"

    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``onecycle.schedule`` (and of ``OneCycleLR``) for this
        configuration, without its re-plans."""
        return dict(zip(PARAMETERS, self._values, strict=True))

    def schedule_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``onecycle.schedule`` for this configuration, its
        re-plans (``replan=``) included."""
        return {**self.kwargs(), "replan": list(self.replan)} if self.replan else self.kwargs()

    @property
    def final_steps(self) -> int:
        """The cycle's length after its last re-plan (``total_steps`` without any)."""
        return self.replan[-1][1] if self.replan else int(self.total_steps)


def _boolean(text: str) -> bool:
    value = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(text.lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return value


def add_schedule_options(parser: argparse.ArgumentParser, *, sweep_steps: bool) -> None:
    """Add an option for each of ``onecycle.schedule``'s parameters to ``parser``.

    Every option takes several values (a sweep: one configuration per combination);
    ``--total-steps`` only where ``sweep_steps`` is true.
    """
    group = parser.add_argument_group(
        "schedule", "the arguments of onecycle.schedule(); several values make a sweep over all combinations"
    )
    for name, kind, default, text, choices in _core.PARAMETERS:
        flag = "--" + name.replace("_", "-")
        default = REQUIRED_DEFAULTS.get(name, default)
        if kind == "bool":
            group.add_argument(
                flag,
                type=_boolean,
                nargs="*",
                default=None,
                metavar="BOOL",
                help=f"{text}; give 'false true' to sweep over both (default: {str(default).lower()})",
            )
            continue
        several = sweep_steps or kind != "int"
        group.add_argument(
            flag,
            type={"int": int, "float": float, "str": str}[kind],
            choices=choices or None,
            nargs="+" if several else None,
            default=[default] if several else default,
            metavar=None if choices else {"int": "N", "float": "X"}[kind],
            help=f"{text} (default: {default})",
        )
    group.add_argument(
        "--replan",
        action="append",
        metavar="STEP:TOTAL",
        help="re-plan the cycle onto TOTAL steps when last_epoch reaches STEP, as "
        "OneCycleLR.replan() does (schedule(replan=...)); repeat it for several, in order",
    )


def configs(args: argparse.Namespace) -> tuple[list[Config], dict[str, list[Any]]]:
    """The configurations the options describe, in sweep order (the last swept parameter
    varies fastest), and the values of every parameter."""
    values: dict[str, list[Any]] = {}
    for name, kind, *_ in _core.PARAMETERS:
        given = getattr(args, name)
        if kind == "bool":
            # absent: false; `--three-phase` alone: true; or the values given.
            given = [False] if given is None else given or [True]
        values[name] = given if isinstance(given, list) else [given]
    replan = replans(getattr(args, "replan", None))
    return [Config(*combo, replan=replan) for combo in itertools.product(*values.values())], values


def replans(given: list[str] | None) -> tuple[tuple[int, int], ...]:
    """The ``(step, total_steps)`` of each ``--replan STEP:TOTAL``, in the order given
    (onecycle.schedule checks the order and the lengths)."""
    pairs = []
    for text in given or []:
        step, colon, total = text.partition(":")
        try:
            if not colon:
                raise ValueError(text)
            pairs.append((int(step), int(total)))
        except ValueError:
            raise UsageError(f"--replan must be STEP:TOTAL (two integers), got {text!r}") from None
    return tuple(pairs)


def varying(values: dict[str, list[Any]]) -> list[str]:
    """The parameters given several values: the axes of a sweep."""
    return [name for name, v in values.items() if len(v) > 1]


def describe(config: Config, names: list[str] | tuple[str, ...] | None = None) -> str:
    """``name=value`` pairs of a configuration, for labels and messages: of ``names`` (of
    :data:`PARAMETERS`, or ``replan``), by default every parameter and the re-plans if any."""
    if names is None:
        names = [*PARAMETERS, *["replan"] * bool(config.replan)]
    return ", ".join(
        f"{name}={list(config.replan) if name == 'replan' else getattr(config, name)!r}" for name in names
    )
