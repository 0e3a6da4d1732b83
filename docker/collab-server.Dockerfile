# syntax=docker/dockerfile:1
# Image of collab-server, the Yjs WebSocket tier (and, without --no-rest, the whole platform in
# one process). Why it exists: docker/docker-compose.yml runs several of these behind a load
# balancer; it is also the one-container way to try Weft:
#   docker build -f docker/collab-server.Dockerfile -t weft/collab-server .
#   docker run -p 4000:4000 -v weft-data:/var/lib/weft weft/collab-server
# Build from the repository root (the context must hold the whole Cargo workspace).

FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
# Cache mounts keep the crates.io downloads and the target folder between builds (shared with
# api-server.Dockerfile; cargo's own lock plus sharing=locked keeps parallel builds apart). The
# binary is copied out because the target folder is not part of the image.
RUN --mount=type=cache,id=weft-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=weft-cargo-git,target=/usr/local/cargo/git \
    --mount=type=cache,id=weft-target,target=/src/target,sharing=locked \
    cargo build --release --locked -p weft-collab-server \
    && install -D -m 0755 target/release/collab-server /out/collab-server

# Same Debian release as the builder, so the binary finds the glibc it was linked against.
FROM debian:bookworm-slim
# The S3 client verifies TLS against the system's roots; the builder has Debian's bundle, so
# the runtime gets it without apt (and without curl: see healthcheck.sh).
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# A fixed UID/GID (10001) so volumes and key files can be prepared for it ahead of time.
RUN groupadd --system --gid 10001 weft \
    && useradd --system -l --uid 10001 --gid weft --home-dir /var/lib/weft --shell /usr/sbin/nologin weft \
    && install -d -o weft -g weft -m 0750 /var/lib/weft
COPY --from=builder /out/collab-server /usr/local/bin/collab-server
COPY --chmod=0755 docker/healthcheck.sh /usr/local/bin/weft-healthcheck
# Listen on every interface (the binary's default is loopback); keep state in the data folder.
# WEFT_PUBLIC_URL is how browsers reach this container; change it when the published address
# is not http://localhost:4000 (it is the base of the collab and local blob URLs handed out).
ENV COLLAB_LISTEN=0.0.0.0:4000 \
    WEFT_DATA_DIR=/var/lib/weft \
    WEFT_PUBLIC_URL=http://localhost:4000
WORKDIR /var/lib/weft
USER 10001:10001
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["weft-healthcheck", "COLLAB_LISTEN", "/healthz"]
ENTRYPOINT ["collab-server"]
