"""The live web page for headless boxes (`--serve [HOST:]PORT`): the annotated video as MJPEG, each face's
expression and the main face's mood strip over Server-Sent Events, the Make playlist button, the run's stats and
the mood report so far. `view.LiveView` is what the app thread shares with the server; `server.WebServer` is the
aiohttp server on its own thread and event loop; `static/` holds the page (plain HTML, JS and CSS, no CDN)."""
