"""What every command line of the project shares: the parser, exit codes, logging, and the one-line error rule.

    def main(argv=None) -> int:
        args = build_parser().parse_args(argv)
        setup_logging(args.verbose)
        return run_cli(lambda: work(args), verbose=args.verbose)

A UserError (or any error the command lists as the user's) ends in one line on stderr and exit 2;
--verbose adds the traceback.
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from collections.abc import Callable

from emotion_dj.core.errors import UserError
from emotion_dj.core.redact import RedactingFilter, redact

EXIT_OK, EXIT_RUNTIME_ERROR, EXIT_USER_ERROR = 0, 1, 2
EXIT_INTERRUPTED = 130  # the shell's convention for a run ended by Ctrl-C before it could finish cleanly


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a bad option ends in one line (and exit 2) like every other user error."""

    def error(self, message: str):
        print(f"error: {shorten(redact(message))} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)


def shorten(text: str, limit: int = 300) -> str:
    """One printable line of at most `limit` characters: a 100 KB argument is not echoed whole, nor its control
    characters."""
    line = "".join(c if c.isprintable() else "?" for c in text)
    return line if len(line) <= limit else f"{line[:limit]}... ({len(line)} characters)"


def number(kind: type, low: float, high: float | None, variable: str | None = None):
    """An argparse type: a `kind` number in [low, high]; the message names the environment variable too, if any."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        # nan passes every comparison and inf every open bound: neither is ever a setting
        if value is None or not math.isfinite(value) or value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
            noun = "an integer" if kind is int else "a number"
            source = f" (flag or ${variable})" if variable else ""
            raise argparse.ArgumentTypeError(f"must be {noun} {bound}, got '{shorten(text, 40)}'{source}")
        return value
    return parse


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # no log line, of any library, shows a URL's credentials
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


def say(text: str) -> None:
    """print() for results: if the reader of stdout has gone (`... | head`, `... | true`), the rest of the output is
    dropped quietly, the command goes on (its files are still written) and no BrokenPipeError traceback appears."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        silence_stdout()


def silence_stdout() -> None:
    # Point stdout at /dev/null so that Python's own flush at exit does not fail a second time.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def fail(message: str, code: int = EXIT_USER_ERROR) -> int:
    print(f"error: {redact(message)}", file=sys.stderr)
    return code


def run_cli(work: Callable[[], int], verbose: bool = False, user_errors: tuple[type[BaseException], ...] = (),
            on_interrupt: str = "interrupted") -> int:
    """Run a command's body: its user errors become one line and exit 2, Ctrl-C one line and exit 130."""
    try:
        return work()
    except (UserError, *user_errors) as error:
        if verbose:
            logging.getLogger("cli").exception("failed")
        return fail(str(error))
    except KeyboardInterrupt:
        return fail(on_interrupt, EXIT_INTERRUPTED)
    except BrokenPipeError:  # a print that was not through say(): same rule
        silence_stdout()
        return EXIT_OK
