"""The command line's arguments: a parser that never abbreviates a flag and says a usage error in
one line, and the argument types of ``textgen``'s flags, each a one-line error naming what was wrong.

The types call the package's own checks (``sampling.check_temperature``, ``checks.check_seed``...),
imported on first use, so ``textgen --help`` does not wait for TensorFlow.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import shlex

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse, but flags are never abbreviated (``--sampleLen`` and ``--sample-len`` would make
    abbreviations ambiguous) and a usage error is one line: what was wrong and where to read more."""

    def __init__(self, *args, **kwargs):
        self.flags: list[str] = []  # every option string, for "did you mean"
        super().__init__(*args, **{**kwargs, "allow_abbrev": False})

    def add_argument(self, *args, **kwargs):
        action = super().add_argument(*args, **kwargs)
        self.flags.extend(action.option_strings)
        return action

    def unrecognized(self, extras: list[str]):
        """Exit 2 for arguments nothing took, suggesting the flag a misspelt or shortened one meant."""
        message = f"unrecognized arguments: {shlex.join(extras)}"
        for flag in (extra.split("=")[0] for extra in extras if extra.startswith("--")):
            longer = [known for known in self.flags if known.startswith(flag)]
            if longer:
                message += f"; flags are spelled in full: did you mean {' or '.join(longer)}?"
                break
            close = difflib.get_close_matches(flag, self.flags, n=1)
            if close:
                message += f"; did you mean {close[0]}?"
                break
        self.error(message)

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default where it has one: not for an on/off flag (``--quiet``: "default: False"
    says nothing), not for None, and not where the help already says it."""

    def _get_help_string(self, action):
        if action.nargs == 0 or action.default in (None, argparse.SUPPRESS) or "default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def checked(check: str, parse=None, expected: str = ""):
    """An argparse type: ``parse`` the string (if given), then call the package's ``check``
    (``"module.function"``, imported on first use so ``--help`` does not wait for TensorFlow); a
    ValueError from either becomes argparse's one-line usage error."""
    module, name = check.rsplit(".", 1)

    def convert(value: str):
        if parse is not None:
            try:
                value = parse(value)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{expected}, got {value!r}") from None
        try:
            return getattr(importlib.import_module(f"textgen_helpers.{module}"), name)(value)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return convert


layer_sizes = checked("model.parse_layer_sizes")
temperature = checked("sampling.check_temperature", float, "expected a number for the temperature")
temperatures = checked("sampling.check_temperatures")
top_k = checked("sampling.check_top_k", int, "top_k must be a whole number such as 40 (1 is greedy)")
top_p = checked("sampling.check_top_p", float, "expected a number for the top_p")
seed = checked("checks.check_seed", int, "seed must be a whole number such as 0 or 42")


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value!r}")
    return number


def non_negative_int(value: str) -> int:
    if value.strip() == "0":
        return 0
    return positive_int(value)


def positive_float(value: str) -> float:
    number = _number(value, "value")
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}")
    return number


def fraction(value: str) -> float:
    number = _number(value, "fraction")
    if not 0 < number < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, such as 0.1, got {value!r}")
    return number


def dropout_rate(value: str) -> float:
    number = _number(value, "dropout")
    if not 0 <= number < 1:
        raise argparse.ArgumentTypeError(f"expected a dropout rate in [0, 1), such as 0.2, got {value!r}")
    return number


def _number(value: str, what: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number for the {what}, got {value!r}") from None
