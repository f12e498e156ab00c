#!/usr/bin/env bash
# One-time (idempotent) set-up of a fresh Debian 12 machine for Tendril: Debian packages the
# build, datapath and tests need (installed with apt-get when running as root and missing),
# npm packages (npm ci), then the TypeScript build, the native libbpf addon and the BPF objects.
# Fast when everything is already there. Used by the README's two commands and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  # build: native addon (node-gyp) and BPF objects
  make g++ python3 clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool pkg-config
  # datapath and privileged tests: netns, veth, tc, iptables baseline for the benchmark
  iproute2 iptables util-linux procps
  # WireGuard (userspace: this kernel has no wireguard module)
  wireguard-go wireguard-tools
  # real peers and clients used by tests and benchmarks
  curl dnsutils nginx-light haproxy wrk kcat
  # SVID test chains (EC P-256) are made with the openssl CLI
  openssl
)

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "bootstrap: installing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # nginx/haproxy packages start system services where an init system runs; tests start their own.
    (command -v systemctl >/dev/null && systemctl disable --now nginx haproxy >/dev/null 2>&1) || true
  else
    echo "bootstrap: missing Debian packages (run as root, or: sudo apt-get install ${missing[*]})" >&2
    echo "bootstrap: continuing; the agent runs without them (proxy in explicit mode, no datapath)." >&2
  fi
fi

if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "bootstrap: npm ci" >&2
  npm ci --no-audit --no-fund >/dev/null
fi

echo "bootstrap: building TypeScript" >&2
npm run -s build
if [[ -f native/binding.gyp ]]; then
  echo "bootstrap: building the native libbpf addon" >&2
  npm run -s build:native || { echo "bootstrap: native addon build failed (datapath disabled)" >&2; [[ $(id -u) -ne 0 ]] || exit 1; }
fi
if [[ -f bpf/Makefile ]] && command -v clang >/dev/null; then
  echo "bootstrap: building BPF objects" >&2
  npm run -s build:bpf || { echo "bootstrap: BPF build failed (datapath disabled)" >&2; [[ $(id -u) -ne 0 ]] || exit 1; }
fi
echo "bootstrap: ready" >&2
