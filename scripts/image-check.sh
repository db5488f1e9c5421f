#!/usr/bin/env bash
# Builds the real image on this machine and runs it: the check the unit tests cannot make.
#
#   bash scripts/image-check.sh
#
# 1. A Docker engine: uses the running one, or installs Debian's docker.io and starts dockerd
#    (and stops it again at the end).
# 2. A stand-in for python:3.11-slim-bookworm (no container registry is reachable here): a
#    debootstrap'd Debian bookworm with python3, a venv on PATH, and this host's CA certificates
#    and pip configuration. Its tarball is cached in $OLYMPUS_IMAGE_CACHE between runs.
# 3. The project's own Dockerfile, built twice (docker build --network host, shared layer cache):
#    without Ollama (in-process llama.cpp), and with an Ollama archive served from 127.0.0.1
#    that holds the test stand-in `ollama` (tests/doubles/ollama_standin.py), checked by sha256.
# 4. Each image runs with a volume and is checked by scripts/image_check.py, first as README's
#    laptop line runs it (a bridge network without NAT, the UI's port published on the host's
#    127.0.0.1, OLYMPUS_API_PUBLIC=true): the UI answers (its start-up time and Docker's
#    "healthy" are printed with the load average, not gated), uid 1000, JSON logs, doctor
#    --json, the API called from the host through the mapped port with a key, a PDF ingested
#    and a cited answer (from backend ollama in the Ollama variant), docker stop exits 143
#    within the grace period; then a new container with --network none keeps the documents.
#
# Exit codes: 0 all checks passed, 1 a check or a build failed, 77 no Docker engine can run on
# this machine (CI reports that as a skip). Nothing is left behind: containers, volumes,
# networks and the processes this script started are removed on exit (images and the layer
# cache are kept, so the next run is warm). No container reaches beyond this host.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SKIP=77
CACHE=${OLYMPUS_IMAGE_CACHE:-/var/cache/olympus-image-check}
BASE_TAG=python:3.11-slim-bookworm
IMAGE=olympus:image-check
IMAGE_OLLAMA=olympus:image-check-ollama
# A fixed port keeps the build arguments, and so Docker's layer cache, the same between runs.
PORT=${OLYMPUS_IMAGE_CHECK_PORT:-38471}
PYTHON=${PYTHON:-python3}
export DOCKER_BUILDKIT=0  # the classic builder takes a local base image without asking a registry

WORK=$(mktemp -d /tmp/olympus-image-check.XXXXXX)
STARTED_DOCKERD=""
NETNS_BEFORE=""
HTTP_PID=""
CONTAINERS=()
VOLUMES=()
NETWORKS=()
FAILED=()

netns_mounts() { awk '$2 ~ "^/run/docker/netns/" {print $2}' /proc/mounts 2>/dev/null || true; }
log() { printf '[image-check %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }
skip() { log "SKIPPED: $*"; exit "$SKIP"; }
now() { date +%s.%N; }
since() { "$PYTHON" -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

cleanup() {
  local code=$?
  set +e
  for c in "${CONTAINERS[@]}"; do docker rm -f "$c" >/dev/null 2>&1; done
  for v in "${VOLUMES[@]}"; do docker volume rm -f "$v" >/dev/null 2>&1; done
  for n in "${NETWORKS[@]}"; do docker network rm "$n" >/dev/null 2>&1; done
  [ -n "$HTTP_PID" ] && kill "$HTTP_PID" 2>/dev/null && wait "$HTTP_PID" 2>/dev/null
  if [ -n "$STARTED_DOCKERD" ]; then
    log "stopping the dockerd this script started (pid $STARTED_DOCKERD)"
    kill "$STARTED_DOCKERD" 2>/dev/null
    for _ in $(seq 1 60); do kill -0 "$STARTED_DOCKERD" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$STARTED_DOCKERD" 2>/dev/null && kill -9 "$STARTED_DOCKERD"
    # dockerd leaves its network namespaces bind-mounted under /run/docker/netns
    for m in $(netns_mounts); do
      grep -qxF "$m" <<<"$NETNS_BEFORE" || umount "$m" 2>/dev/null
    done
  fi
  rm -rf "$WORK"
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 1. the engine --------------------------------------------------------------------------

apt_install() {
  command -v apt-get >/dev/null || return 1
  [ "$(id -u)" -eq 0 ] || return 1
  log "installing $* (Debian packages)"
  apt-get update -qq >"$WORK/apt.log" 2>&1 \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >>"$WORK/apt.log" 2>&1
}

engine_up() { docker info >/dev/null 2>&1; }

start_engine() {
  if engine_up; then log "using the running Docker engine"; return 0; fi
  command -v dockerd >/dev/null || apt_install docker.io \
    || skip "no Docker engine runs here and docker.io cannot be installed (needs root and apt)"
  command -v docker >/dev/null || skip "the docker client is missing"
  [ "$(id -u)" -eq 0 ] || skip "no Docker engine runs here and starting dockerd needs root"
  NETNS_BEFORE=$(netns_mounts)
  log "starting dockerd (overlay2; no iptables, no NAT, no default bridge: host network for builds)"
  dockerd --storage-driver=overlay2 --iptables=false --ip-forward=false --ip-masq=false --bridge=none \
    >"$CACHE/dockerd.log" 2>&1 &
  STARTED_DOCKERD=$!
  for _ in $(seq 1 60); do
    engine_up && { log "dockerd is up"; return 0; }
    kill -0 "$STARTED_DOCKERD" 2>/dev/null || break
    sleep 0.5
  done
  tail -5 "$CACHE/dockerd.log" >&2 || true
  skip "dockerd did not start on this machine (log: $CACHE/dockerd.log)"
}

# --- 2. the stand-in base image ----------------------------------------------------------------

host_pip_conf() {
  # The host's pip settings that apply inside the image: the certificate bundle (TLS to the
  # package index is re-signed by a local CA here) and the timeout. Local paths (find-links,
  # file:// indexes) are served over HTTP and passed as build arguments instead.
  local cert timeout
  cert=$(pip_value cert /etc/ssl/certs/ca-certificates.crt)
  timeout=$(pip_value default-timeout 60)
  printf '[global]\ncert = %s\ndefault-timeout = %s\n' "$cert" "$timeout"
}

pip_value() {  # pip_value KEY DEFAULT: the host's pip configuration value for KEY (any scope)
  local v
  v=$("$PYTHON" -m pip config list 2>/dev/null | sed -n "s/^[a-z:]*\.$1='\(.*\)'$/\1/p" | tail -1)
  echo "${v:-$2}"
}

build_rootfs() {
  local rootfs=$WORK/rootfs
  command -v debootstrap >/dev/null || apt_install debootstrap || die "debootstrap is missing"
  log "debootstrap --variant=minbase bookworm (python3, venv, pip, ca-certificates)"
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    bookworm "$rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
  # This host's extra certificate authorities, so TLS through the re-signing proxy verifies.
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/" 2>/dev/null || true
  chroot "$rootfs" update-ca-certificates >>"$WORK/debootstrap.log" 2>&1
  host_pip_conf >"$rootfs/etc/pip.conf"
  echo "deb http://deb.debian.org/debian bookworm main" >"$rootfs/etc/apt/sources.list"
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  # The venv on PATH stands in for the official image's /usr/local python: `python`, a current
  # pip, and no externally-managed error.
  chroot "$rootfs" python3 -m venv /opt/venv
  chroot "$rootfs" /opt/venv/bin/pip install -q --upgrade pip >"$WORK/pip.log" 2>&1 \
    || { tail -20 "$WORK/pip.log" >&2; die "pip upgrade in the stand-in base failed"; }
  : >"$rootfs/etc/resolv.conf"
  rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"* "$rootfs/root/.cache"
  tar -C "$rootfs" --numeric-owner -cf "$CACHE/base.tar.tmp" . && mv "$CACHE/base.tar.tmp" "$CACHE/base.tar"
  rm -rf "$rootfs"
}

base_image() {
  if docker image inspect "$BASE_TAG" >/dev/null 2>&1; then
    [ "$(docker image inspect -f '{{index .Config.Labels "olympus.stand-in"}}' "$BASE_TAG")" = "true" ] \
      || log "using the existing $BASE_TAG"
    return 0
  fi
  [ -s "$CACHE/base.tar" ] || build_rootfs
  log "importing the stand-in $BASE_TAG from $CACHE/base.tar"
  docker import \
    --change 'ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'LABEL olympus.stand-in=true' \
    --change 'CMD ["python3"]' \
    "$CACHE/base.tar" "$BASE_TAG" >/dev/null
}

# --- 3. local package sources over HTTP, and the builds ----------------------------------------

serve_packages() {
  # pip's local find-links and file:// indexes of this host, served on 127.0.0.1 for the build
  # (docker build --network host reaches the host's loopback). Torch's CPU wheel lies there.
  local site=$WORK/site links="" extra="" i=0 dir
  mkdir -p "$site"
  for dir in $(pip_value find-links ""); do
    [ -d "$dir" ] || continue
    i=$((i + 1)); ln -s "$dir" "$site/links$i"; links="$links http://127.0.0.1:$PORT/links$i/"
  done
  for url in $(pip_value extra-index-url ""); do
    dir=${url#file://}
    [ "$dir" != "$url" ] && [ -d "$dir" ] || continue
    # served from the index's parent: its pages link to ../../files/... beside it
    i=$((i + 1)); ln -s "$(dirname "$dir")" "$site/index$i"
    extra="$extra http://127.0.0.1:$PORT/index$i/$(basename "$dir")/"
  done
  mkdir -p "$site/ollama"
  if ! "$PYTHON" -c "import socket; socket.create_server(('127.0.0.1', $PORT)).close()" 2>/dev/null; then
    PORT=$("$PYTHON" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
    log "the usual port is taken: serving on $PORT (the pip layers are rebuilt this time)"
    serve_packages; return
  fi
  (cd "$site" && exec "$PYTHON" -m http.server --bind 127.0.0.1 "$PORT" >"$WORK/http.log" 2>&1) &
  HTTP_PID=$!
  SITE=$site
  PIP_LINKS=${links# }
  PIP_EXTRA=${extra# }
  for _ in $(seq 1 50); do
    curl -fs "http://127.0.0.1:$PORT/" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "the local package server did not start"
}

build() {  # build TAG [docker build args...]
  local tag=$1 start; shift
  start=$(now)
  log "docker build -t $tag $*"
  local args=(--network host --force-rm -t "$tag"
    --build-arg "TORCH_INDEX_URL=https://pypi.org/simple")
  [ -n "$PIP_LINKS" ] && args+=(--build-arg "PIP_FIND_LINKS=$PIP_LINKS")
  [ -n "$PIP_EXTRA" ] && args+=(--build-arg "PIP_EXTRA_INDEX_URL=$PIP_EXTRA")
  docker build "${args[@]}" "$@" . >"$WORK/build-$tag.log" 2>&1 \
    || { tail -40 "$WORK/build-$tag.log" >&2; die "docker build of $tag failed"; }
  log "built $tag in $(since "$start") s ($(docker image inspect -f '{{.Size}}' "$tag" \
    | awk '{printf "%.2f GB", $1 / 1e9}'))"
}

ollama_archive() {
  # An Ollama release-style archive holding the test stand-in (bin/ollama, lib/ollama/...).
  [ -f tests/doubles/ollama_standin.py ] \
    || die "tests/doubles/ollama_standin.py is missing: the Ollama variant needs the stand-in"
  OLLAMA_SHA=$(.venv/bin/python -c \
    "import sys; from tests.doubles.ollama_standin import write_tarball; print(write_tarball(sys.argv[1]))" \
    "$SITE/ollama/ollama-linux-amd64.tgz")
}

# --- 4. run and check ----------------------------------------------------------------------------

check() {  # check TAG BACKEND
  local name="olympus-image-check-$$-$2" volume="olympus-image-check-$$-$2" network host_port
  network="olympus-image-check-$$-$2"
  CONTAINERS+=("$name"); VOLUMES+=("$volume"); NETWORKS+=("$network")
  # a user-defined bridge: `-p` works through docker-proxy; without NAT it leads nowhere else
  docker network create --driver bridge "$network" >/dev/null || die "docker network create failed"
  host_port=$("$PYTHON" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
  "$PYTHON" scripts/image_check.py --image "$1" --name "$name" --volume "$volume" \
    --backend "$2" --pdf "$PDF" --network "$network" --host-port "$host_port" \
    || FAILED+=("$1")  # the other variant is still checked
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker volume rm -f "$volume" >/dev/null 2>&1 || true
  docker network rm "$network" >/dev/null 2>&1 || true
}

main() {
  local t0 variants=${OLYMPUS_IMAGE_CHECK_VARIANTS:-llamacpp ollama}
  t0=$(now)
  mkdir -p "$CACHE"
  PDF=${OLYMPUS_IMAGE_CHECK_PDF:-/usr/share/doc/glpk-doc/cnfsat.pdf}
  [ -f "$PDF" ] || die "$PDF is missing: bash scripts/install.sh --test installs the manuals"
  start_engine
  local t=$(now); base_image; log "stand-in base ready in $(since "$t") s"
  serve_packages
  for variant in $variants; do
    case $variant in
      llamacpp) build "$IMAGE" --build-arg OLLAMA_URL= && check "$IMAGE" llamacpp ;;
      ollama)
        ollama_archive
        build "$IMAGE_OLLAMA" --build-arg "OLLAMA_URL=http://127.0.0.1:$PORT/ollama/ollama-linux-amd64.tgz" \
          --build-arg "OLLAMA_SHA256=$OLLAMA_SHA"
        check "$IMAGE_OLLAMA" ollama ;;
      *) die "unknown variant $variant (llamacpp, ollama)" ;;
    esac
  done
  [ ${#FAILED[@]} -eq 0 ] || die "${FAILED[*]} failed checks (above); took $(since "$t0") s"
  log "all image checks passed in $(since "$t0") s"
}

main "$@"
