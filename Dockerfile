# Emotion DJ's runtime as an image: the camera app, its page and Home Assistant over MQTT (docs/CONTAINER.md).
# No PyTorch (the model ships as ONNX), no compilers, no GUI: OpenCV's headless contrib wheel (YuNet and Haar).
#
#   docker build -t emotion-dj .
#   docker run --rm -p 8080:8080 -v emotion-dj-data:/data -v emotion-dj-config:/config emotion-dj --source demo
#
# Podman keeps HEALTHCHECK only in Docker's image format: podman build --format docker -t emotion-dj .
# Behind a proxy, a mirror or a TLS-inspecting CA, nothing is baked into the image; the build takes them as
#   --build-arg HTTPS_PROXY=... (Docker and Podman pass the proxy variables to RUN by themselves),
#   --build-arg PIP_INDEX_URL=https://mirror/simple, --build-arg APT_MIRROR=http://mirror/debian,
#   --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt (a CA bundle pip then trusts, in the build stage only).
ARG BASE=debian:bookworm-slim

# -- build: the dependencies in one virtual environment, the package in a folder of its own --------------------------
# Two layers, so that a change to the code rebuilds a few MB and not the 500 MB of dependencies. pip itself lives in a
# tool environment of the build stage (pip --python installs into the runtime's), so the image has no pip or setuptools.
FROM ${BASE} AS build
ARG APT_MIRROR
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
RUN if [ -n "$APT_MIRROR" ]; then \
        sed -i "s|http://deb.debian.org/debian|$APT_MIRROR|g" /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null || true; fi \
    && apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends python3 python3-venv ca-certificates >/dev/null \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/pip && python3 -m venv --without-pip /opt/emotion-dj \
    && echo /opt/emotion-dj-app > "$(/opt/emotion-dj/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/emotion-dj-app.pth"
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

# The dependencies: the package's own list with its serve (the page) and home (MQTT) extras, OpenCV's GUI wheel
# swapped for the headless one (the two clash), at the versions in constraints.txt.
COPY pyproject.toml constraints.txt /src/
RUN --mount=type=secret,id=ca --mount=type=cache,target=/root/.cache/pip \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi \
    && python3 -c 'import tomllib; project = tomllib.load(open("/src/pyproject.toml", "rb"))["project"]; \
extras = project["optional-dependencies"]; \
print("\n".join(d.replace("opencv-contrib-python", "opencv-contrib-python-headless", 1) \
                for d in project["dependencies"] + extras["serve"] + extras["home"]))' > /src/requirements.txt \
    && /opt/pip/bin/pip --python /opt/emotion-dj/bin/python install -q -c /src/constraints.txt -r /src/requirements.txt

# The package, with its `emotion-dj` command; the training checkpoint (.pt) needs PyTorch, which this image does not
# have: the ONNX models stay.
COPY README.md /src/
COPY emotion_dj /src/emotion_dj
RUN --mount=type=secret,id=ca --mount=type=cache,target=/root/.cache/pip \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi \
    && /opt/pip/bin/pip --python /opt/emotion-dj/bin/python install -q --no-deps --target /opt/emotion-dj-app /src \
    && rm -f /opt/emotion-dj-app/emotion_dj/weights/*.pt \
    && PATH=/opt/emotion-dj-app/bin:$PATH /opt/emotion-dj/bin/python -c \
       "import cv2, onnxruntime, emotion_dj.runtime.app; cv2.FaceDetectorYN; cv2.CascadeClassifier"

# -- runtime: Debian's Python, tini as PID 1, the virtual environment, and a user of its own (not root), in the video
# group so that a passed-through /dev/video0 opens (docs/CONTAINER.md: the host's group id) --------------------------------
FROM ${BASE}
ARG APT_MIRROR
RUN if [ -n "$APT_MIRROR" ]; then \
        sed -i "s|http://deb.debian.org/debian|$APT_MIRROR|g" /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null || true; fi \
    && apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends python3 tini ca-certificates >/dev/null \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
    && useradd --uid 10001 --user-group --groups video --no-create-home --home-dir /data --shell /usr/sbin/nologin emotion-dj \
    && install -d -m 0700 -o emotion-dj -g emotion-dj /data /config
COPY --from=build /opt/emotion-dj /opt/emotion-dj
COPY --from=build /opt/emotion-dj-app /opt/emotion-dj-app

# A server's defaults: no window, no browser, the page on every address with its token (from $EMOTION_DJ_SERVE_TOKEN,
# or generated once into /config and never printed), logs on stdout as they happen. The music store and the cache in
# /data, the Spotify token and config.json in /config: the two volumes. A camera that is not there yet (a USB camera
# still enumerating) is tried again with back-off, then one line and a non-zero exit for the restart policy. The Spotify
# login pastes the redirected address back (the browser is on another machine): docker exec -it NAME emotion-dj login
ENV PATH=/opt/emotion-dj-app/bin:/opt/emotion-dj/bin:$PATH \
    PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    EMOTION_DJ_HEADLESS=1 EMOTION_DJ_NO_OPEN=1 EMOTION_DJ_SERVE=0.0.0.0:8080 \
    EMOTION_DJ_DATA=/data EMOTION_DJ_CACHE=/data/cache EMOTION_DJ_CONFIG_DIR=/config \
    EMOTION_DJ_CAMERA_RETRIES=4 EMOTION_DJ_LOGIN_PASTE=1
VOLUME ["/data", "/config"]
WORKDIR /data
USER emotion-dj
EXPOSE 8080
# Asks the app itself: the page answers and its live state is fresh (the frame loop is running), not just "a process".
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["emotion-dj", "health"]
# SIGTERM (docker stop) ends the run like Ctrl-C: the video and the events file are closed within the grace period.
STOPSIGNAL SIGTERM
ENTRYPOINT ["tini", "--", "emotion-dj"]
