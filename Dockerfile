# Two stages, as `make` does it on a developer's machine:
#   builder  Debian 12 + Python 3.11: the cross toolchain and `make spin-component model`
#            (clang-19/lld-19/binaryen from apt: tools/apt-install.sh);
#   runtime  Spin, build/classifier-spin.wasm (default model embedded; reads Spin variables),
#            spin.toml and build/models.
# Build: docker build -t image-classifier .    Run: docker run -p 3000:3000 image-classifier
# Settings: docker run -e SPIN_VARIABLE_CORS_ORIGINS=https://app.example ... (spin.toml [variables])
FROM python:3.11-slim-bookworm AS builder
WORKDIR /src
# Every Debian package the build needs comes through tools/apt-install.sh (the recipes call it
# for the cross toolchain).
COPY tools/apt-install.sh tools/
RUN tools/apt-install.sh make && rm -rf /var/lib/apt/lists/*
COPY . .
# Only the build's Python packages (requirements.txt), not the test-only ones.
RUN make spin-component model REQUIREMENTS=requirements.txt

FROM debian:bookworm-slim AS spin
# Spin 3.x serves wasi:http@0.2.0 components and wasi:config/store@0.2.0-draft-2024-09-27.
ARG SPIN_VERSION=3.6.2
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates curl \
    && curl -fsSL "https://github.com/spinframework/spin/releases/download/v${SPIN_VERSION}/spin-v${SPIN_VERSION}-linux-amd64.tar.gz" \
       | tar -xz -C /usr/local/bin spin

FROM debian:bookworm-slim AS runtime
COPY --from=spin /usr/local/bin/spin /usr/local/bin/spin
WORKDIR /app
COPY --from=builder /src/spin.toml ./spin.toml
COPY --from=builder /src/build/classifier-spin.wasm ./build/classifier-spin.wasm
COPY --from=builder /src/build/models ./build/models
EXPOSE 3000
CMD ["spin", "up", "--listen", "0.0.0.0:3000"]
