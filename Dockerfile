# returns_service: the same steps as `make run`, on PostgreSQL in production.
FROM python:3.11-slim AS build
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --upgrade pip && /opt/venv/bin/pip install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 returns
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY alembic.ini ./
COPY migrations ./migrations
# The embedded SQLite default writes returns.db here; production sets RETURNS_DATABASE_URL.
RUN chown returns:returns /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    RETURNS_MIGRATIONS_DIR=/app/migrations \
    PORT=8000
USER returns
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import os,urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz')"
# SIGTERM lets requests in flight finish (RETURNS_SHUTDOWN_GRACE_SECONDS): give `docker stop`
# a longer timeout than that, e.g. `docker stop -t 45`.
STOPSIGNAL SIGTERM
# Migrate, then serve (as `make run` does); set RETURNS_DATABASE_URL to a PostgreSQL URL.
# `exec` replaces the shell, so serve is PID 1 and receives the signal itself. Workers:
# RETURNS_WORKERS; metrics: serve makes its workers' shared folder; logs: JSON on stderr.
# The same image runs `returns-service relay` or `sweep` as its command.
CMD ["sh", "-c", "returns-service migrate && exec returns-service serve --host 0.0.0.0 --port ${PORT}"]
