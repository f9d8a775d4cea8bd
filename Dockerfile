# Keel image: one image for the web server, the job worker and the migrate step.
#   docker compose build            (see docker-compose.yml)
#   docker build -t keel .
# Runs as the unprivileged user `keel`; writes only to /app/var (media) and /tmp.
FROM python:3.11-slim

ARG APP_VERSION=0.1.0
ARG GIT_COMMIT=""
ARG BUILD_TIME=""

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    APP_VERSION=${APP_VERSION} \
    GIT_COMMIT=${GIT_COMMIT} \
    BUILD_TIME=${BUILD_TIME} \
    KEEL_IGNORE_DOTENV=1 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/keel-prometheus \
    HOST=0.0.0.0 \
    PORT=8000

RUN groupadd --system --gid 10001 keel \
    && useradd --system --uid 10001 --gid keel --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin keel

WORKDIR /app

# Dependencies first (cached until pyproject.toml changes). pyproject declares no packages of
# its own, so `pip install .` installs exactly Keel's runtime dependencies; the code runs from /app.
COPY pyproject.toml README.md ./
RUN pip install .

COPY . .

# Static files are collected into the image (served by WhiteNoise). collectstatic needs
# settings to load: a throwaway build-only key, never used at run time.
RUN ENVIRONMENT=production DEBUG=false \
    SECRET_KEY="collectstatic-build-only-7Qm2xVt9LpR4sWc8ZkN3jHb6YfD1gAeU5oTi0" \
    JWT_SECRET="collectstatic-build-only-Hq4Rz8Ln2Vx6Tb1Ym9Kc3Wd7" \
    python manage.py collectstatic --no-input --verbosity 0 \
    && mkdir -p /app/var/media "$PROMETHEUS_MULTIPROC_DIR" \
    && chown -R keel:keel /app/var "$PROMETHEUS_MULTIPROC_DIR"

USER keel
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=4).status != 200)"]

# The web server alone; the worker runs in its own container (`manage.py qcluster`).
CMD ["python", "manage.py", "serve", "--no-worker", "--host", "0.0.0.0", "--port", "8000"]
