# The gateway as a container: the same steps .ci/run does on a clean machine (scripts/build-web, then the
# package installed from the source tree, so admin_api finds web/dist beside it).
FROM node:20-slim AS web
WORKDIR /app
COPY web ./web
COPY scripts/build-web ./scripts/build-web
RUN scripts/build-web

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
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
RUN pip install -e . && useradd --system --uid 10001 --home /data oneapi && mkdir -p /data && chown oneapi /data

USER oneapi
WORKDIR /data
VOLUME ["/data"]
EXPOSE 3000
# /api/status answers compact JSON ({"success":true,...}): parse it, don't grep for a spacing. PORT wins over --port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import json,os,sys,urllib.request; r=urllib.request.urlopen('http://127.0.0.1:%s/api/status' % os.environ.get('PORT', '3000'), timeout=4); sys.exit(0 if json.load(r).get('success') is True else 1)"
ENTRYPOINT ["one-api"]
CMD ["--port", "3000", "--log-dir", "/data/logs"]
