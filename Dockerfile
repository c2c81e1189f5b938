# syntax=docker/dockerfile:1
# Multi-stage, multi-arch (linux/amd64, linux/arm64) image of balance.
# cgo is on for SQLite (mattn/go-sqlite3); the runtime image is distroless
# with glibc. Build: docker buildx build --platform linux/amd64,linux/arm64 .

FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
ARG TARGETOS TARGETARCH
RUN apt-get update && apt-get install -y --no-install-recommends gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-x86-64-linux-gnu libc6-dev-amd64-cross && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    set -eux; \
    case "$TARGETARCH" in \
      arm64) export CC=aarch64-linux-gnu-gcc ;; \
      amd64) export CC=x86_64-linux-gnu-gcc ;; \
    esac; \
    CGO_ENABLED=1 GOOS=$TARGETOS GOARCH=$TARGETARCH \
      go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o /out/balance ./cmd/balance; \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
      go build -trimpath -ldflags "-s -w" -o /out/mockgemini ./cmd/mockgemini; \
    mkdir -p /out/data

FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /out/balance /out/mockgemini /usr/local/bin/
COPY --from=build --chown=nonroot:nonroot /out/data /etc/balance/data
COPY balance.hcl /etc/balance/balance.hcl
WORKDIR /etc/balance
EXPOSE 8000
# Health: GET /health answers without auth (docker-compose and Kubernetes
# probes use it; distroless has no curl, so probe from outside).
ENTRYPOINT ["/usr/local/bin/balance"]
CMD ["-config", "/etc/balance/balance.hcl", "-listen", "0.0.0.0:8000"]
