"""`emotion-dj links`: the page's link and the video's, with their tokens, for the person at this terminal.

The app never prints its tokens (a container's log outlives the terminal); this asks nothing of the app, it derives
both links from $EMOTION_DJ_SERVE and the token the app uses ($EMOTION_DJ_SERVE_TOKEN or the kept one).
"""
from __future__ import annotations

from emotion_dj.core.cli import EXIT_OK, fail, run_cli, say
from emotion_dj.runtime.web.health import page_parser, running_page
from emotion_dj.runtime.web.token import stream_token


def main(argv: list[str]) -> int:
    parser = page_parser("emotion-dj links", "Print the page's link and the video stream's link (for VLC or Home "
                                             "Assistant's MJPEG camera), with their tokens. Not logged anywhere: keep "
                                             "them to yourself.")
    parser.add_argument("--host", default=None,
                        help="the name or address other machines reach this one by (default: the one the page is "
                             "asked on here; in a container, use the host's)")
    args = parser.parse_args(argv)

    def work() -> int:
        try:
            page = running_page(args.serve)
        except ValueError as error:
            return fail(str(error))
        base = page.base if args.host is None else f"http://{args.host}:{page.base.rsplit(':', 1)[1]}"
        say(f"page:  {base}" + (f"?token={page.token}" if page.token else ""))
        say(f"video: {base}video.mjpg" + (f"?stream={stream_token(page.token)}" if page.token else ""))
        return EXIT_OK
    return run_cli(work)
