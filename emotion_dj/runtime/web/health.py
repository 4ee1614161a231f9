"""`emotion-dj health`: the container's HEALTHCHECK, which asks the running app itself.

Healthy (exit 0) only when the page answers with the app's live state and that state is fresh: the frame loop
publishes it a few times a second, so a state older than --max-age seconds means a stuck loop or a camera that
stopped delivering, even though the process is still there. Unhealthy is exit 1 and one line saying why.
"""
from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from emotion_dj.core.cli import EXIT_OK, EXIT_RUNTIME_ERROR, OneLineErrorParser, fail, number, run_cli, say
from emotion_dj.core.errors import UserError
from emotion_dj.runtime.web.server import COOKIE, is_loopback, parse_address
from emotion_dj.runtime.web.token import ENV, page_token


@dataclass(frozen=True)
class Page:
    base: str  # http://HOST:PORT/ to ask from this machine (a wildcard bind is asked on loopback)
    token: str | None  # None on a loopback bind, which has none


def running_page(serve: str | None) -> Page:
    """Where the app serves its page ($EMOTION_DJ_SERVE), and its token, as the app itself found them."""
    if not serve:
        raise ValueError("the page is off (no --serve / $EMOTION_DJ_SERVE): there is nothing to ask")
    host, port = parse_address(serve)
    token = None if is_loopback(host) else page_token(os.environ.get(ENV), create=False).value
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # a wildcard bind is asked on loopback
    host = f"[{host}]" if ":" in host else host
    return Page(f"http://{host}:{port}/", token)


def fetch_state(page: Page, timeout: float) -> dict:
    request = urllib.request.Request(page.base + "api/state")
    if page.token:
        request.add_header("Cookie", f"{COOKIE}={page.token}")
    with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 (http to our own page)
        return json.loads(answer.read(1 << 20))


def check(page: Page, max_age: float, timeout: float) -> str:
    """One line: what is healthy; ValueError with the reason when something is not."""
    try:
        state = fetch_state(page, timeout)
    except urllib.error.HTTPError as error:
        raise ValueError(f"the page answered {error.code} to {page.base}api/state") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ValueError(f"the page at {page.base} does not answer ({reason})") from None
    except json.JSONDecodeError:
        raise ValueError(f"the page at {page.base} did not answer with its state (JSON)") from None
    updated = state.get("updated")
    if not isinstance(updated, (int, float)):
        raise ValueError("the app has not published a live state yet (still starting?)")
    age = time.time() - updated
    if age > max_age:
        raise ValueError(f"the frame loop last published its state {age:.0f} s ago (more than {max_age:g} s): stuck, "
                         "or the source stopped delivering")
    stats = state.get("stats") or {}
    return f"healthy: {stats.get('frames', 0)} frames at {stats.get('fps', 0):.1f} FPS, state {max(age, 0):.1f} s old"


def page_parser(prog: str, description: str) -> OneLineErrorParser:
    """The parser of a command that finds the running app's page as the app does: --serve, else $EMOTION_DJ_SERVE."""
    parser = OneLineErrorParser(prog=prog, description=description)
    parser.add_argument("--serve", default=os.environ.get("EMOTION_DJ_SERVE"), metavar="[HOST:]PORT",
                        help="where the app serves its page [$EMOTION_DJ_SERVE]")
    return parser


def main(argv: list[str]) -> int:
    parser = page_parser("emotion-dj health", "Ask the running app's page whether its frame loop is alive (exit 0), "
                                              "or say why not (exit 1). Reads the page's token as the app does.")
    parser.add_argument("--max-age", type=number(float, 1, 3600), default=20.0,
                        help="seconds the live state may be old before the app counts as stuck")
    parser.add_argument("--timeout", type=number(float, 0.5, 60), default=5.0, help="seconds to wait for the page")
    args = parser.parse_args(argv)

    def work() -> int:
        try:
            say(check(running_page(args.serve), args.max_age, args.timeout))
        except (ValueError, UserError) as error:  # exit 1, never 2: Docker reserves 2 in a health check
            return fail(f"unhealthy: {error}", EXIT_RUNTIME_ERROR)
        return EXIT_OK
    return run_cli(work)
