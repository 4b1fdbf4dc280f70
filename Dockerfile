# Multi-stage build: a static binary on a distroless, non-root image.
FROM golang:1.25 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /scimgate ./cmd/scimgate

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /scimgate /scimgate
VOLUME /data
ENV SCIMGATE_ADDR=0.0.0.0:9000 SCIMGATE_DB=/data/scimgate.db
EXPOSE 9000
USER nonroot:nonroot
ENTRYPOINT ["/scimgate", "serve"]
