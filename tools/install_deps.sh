#!/usr/bin/env bash
# Installs the Debian 12 packages vrec builds and runs with, and only those that are missing.
# Idempotent. Needs root (or sudo). Used by quickstart.sh and test.sh.
set -euo pipefail

PACKAGES=(
  g++ python3 ca-certificates
  bazel-bootstrap          # Bazel 4.2.3
  libtorch-dev             # LibTorch 1.13 (CPU)
  libopenblas0-openmp      # BLAS for LibTorch; OpenMP build shares LibTorch's thread pool
  libhnswlib-dev           # hnswlib 0.6.2
  librocksdb-dev           # RocksDB 7.8
  libabsl-dev              # Abseil 20220623
  libboost-dev             # Boost 1.74 (Asio + Beast)
  rapidjson-dev            # RapidJSON 1.1 (request bodies)
  googletest libgtest-dev libgmock-dev
  curl                     # quickstart's example request
)

missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install_deps: missing packages (${missing[*]}) and not root; install them or run as root" >&2
    exit 1
  fi
fi
echo "install_deps: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
echo "install_deps: done" >&2
