# syntax=docker/dockerfile:1
#
# Atiende container image: one image for every role (migrate, intake,
# workflow, notifier, reporting). The role is chosen by the command, e.g.
#   docker run atiende:local atiende migrate --seed
#   docker run -e PORT=8002 -p 8002:8002 atiende:local \
#       atiende serve workflow --host 0.0.0.0 --port 8002
# See deploy/README.md and docker-compose.yml.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------
# build stage: install the project and its pinned dependencies into a venv
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:${PATH}"

WORKDIR /src

# Dependencies first (their own layer, rebuilt only when pyproject.toml
# changes): the pinned [project].dependencies list is read with tomllib.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt

# Then the project itself (README.md is its `readme` metadata).
COPY README.md ./
COPY atiende/ ./atiende/
COPY shared/ ./shared/
COPY services/ ./services/
COPY console/ ./console/
RUN pip install --no-cache-dir . \
 && atiende --help > /dev/null

# ---------------------------------------------------------------------------
# runtime stage: slim base + the venv, running as an unprivileged user
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="atiende" \
      org.opencontainers.image.description="Atiende service-request platform (intake, workflow, notifier, reporting)"

ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=8001

RUN groupadd --system --gid 10001 atiende \
 && useradd --system --uid 10001 --gid atiende --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin atiende \
 && mkdir -p /app \
 && chown atiende:atiende /app

COPY --from=build /opt/venv /opt/venv

WORKDIR /app
USER atiende:atiende

EXPOSE 8001-8004

# Liveness probe. python:3.11-slim ships no curl/wget, so use the stdlib.
# Shell form on purpose: ${PORT} is expanded by /bin/sh when the check runs,
# so set PORT to the port the container's service listens on.
# urlopen raises on connection errors and on any non-2xx status -> exit 1.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${PORT}/health', timeout=4)" || exit 1

# Default role; override it with the container command (compose does).
CMD ["atiende", "serve", "intake", "--host", "0.0.0.0", "--port", "8001"]
