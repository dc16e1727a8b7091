# The fraud-engine package with a C compiler (tl2cgen compiles models to shared libraries).
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /srv
COPY pyproject.toml README.md requirements.lock ./
COPY app app
COPY cli cli
COPY live live
COPY scoring scoring
COPY features features
COPY ensemble ensemble
COPY synthetic synthetic
COPY persistence persistence
RUN pip install --no-cache-dir -c requirements.lock . && useradd --create-home fraud
USER fraud
ENV FRAUD_MODEL_DIR=/models/current FRAUD_DATA_DIR=/data
ENTRYPOINT ["fraud"]
CMD ["--help"]
