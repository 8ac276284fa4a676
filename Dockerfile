# One image for every gradebook service: the gradebook binary, with the service chosen by the
# command (gradebook registry | log | grading | portal | up).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/gradebook ./cmd/gradebook

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/gradebook --create-home gradebook \
    && mkdir -p /var/lib/gradebook/registry /var/lib/gradebook/log /var/lib/gradebook/grading \
    && chown -R gradebook:gradebook /var/lib/gradebook
COPY --from=build /out/gradebook /usr/local/bin/gradebook
USER gradebook
WORKDIR /var/lib/gradebook
# Named volumes mounted on the data folders start with this image's ownership, so the
# unprivileged user can write them.
VOLUME ["/var/lib/gradebook/grading", "/var/lib/gradebook/log"]
EXPOSE 3000 4000 5000 6000 6001
ENTRYPOINT ["/usr/local/bin/gradebook"]
CMD ["up", "-host", "0.0.0.0"]
