# syntax=docker/dockerfile:1
# One image for `fraud serve`, `fraud consume` and `fraud train` (docs/deploy.md).
#   docker build -t fraud-engine .                    # the runtime image (last stage)
#   docker build --target locust -t fraud-locust .    # the Locust swarm (loadtest/)
# No model and no secret is baked in: the model bundle is trained by a job into a
# volume (or mounted), API key digests and database passwords come from the environment.

# 1. The operations console (frontend/, Vite) built to static files.
FROM node:20-slim AS console
WORKDIR /frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# 2. The Rust toolchain the feature kernel (native/) is built with: the official image's.
FROM rust:1.95-slim AS rust

# 3. The wheels (the package and its feature kernel), and a virtual environment with them
# and the locked dependencies. Not localservers/: the servers the demo and the tests
# start; the image runs against real ones. The toolchain stays in this stage.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:$PATH
COPY --from=rust /usr/local/rustup /usr/local/rustup
COPY --from=rust /usr/local/cargo /usr/local/cargo
# cargo links with the system's C compiler.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md LICENSE requirements.lock ./
# The kernel first: its crates (native/Cargo.lock) are fetched and built once, and this
# layer stays cached while only the Python packages change.
COPY native native
RUN pip install -c requirements.lock maturin \
 && maturin build --release --locked --manifest-path native/Cargo.toml --out /dist
COPY app app
COPY cli cli
COPY controls controls
COPY live live
COPY monitoring monitoring
COPY scoring scoring
COPY features features
COPY ensemble ensemble
COPY synthetic synthetic
COPY persistence persistence
COPY vocabulary vocabulary
RUN pip wheel --no-deps --wheel-dir /dist . \
 && python -m venv /opt/fraud \
 && /opt/fraud/bin/pip install -c requirements.lock /dist/*.whl \
 && /opt/fraud/bin/python -m compileall -q /opt/fraud/lib

# 4. What every runtime stage shares. gcc stays: `fraud train` compiles the models with
# tl2cgen + gcc, and `fraud serve` recompiles a bundle's libraries from its checkpoint if
# they were built for another platform (without a compiler it would fall back to the slow
# interpreter and stay not ready). Serving a bundle trained by this image loads its .so
# files and never calls gcc.
FROM python:3.11-slim AS base
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --gid 0 --home-dir /nonexistent --no-create-home fraud \
 && mkdir -p /models /data /var/lib/fraud \
 && chown 10001:0 /models /data /var/lib/fraud
# Read-only root filesystem: nothing below writes outside /tmp (a tmpfs: tl2cgen's build
# directory, the multi-worker metrics directory), /var/lib/fraud (the audit spool, a
# volume) and /models, /data (volumes; read-only for serve).
ENV PATH=/opt/fraud/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    HOME=/tmp \
    FRAUD_HOST=0.0.0.0 \
    FRAUD_PORT=8000 \
    FRAUD_MODEL_DIR=/models/current \
    FRAUD_DATA_DIR=/data \
    FRAUD_SPOOL_PATH=/var/lib/fraud/audit.spool
COPY --from=build /opt/fraud /opt/fraud
WORKDIR /srv

# The Locust swarm: the package (its scenarios build request bodies with it) and Locust.
FROM base AS locust
COPY requirements.lock /tmp/requirements.lock
RUN /opt/fraud/bin/pip install --no-cache-dir -c /tmp/requirements.lock locust \
 && rm /tmp/requirements.lock
COPY loadtest loadtest
# locustfile.py imports its scenarios as the package `loadtest`
ENV PYTHONPATH=/srv
USER 10001:0
EXPOSE 8089
ENTRYPOINT ["locust"]
CMD ["-f", "loadtest/locustfile.py"]

# 5. The runtime image (the default target).
FROM base AS runtime
COPY --from=console /frontend/dist /srv/console
ENV FRAUD_CONSOLE_DIR=/srv/console
USER 10001:0
EXPOSE 8000
VOLUME ["/models", "/data", "/var/lib/fraud"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('FRAUD_PORT', '8000')}/healthz\", timeout=2)"]
ENTRYPOINT ["fraud"]
CMD ["serve"]
