# syntax=docker/dockerfile:1
# Latchkey's image: a static binary on distroless, run as a non-root user.
# docker build -t latchkey .

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static (no cgo: the SQLite driver is pure Go), without paths of this
# machine. e2e/main_test.go builds the binary with this very line.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/latchkey .

# distroless static: CA certificates, tzdata, /etc/passwd with nonroot
# (65532); no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/latchkey /latchkey
# The nonroot user's home, so that the embedded SQLite default works in a
# plain docker run; on Kubernetes the root filesystem is read-only and
# DATABASE_URI points at PostgreSQL.
WORKDIR /home/nonroot
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/latchkey"]
