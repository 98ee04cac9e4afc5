# omotenashi server image: the HTTP API (`omotenashi serve`) on PostgreSQL or a SQLite volume.
# Build:  docker build -t omotenashi .
# Run:    docker run -p 8000:8000 -e OMOTENASHI_DB=postgresql://... omotenashi
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# libgomp: the OpenMP runtime of the `implicit` and scikit-learn wheels
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 omotenashi
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
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
