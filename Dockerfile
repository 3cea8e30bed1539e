# One image for every role of an installation (docker-compose.yml runs them):
#   the console (the default command: gunicorn, static files by WhiteNoise)
#   a transport worker:  python manage.py transport --server NAME   (a Hub's, or an Edge server's on its own
#                                                                     installation)
#   Celery beat:         celery -A exchange_console beat
#   database migrations: python manage.py migrate --noinput
# It runs as the unprivileged user "exchange"; the data folder is the volume /data.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
# The pinned dependencies first: this layer is rebuilt only when requirements.lock changes.
COPY requirements.lock /app/requirements.lock
RUN pip install --only-binary=:all: -r /app/requirements.lock
COPY . /app
WORKDIR /app
# Editable, so that the templates and static folders next to the packages stay where settings.py looks.
RUN pip install --no-deps -e . \
 && DEBUG=false SECRET_KEY=collectstatic-only EXCHANGE_DATA_DIR=/tmp/build-data STATIC_ROOT=/app/staticfiles \
    python manage.py collectstatic --noinput \
 && find /app -name __pycache__ -prune -exec rm -rf {} +

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=exchange_console.settings EXCHANGE_DATA_DIR=/data STATIC_ROOT=/app/staticfiles
# Graphviz's dot lays out Toolbox > Mail Flow Topology.
RUN apt-get update && apt-get install -y --no-install-recommends graphviz && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home --shell /usr/sbin/nologin exchange \
 && install -d -o exchange -g exchange -m 750 /data
COPY --from=build /opt/venv /opt/venv
# The code stays root's: the service can write only to /data.
COPY --from=build /app /app
WORKDIR /app
USER exchange
VOLUME /data
# The console; SMTP (a transport worker binds its receive connectors' ports itself: see docker-compose.yml).
EXPOSE 8000 25 587
# Workers: WEB_CONCURRENCY (gunicorn's own variable, default 1); more options in GUNICORN_CMD_ARGS. The workers'
# heartbeat files go to memory, not to the container's overlay file system, which can stall them.
CMD ["gunicorn", "exchange_console.wsgi", "--bind", "0.0.0.0:8000", "--worker-tmp-dir", "/dev/shm", "--access-logfile", "-"]
