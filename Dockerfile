# omotenashi server image: the HTTP API (`omotenashi serve`) on PostgreSQL or a SQLite volume.
# Build:  docker build -t omotenashi .
# Run:    docker run -p 8000:8000 -e OMOTENASHI_DB=postgresql://... omotenashi
# Another Python 3.11 base (Debian's python3 + python3-venv, a mirror's copy of the official
# image): docker build --build-arg PYTHON_IMAGE=IMAGE -t omotenashi .  (docs/deployment.md)
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# The package and its dependencies go into a virtual environment made with `python3` from PATH:
# the same steps work on the official image (/usr/local/bin/python3) and on Debian's python3
# (/usr/bin/python3, whose system pip refuses to install: PEP 668). The final stage copies the
# environment whole, to the same path on the same base: no wheel, pip cache or source tree stays.
RUN python3 -m venv /opt/omotenashi \
    && /opt/omotenashi/bin/pip install --no-cache-dir .

FROM ${PYTHON_IMAGE}
# libgomp: the OpenMP runtime of the `implicit` and scikit-learn wheels; curl: the health check.
# /data belongs to the server's user, so a new named volume mounted there is writable by it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 omotenashi \
    && install -d -o omotenashi -g omotenashi /data
COPY --from=build /opt/omotenashi /opt/omotenashi
ENV PATH=/opt/omotenashi/bin:$PATH
USER omotenashi
WORKDIR /data
# Configuration by environment (docs/deployment.md lists every variable)
ENV OMOTENASHI_DB=/data/omotenashi.db \
    OMOTENASHI_ARTEFACTS=/data/artefacts \
    OMOTENASHI_HOST=0.0.0.0 \
    OMOTENASHI_PORT=8000 \
    OMOTENASHI_WORKERS=1 \
    OMOTENASHI_LOG_FORMAT=json \
    OMOTENASHI_LOG_LEVEL=info \
    OMOTENASHI_GRACEFUL_S=30 \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${OMOTENASHI_PORT}/v1/ready" || exit 1
# exec form: the server is PID 1 and receives SIGTERM itself (graceful shutdown)
STOPSIGNAL SIGTERM
ENTRYPOINT ["omotenashi"]
CMD ["serve"]
