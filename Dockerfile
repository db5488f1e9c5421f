# syntax=docker/dockerfile:1
# Olympus: one image for a Hugging Face Docker Space, a laptop (`docker run`) or a GPU server.
# The same image runs on CPU and, started with `--gpus all`, uses CUDA through Ollama (its
# release bundles the CUDA runtime), with no rebuild. See DEPLOYMENT.md.
#
# Build args:
#   OLLAMA_VERSION   pinned Ollama release (installed from its GitHub release archive)
#   WITH_ARANGODB    "true" installs ArangoDB so the supervisor can run arangod itself
#   BAKE_GGUF_REPO / BAKE_GGUF_FILE   bake one GGUF from the Hub into the image (instant start)
ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim-bookworm

ARG OLLAMA_VERSION=0.13.5
ARG TARGETARCH=amd64
ARG WITH_ARANGODB=false
ARG ARANGODB_SERIES=312
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG BAKE_GGUF_REPO=""
ARG BAKE_GGUF_FILE=""

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_DISABLE_TELEMETRY=1

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# System packages. Debian's security updates move versions under a pinned number, which would
# break rebuilds, so these are left unpinned on purpose (the base image tag pins the release).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl zstd libgomp1 gnupg tesseract-ocr tesseract-ocr-eng \
    && rm -rf /var/lib/apt/lists/*

# Ollama, pinned. Its archive carries the CPU runners and the CUDA libraries it loads when a GPU
# is present. (Releases after 0.13 ship .tar.zst: set OLLAMA_VERSION and this line together.)
RUN curl -fsSL "https://github.com/ollama/ollama/releases/download/v${OLLAMA_VERSION}/ollama-linux-${TARGETARCH}.tgz" \
        -o /tmp/ollama.tgz \
    && tar -C /usr -xzf /tmp/ollama.tgz \
    && rm /tmp/ollama.tgz \
    && test -x /usr/bin/ollama

# Optional ArangoDB (off by default to keep the Space image small). Same reason as above for
# leaving the apt version to the pinned release series.
# hadolint ignore=DL3008
RUN if [ "${WITH_ARANGODB}" = "true" ]; then \
        curl -fsSL "https://download.arangodb.com/arangodb${ARANGODB_SERIES}/DEBIAN/Release.key" \
            | gpg --dearmor -o /usr/share/keyrings/arangodb.gpg \
        && echo "deb [signed-by=/usr/share/keyrings/arangodb.gpg] https://download.arangodb.com/arangodb${ARANGODB_SERIES}/DEBIAN/ /" \
            > /etc/apt/sources.list.d/arangodb.list \
        && apt-get update \
        && echo arangodb3 arangodb3/password password "" | debconf-set-selections \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends arangodb3 \
        && rm -rf /var/lib/apt/lists/*; \
    fi

# HF Spaces run the container as uid 1000 with HOME=/home/user; only /data is writable.
RUN useradd --create-home --uid 1000 --shell /bin/bash user \
    && mkdir -p /data /opt/olympus/models \
    && chown user:user /data

WORKDIR /app

# Dependencies before code, so a code change does not reinstall them. CPU-only torch keeps the
# image small; the embedding model runs on CPU (generation uses the GPU through Ollama).
COPY requirements.txt requirements-nodeps.txt ./
RUN pip install --index-url "${TORCH_INDEX_URL}" "torch==$(sed -n 's/^torch==//p' requirements.txt)" \
    && pip install -r requirements.txt \
    && pip install --no-deps -r requirements-nodeps.txt

# Optionally bake a GGUF into the image so the first start needs no download.
RUN if [ -n "${BAKE_GGUF_REPO}" ] && [ -n "${BAKE_GGUF_FILE}" ]; then \
        python -c "import sys; from huggingface_hub import hf_hub_download; \
print(hf_hub_download(sys.argv[1], sys.argv[2], local_dir='/opt/olympus/models'))" \
            "${BAKE_GGUF_REPO}" "${BAKE_GGUF_FILE}"; \
    fi

# The code, owned by root and read-only for the app user.
COPY . .

USER 1000:1000
ENV HOME=/home/user \
    PATH=/home/user/.local/bin:${PATH} \
    OLYMPUS_DATA_DIR=/data \
    OLYMPUS_PORT=7860 \
    OLYMPUS_ADDRESS=0.0.0.0 \
    OLYMPUS_LOG_FORMAT=json \
    OLYMPUS_MODEL_DIRS=/opt/olympus/models \
    HF_HOME=/data/.cache/huggingface

EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:7860/_stcore/health', timeout=4)"]
ENTRYPOINT ["python", "startup.py"]
