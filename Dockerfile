# remotepc-gateway: built with the locked `dist` profile (whole-program LTO), run
# as a non-root user on a small Debian image.
#
#   docker build -t remotepc-gateway .
#   docker run -p 8080:8080 \
#     -v /etc/remotepc-gateway/gateway.toml:/etc/remotepc-gateway/gateway.toml:ro \
#     -v /run/secrets/remotepc-api-key:/run/secrets/remotepc-api-key:ro \
#     -v remotepc-gateway-data:/var/lib/remotepc-gateway \
#     -e GATEWAY__SERVER__LISTEN=0.0.0.0:8080 \
#     remotepc-gateway
#
# Settings come from the mounted file and GATEWAY__SECTION__KEY variables;
# `docker kill -s HUP` re-reads rotated key files. The image holds no config
# of its own (no teams, no tokens): without the mounted file it does not
# start. config/production.example.toml is a template to fill in.

FROM rust:1.95-slim-bookworm AS build
# jemalloc (the global allocator) is built from C with make.
RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# GraphiQL's files are embedded from assets/ (tests/api/packaging.rs holds
# this list to every include_bytes!/include_str! of the crate).
COPY assets ./assets
COPY config ./config
COPY benches ./benches
COPY schema.graphql README.md ./
RUN cargo build --profile dist --locked

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/remotepc-gateway --create-home gateway \
    && mkdir -p /etc/remotepc-gateway
COPY --from=build /src/target/dist/remotepc-gateway /usr/local/bin/remotepc-gateway
USER gateway
WORKDIR /var/lib/remotepc-gateway
ENV GATEWAY_CONFIG=/etc/remotepc-gateway/gateway.toml \
    GATEWAY__STORE__URL=sqlite:///var/lib/remotepc-gateway/gateway.db?mode=rwc
EXPOSE 8080 9100
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["remotepc-gateway", "healthcheck", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["remotepc-gateway"]
CMD ["serve"]
