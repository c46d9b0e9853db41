# seccfg container image: a release build in a full Rust image, then a distroless
# runtime (glibc, CA certificates, no shell, no package manager) running as the
# non-root user 65532. The root filesystem can be read-only: the only writable
# path is /tmp (mount a tmpfs or an ECS task volume there); on ECS the job table is
# PostgreSQL (reached over TLS verified against /app/certs/rds-ca-g1.pem) and
# artifacts go to S3, so /tmp only holds the embedded defaults.
# No Docker engine runs in this project's CI: hadolint lints this file, checkov scans it.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Manifests first so the dependency layer is cached when only sources change.
COPY Cargo.toml Cargo.lock ./
COPY benches ./benches
COPY src ./src
COPY migrations ./migrations
COPY knowledge ./knowledge
RUN cargo build --release --locked --bin seccfg \
    && install -D -m 0555 target/release/seccfg /out/seccfg

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
LABEL org.opencontainers.image.title="seccfg" \
      org.opencontainers.image.description="Security configuration service for AWS: profile + service request in, verified bundle out" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
COPY --from=build /out/seccfg /usr/local/bin/seccfg
# The knowledge catalog is baked in (read-only, hashes checked at start-up).
COPY --chown=0:0 data ./data
COPY --chown=0:0 knowledge ./knowledge
# RDS root CAs for sslmode=verify-full, committed (scripts/refresh-rds-ca makes them from a
# pinned npm package): the build downloads nothing.
COPY --chown=0:0 deploy/certs/rds-ca-g1.pem ./certs/rds-ca-g1.pem
ENV SECCFG_BIND=0.0.0.0:8080 \
    SECCFG_CATALOG_DIR=/app/data \
    SECCFG_KNOWLEDGE_DIR=/app/knowledge \
    SECCFG_DATABASE_URL=sqlite:/tmp/seccfg.db \
    SECCFG_ARTIFACT_DIR=/tmp/seccfg-artifacts \
    SECCFG_AUTH=required \
    SECCFG_LOG=info
USER 65532:65532
EXPOSE 8080
# Liveness without curl: the binary itself asks /healthz on the bound port.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 CMD ["/usr/local/bin/seccfg", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/seccfg"]
CMD ["serve"]
