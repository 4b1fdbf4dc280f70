# Multi-stage build: a static binary on an empty image, running as non-root.
FROM golang:1.25 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /scimgate ./cmd/scimgate \
 && mkdir /data && chown 65532:65532 /data

FROM scratch
COPY --from=build /scimgate /scimgate
COPY --from=build --chown=65532:65532 /data /data
VOLUME /data
ENV SCIMGATE_ADDR=0.0.0.0:9000 SCIMGATE_DB=/data/scimgate.db
EXPOSE 9000
USER 65532:65532
HEALTHCHECK --interval=10s --timeout=5s --retries=3 CMD ["/scimgate", "healthcheck"]
ENTRYPOINT ["/scimgate"]
CMD ["serve"]
