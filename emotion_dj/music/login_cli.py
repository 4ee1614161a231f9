"""`emotion-dj login [--paste]`: log in to Spotify once, before the app needs it; the token lands in the config folder.

With a browser on this machine, it opens the login page and catches the redirect itself (login.py). With --paste, for
a container or a server reached over SSH where the browser is on another machine (Spotify has no device-code flow),
it prints the login link; you open it in any browser and log in, and Spotify sends that browser to the redirect URI
(http://127.0.0.1:8888/callback?code=...), which does not load there. That is expected: copy the address from the
address bar and paste it here.
"""
from __future__ import annotations

import os
import sys
from urllib.parse import urlparse

from emotion_dj.core.cli import EXIT_OK, OneLineErrorParser, run_cli, say, setup_logging
from emotion_dj.music import login
from emotion_dj.music.spotify import MusicError, Spotify, SpotifySettings, auth_manager, clean, explain

PASTED_LIMIT = 8192  # characters of one pasted address


def read_pasted(stream=sys.stdin) -> str:
    line = stream.readline(PASTED_LIMIT)
    if not line.strip():
        raise MusicError("no address was pasted (stdin closed): run it in a terminal, e.g. "
                         "docker exec -it emotion-dj emotion-dj login --paste")
    return line


def main(argv: list[str]) -> int:
    parser = OneLineErrorParser(prog="emotion-dj login", description=(
        "Log in to Spotify now (the token is kept in the config folder). --paste: the browser is on another machine "
        "(a container, a server): open the printed link there, then paste back the address it ends on."))
    parser.add_argument("--paste", action="store_true", default=os.environ.get("EMOTION_DJ_LOGIN_PASTE", "").lower() in ("1", "true", "yes", "on"),
                        help="print the link and read the redirected address from stdin [$EMOTION_DJ_LOGIN_PASTE]")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    setup_logging(args.verbose)

    def work() -> int:
        settings = SpotifySettings.load()
        manager = auth_manager(settings, open_browser=not args.paste, notify=lambda line: print(line, file=sys.stderr))
        try:
            if args.paste:
                manager.state = login.new_state()  # spotipy's own prompt checks none: this login's, checked below
                say("1. Open this link in a browser on any machine and log in to Spotify:")
                say(manager.get_authorize_url())
                say(f"2. The browser then goes to {settings.redirect_uri}?code=... and shows an error page: that is "
                    "expected. Copy that whole address from the address bar and paste it here:")
                pasted = read_pasted()
                code = login.code_from_pasted(pasted, manager.state, urlparse(settings.redirect_uri).path)
                manager.get_access_token(code, check_cache=False)  # exchanged and saved to the token cache
            else:
                manager.get_access_token(check_cache=False)
            me = Spotify(api_url=settings.api_url, auth_manager=manager, requests_timeout=settings.timeout).me()
        except login.LoginError as error:
            raise MusicError(str(error)) from None
        except Exception as error:  # spotipy's and requests' errors, in one line (a MusicError as it is)
            raise MusicError(explain(error)) from None
        name = clean((me or {}).get("display_name") or (me or {}).get("id") or "?", 80)
        say(f"Logged in to Spotify as {name}; the token is kept in {settings.token_cache}")
        return EXIT_OK
    return run_cli(work, verbose=args.verbose, user_errors=(MusicError,))
