# One image for every gradebook service: the gradebook binary, with the service chosen by the
# command (gradebook registry | log | grading | portal | up). The binary is static and the image
# holds nothing else: no shell, no package manager. Health checks run the binary itself:
#   ["CMD", "/gradebook", "health", "http://127.0.0.1:5000/health"]
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# VERSION and COMMIT reach the binary's "gradebook version" and the image's labels; a build
# context has no .git for Go to read them from (docker-compose.yml passes GRADEBOOK_VERSION and
# GRADEBOOK_COMMIT).
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags="-s -w -X main.buildVersion=${VERSION} -X main.buildCommit=${COMMIT}" \
      -o /out/gradebook ./cmd/gradebook \
    && /out/gradebook version
# The final image has no shell to create folders with: they are made here and copied with their
# owner, the unprivileged user the services run as. A named volume mounted on a data folder
# (/var/lib/gradebook/<service>) starts with this ownership, so that user can write it. The image
# declares no VOLUME: compose names its volumes, and anonymous ones would outlive their containers.
# (data is where "gradebook up" keeps its services' state, relative to the working directory.)
RUN mkdir -p /out/root/tmp /out/root/var/lib /out/home/registry /out/home/log /out/home/grading /out/home/data \
    && chmod 1777 /out/root/tmp \
    && chown -R 10001:10001 /out/home

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/root/ /
COPY --from=build --chown=10001:10001 /out/home/ /var/lib/gradebook/
COPY --from=build /out/gradebook /gradebook
USER 10001:10001
WORKDIR /var/lib/gradebook
EXPOSE 3000 4000 5000 6000 6001
ENTRYPOINT ["/gradebook"]
CMD ["up", "-host", "0.0.0.0"]
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="gradebook" \
      org.opencontainers.image.description="A small gradebook for teachers: registry, log, grading and portal services in one binary" \
      org.opencontainers.image.source="https://github.com/gradebook/gradebook" \
      org.opencontainers.image.documentation="https://github.com/gradebook/gradebook#readme" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
