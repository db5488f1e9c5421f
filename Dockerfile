# Olympus: one image for a Hugging Face Docker Space, a laptop (`docker run`) or a GPU server.
# The same image runs on CPU and, started with `--gpus all`, uses CUDA through Ollama (its
# release bundles the CUDA runtime), with no rebuild. See DEPLOYMENT.md.
#
# Build args:
#   PYTHON_VERSION   3.11, the version the tests run on
#   OLLAMA_URL       the Ollama release archive (.tgz or .tar.zst); a mirror works the same.
#                    Empty: no Ollama, the in-process llama.cpp engine answers instead.
#   OLLAMA_SHA256    its sha256, checked before extraction (required whenever OLLAMA_URL is set;
#                    the default matches the default URL, linux-amd64)
#   TORCH_INDEX_URL  where the CPU build of torch comes from (a mirror of the PyTorch CPU index)
#   PIP_INDEX_URL / PIP_EXTRA_INDEX_URL / PIP_FIND_LINKS   optional package mirrors for pip
#   WITH_ARANGODB    "true" installs ArangoDB so the supervisor can run arangod itself
#   BAKE_GGUF_REPO / BAKE_GGUF_FILE   bake one GGUF from the Hub into the image (instant start)
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim-bookworm

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
# The PIP_* arguments, when given, reach pip as environment variables (a mirror, a wheel dir).
COPY requirements.txt requirements-nodeps.txt ./
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_FIND_LINKS
RUN pip install --index-url "${TORCH_INDEX_URL}" "torch==$(sed -n 's/^torch==//p' requirements.txt)" \
    && pip install -r requirements.txt \
    && pip install --no-deps -r requirements-nodeps.txt

# Ollama, pinned and checked. Its archive carries the CPU runners and the CUDA libraries it loads
# when a GPU is present. It comes after the Python dependencies, so an image without Ollama and
# one with it share every layer up to here. The default is v0.13.3 linux-amd64 and its sha256
# from the release's sha256sum.txt; for another version or arm64 pass both arguments.
ARG OLLAMA_URL=https://github.com/ollama/ollama/releases/download/v0.13.3/ollama-linux-amd64.tgz
ARG OLLAMA_SHA256=70a3d0f4cccd003641c5531d564a3494ed9a422e397c437d40f802ec1003c6eb
RUN if [ -z "${OLLAMA_URL}" ]; then \
        echo "OLLAMA_URL is empty: no Ollama in this image, the in-process llama.cpp engine answers"; \
    elif [ -z "${OLLAMA_SHA256}" ]; then \
        echo "OLLAMA_SHA256 is empty: pass the archive's sha256 with OLLAMA_URL" >&2; exit 1; \
    else \
        case "${OLLAMA_URL}" in \
            *.tar.zst) archive=/tmp/ollama.tar.zst; unpack="--zstd" ;; \
            *.tgz|*.tar.gz) archive=/tmp/ollama.tgz; unpack="--gzip" ;; \
            *) echo "OLLAMA_URL must end in .tgz, .tar.gz or .tar.zst: ${OLLAMA_URL}" >&2; exit 1 ;; \
        esac; \
        curl -fsSL "${OLLAMA_URL}" -o "$archive" \
        && echo "${OLLAMA_SHA256}  $archive" | sha256sum -c - \
        && tar -C /usr "$unpack" -xf "$archive" \
        && rm "$archive" \
        && test -x /usr/bin/ollama; \
    fi

# Optionally bake a GGUF into the image so the first start needs no download.
RUN if [ -n "${BAKE_GGUF_REPO}" ] && [ -n "${BAKE_GGUF_FILE}" ]; then \
        python -c "import sys; from huggingface_hub import hf_hub_download; \
print(hf_hub_download(sys.argv[1], sys.argv[2], local_dir='/opt/olympus/models'))" \
            "${BAKE_GGUF_REPO}" "${BAKE_GGUF_FILE}"; \
    fi

# The code, owned by root and read-only for the app user, whatever the umask of the checkout it
# was built from; compiled once here, since the app user cannot write __pycache__ and every start
# would compile it again.
COPY . .
RUN chmod -R u=rwX,go=rX /app && python -m compileall -q /app

USER 1000:1000
ENV HOME=/home/user \
    PATH=/home/user/.local/bin:${PATH} \
    OLYMPUS_DATA_DIR=/data \
    OLYMPUS_PORT=7860 \
    OLYMPUS_ADDRESS=0.0.0.0 \
    OLYMPUS_MODEL_DIRS=/opt/olympus/models \
    HF_HOME=/data/.cache/huggingface

EXPOSE 7860
# Follows OLYMPUS_PORT when the container is started with another port. Every 5 s, so Docker
# says "healthy" within seconds of the UI answering (--start-interval would allow a slower
# steady rate, but needs Docker 25+; Debian 12's docker.io is 20.10); failures in the first
# 60 s do not count. The probe is the front's own health (front up, upstream status).
HEALTHCHECK --interval=5s --timeout=4s --start-period=60s --retries=3 \
    CMD ["/bin/sh", "-c", "curl -fsS --max-time 3 -o /dev/null http://127.0.0.1:${OLYMPUS_PORT:-7860}/healthz"]
ENTRYPOINT ["python", "startup.py"]
