"""The ``onecycle`` console command: generate, plot and check 1cycle schedules.

``onecycle`` alone is ``onecycle generate``: it writes the default schedule to
``schedule.csv``.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import NoReturn

from onecycle._core import __version__
from onecycle.cli import _compare, _generate, _info, _plot
from onecycle.cli._config import UsageError, add_schedule_options

__all__ = ["main"]

COMMANDS = ("generate", "plot", "compare", "info")
DEFAULT_COMMAND = "generate"
# The one line a bare `onecycle` ends with, after writing schedule.csv.
NEXT = (
    "Next: `onecycle plot` draws this schedule to schedule.png, `onecycle compare` checks it "
    "against torch's OneCycleLR, and `onecycle --help` lists every option."
)


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line on stderr (and exit status 2), not the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def options(self) -> list[str]:
        """Every option string this parser takes (``--max-lr``, ``-o``, ...)."""
        return [option for action in self._actions for option in action.option_strings]


class _TopParser(_Parser):
    """The parser of ``onecycle``: its help goes on with the options of the command that
    runs when none is named, since ``onecycle [options]`` takes them."""

    default: _Parser | None = None

    def format_help(self) -> str:
        text = super().format_help()
        if self.default is None:
            return text
        own = self.default.format_help().split("\n\n", 2)[-1]  # without its usage and description
        return f"{text}\nWithout a command, the options of `onecycle {DEFAULT_COMMAND}`:\n\n{own}"


def _unrecognized(extras: list[str], options: list[str]) -> str:
    """argparse's message for arguments no option takes, with the nearest option for each
    one that looks like a misspelt option (``--max_lr``: ``--max-lr``)."""
    guesses = {}
    for extra in extras:
        given = extra.split("=", 1)[0]
        if not given.startswith("-") or given in guesses:
            continue
        spelt = given.replace("_", "-").lower()
        # Compared without the dashes, which every long option shares.
        names = {option.lstrip("-"): option for option in options if option.startswith("--")}
        nearest = difflib.get_close_matches(spelt.lstrip("-"), names, n=1, cutoff=0.7)
        if nearest:
            guesses[given] = names[nearest[0]]
    message = f"unrecognized arguments: {' '.join(extras)}"
    if len(guesses) == 1:
        return f"{message}; did you mean {next(iter(guesses.values()))}?"
    if guesses:
        return f"{message}; did you mean {', '.join(f'{o} for {g}' for g, o in guesses.items())}?"
    return message


# (name, module, one-line help, description, whether --total-steps may be swept)
_SCHEDULE_COMMANDS: list[tuple[str, ModuleType, str, str, bool]] = [
    (
        "generate",
        _generate,
        "write a schedule, a window of it or a sweep to .csv, .npy, .npz or .parquet",
        "Write the learning rate and momentum of every step to a file; the extension "
        "picks the format. Every format holds the values at full precision: they read "
        "back bit-identical, CSV included. .csv and .parquet hold one row per step "
        "(step, lr, momentum, after a column per swept parameter); .npy holds one array "
        "of shape (2, *sweep, steps), lr then momentum; .npz holds step, lr, momentum "
        "and each swept parameter's values. Large outputs are written window by window "
        "(memory stays bounded) through a temporary file that replaces the output once "
        "complete. With --replan, the schedule re-planned at each STEP onto TOTAL steps, "
        "up to the last TOTAL.",
        False,
    ),
    (
        "plot",
        _plot,
        "draw lr and momentum against step to .png or .svg",
        "Draw the learning rate and momentum against the step, one curve per "
        "configuration (give several values to compare them in one figure), with the "
        "phase boundaries, max_lr and the final values marked; with --replan, the "
        "re-planned schedule, each re-plan marked by a dotted line. Needs matplotlib: "
        "pip install 'onecycle[plot]'.",
        True,
    ),
    (
        "compare",
        _compare,
        "step torch's OneCycleLR beside onecycle's and count bit-identical steps",
        "Step the installed torch's OneCycleLR, onecycle's OneCycleLR and "
        "onecycle.schedule() through every step of each configuration (one SGD parameter "
        "group with momentum), and print how many steps agree bit for bit and the "
        "largest difference. With --replan, onecycle's OneCycleLR is re-planned by "
        "replan() at each STEP, and torch's, which cannot re-plan, is loaded there from "
        "onecycle's re-planned state and its optimizer's, then steps on. Exit status 1 "
        "when any step differs. Needs torch.",
        True,
    ),
]


def _parser() -> _TopParser:
    """The parser of ``onecycle`` and of each of its commands."""
    parser = _TopParser(
        prog="onecycle",
        description=(
            "1cycle learning-rate schedules, bit-identical to stepping torch's OneCycleLR. "
            "Without a command, `onecycle [options]` is `onecycle generate [options]`: it "
            "writes the default schedule (10,000 steps, max_lr=0.01) to schedule.csv."
        ),
        epilog="Run `onecycle COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"onecycle {__version__}")
    commands = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", parser_class=_Parser
    )

    for name, module, text, description, sweep_steps in _SCHEDULE_COMMANDS:
        command = commands.add_parser(name, help=text, description=description)
        add_schedule_options(command, sweep_steps=sweep_steps)
        if hasattr(module, "add_arguments"):
            module.add_arguments(command)
        command.set_defaults(run=module.run)
        if name == DEFAULT_COMMAND:
            parser.default = command

    info = commands.add_parser(
        "info",
        help="version, optional packages, threads, vector instructions",
        description="Print the version of onecycle and of the packages it can use, the threads it fills on and the vector instructions it uses.",
    )
    info.set_defaults(run=_info.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``onecycle`` console command.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the command's name; ``sys.argv[1:]`` when omitted. Without a
        command name (``generate``, ``plot``, ``compare``, ``info``) they are those of
        ``generate``.

    Returns
    -------
    int
        The exit status: 0 on success, 1 when the work failed (a file that cannot be
        written, steps that differ in ``compare``), 2 for a mistake in the arguments, 130
        when interrupted. Every failure prints one line on stderr, ``onecycle: error: ...``.

    Raises
    ------
    SystemExit
        From argparse: status 0 after ``--help`` or ``--version``, status 2 after printing
        the one line of a parse error (an unknown option, a value that is not a number).
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    bare = not args_list
    if args_list and not args_list[0].startswith("-") and args_list[0] not in COMMANDS:
        return _fail(2, f"unknown command {args_list[0]!r} (choose from {', '.join(COMMANDS)})")
    if not args_list or args_list[0] not in (*COMMANDS, "-h", "--help", "--version"):
        args_list.insert(0, DEFAULT_COMMAND)
    parser = _parser()
    args, extras = parser.parse_known_args(args_list)
    if extras:
        command = parser if args.command is None else _subparser(parser, args.command)
        command.error(_unrecognized(extras, command.options()))
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        status = run(args)
    except UsageError as e:
        return _fail(2, str(e))
    except (TypeError, ValueError, OverflowError) as e:
        # onecycle.schedule's and torch's messages name the argument, the value and the range.
        return _fail(2, str(e))
    except MemoryError as e:
        return _fail(1, str(e) or "out of memory")  # the core gives sizes in KiB, MiB, ...
    except OSError as e:
        where = f" {str(e.filename)!r}" if e.filename else ""
        return _fail(1, f"cannot write{where}: {e.strerror or e}")
    except KeyboardInterrupt:
        return _fail(130, "interrupted")
    if bare and status == 0:
        print(NEXT)
    return status


def _subparser(parser: argparse.ArgumentParser, name: str) -> _Parser:
    """The parser of the command ``name``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            command: _Parser = action.choices[name]
            return command
    raise LookupError(name)


def _fail(status: int, message: str) -> int:
    print(f"onecycle: error: {message}", file=sys.stderr)
    return status
