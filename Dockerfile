# syntax=docker/dockerfile:1

# hop's container image: the binary built with the pinned toolchain, on a distroless base
# that holds glibc, CA certificates and nothing else (no shell, no package manager).
#
#   docker build -t hop .
#   docker run --rm -p 8080:8080 -e DATABASE_URL=postgres://... hop
#
# Expected size: about 40 MB uncompressed, of which ~25 MB is the base and ~13 MB hop
# (docs/deploy.md). The sample data (data/seed) and migrations add under 1 MB.

# Must name the version in rust-toolchain.toml (scripts/ci/deploy-checks compares them).
# The build and runtime stages must share a Debian release (bookworm = debian12): a binary
# linked against a newer glibc does not start on an older one.
ARG RUST_VERSION=1.95.0

FROM rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
# The build context has no .git: pass the commit for hop_build_info, e.g.
# `docker build --build-arg HOP_BUILD_COMMIT=$(git rev-parse --short=12 HEAD) .`
ARG HOP_BUILD_COMMIT=unknown
ENV HOP_BUILD_COMMIT=${HOP_BUILD_COMMIT}

# Only what `cargo build` reads. migrations/ is embedded into the binary at compile time.
COPY Cargo.toml Cargo.lock rust-toolchain.toml build.rs ./
COPY src ./src
COPY migrations ./migrations

# Cache mounts keep downloaded crates and compiled dependencies between builds, so a change
# to hop's sources recompiles hop alone. They are not part of the image, hence the copy out.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && install -D -m 0755 target/release/hop /out/hop

FROM gcr.io/distroless/cc-debian12:nonroot

COPY --from=build /out/hop /usr/local/bin/hop
# Kept beside the binary for reading; hop itself runs the copy embedded at build time.
COPY migrations /usr/local/share/hop/migrations
# The sample data set, for `hop import /data/seed` (docker-compose.yml's seed service).
COPY data/seed /data/seed

ENV HOP_LISTEN=0.0.0.0:8080
# 8080 serves the API and redirects; 9090 is the optional admin listener (HOP_ADMIN_LISTEN).
EXPOSE 8080 9090

# The base image's `nonroot` user, numerically, so Kubernetes' runAsNonRoot can verify it.
USER 65532:65532

# No curl in the image: hop checks itself, GET http://127.0.0.1:8080/health, exit 0 or 1.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/hop", "healthcheck"]

ENTRYPOINT ["/usr/local/bin/hop"]
CMD ["serve"]
