# The gateway as a container: the console built by scripts/build-web, then the package installed from the source
# tree into a virtual environment of Debian's Python 3.11 (admin_api finds web/dist beside the package).
#
# The bases are arguments so the image builds where only Debian's package mirror is reachable: .ci/run builds it
# with podman on a debian:bookworm-slim made by debootstrap and a Node.js image made from the machine's own Node
# (scripts/image-build). On a machine that reaches a registry, plain `docker build .` uses the official images.
ARG BASE_IMAGE=debian:bookworm-slim
ARG NODE_IMAGE=node:20-slim

FROM ${NODE_IMAGE} AS web
WORKDIR /app
COPY web ./web
COPY scripts/build-web ./scripts/build-web
RUN rm -rf web/node_modules web/dist && scripts/build-web

FROM ${BASE_IMAGE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/one-api
ENV PATH=/opt/one-api/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    TIKTOKEN_CACHE_DIR=/data/tiktoken SQLITE_PATH=/data/one-api.db
WORKDIR /app
COPY pyproject.toml README.md ./
COPY proxy ./proxy
COPY admin_api ./admin_api
COPY store ./store
COPY rules ./rules
COPY settings ./settings
COPY startup ./startup
COPY launcher ./launcher
COPY --from=web /app/web/dist ./web/dist
RUN pip install -e . && mkdir -p /data

# Started as root, like One API's image, so a One API data folder owned by root opens: one-api makes /data (the
# SQLite file, its journal, the logs) belong to RUN_AS and then drops to it before anything else starts.
ENV RUN_AS=10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 3000
# /api/status answers compact JSON ({"success":true,...}): parse it, don't grep for a spacing. PORT wins over --port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import json,os,sys,urllib.request; r=urllib.request.urlopen('http://127.0.0.1:%s/api/status' % os.environ.get('PORT', '3000'), timeout=4); sys.exit(0 if json.load(r).get('success') is True else 1)"
ENTRYPOINT ["one-api"]
CMD ["--port", "3000", "--log-dir", "/data/logs"]
