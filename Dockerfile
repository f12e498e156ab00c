# Tendril agent image. Multi-stage: the build stage compiles TypeScript, the native libbpf addon
# and the BPF objects; the runtime stage carries only what the agent needs.
# Keep the package lists in step with scripts/bootstrap.sh (the same steps CI runs).
# Not buildable on the development machines (no Docker engine there).

FROM node:20-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends make g++ python3 clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool pkg-config \
 && rm -rf /var/lib/apt/lists/*
# Test-only packages (the flow store's PostgreSQL tests start their own server; openssl makes test certificates).
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql openssl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# bpf/Makefile generates vmlinux.h from the build host's BTF; CO-RE relocates it at load time.
RUN npm run build && npm run build:native && npm run build:bpf && npm prune --omit=dev

FROM node:20-bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libbpf1 libelf1 zlib1g iproute2 wireguard-go wireguard-tools ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/tendril
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
COPY --from=build /src/config ./config
COPY --from=build /src/native/build/Release/*.node ./native/build/Release/
COPY --from=build /src/bpf/build/*.o ./bpf/build/
ENV NODE_ENV=production
EXPOSE 4245 9965 9879
ENTRYPOINT ["node", "/opt/tendril/bin/tendril.js", "agent"]
