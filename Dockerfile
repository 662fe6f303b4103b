# The oactl image: one static binary on an empty base. Build it with
# scripts/docker, which builds the binary (CGO_ENABLED=0) and puts it, the
# host's CA certificates and an empty state directory in the build
# context. FROM scratch pulls nothing and there is no RUN step, so the
# image builds with no network, with the legacy builder or BuildKit.
# Time-zone data is embedded in the binary (time/tzdata). See docs/DEPLOY.md.
FROM scratch

COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# The state directory, owned by the runtime user: the default SQLite file
# (sqlite:oactl.db, relative to the working directory) and the avatar
# files (./oactl-files) live here.
COPY --chown=65532:65532 state/ /var/lib/oactl/
COPY oactl /usr/local/bin/oactl

# OA_ADDR rather than a flag, so that --addr, or oa.addr in a --config
# file, still moves it. The health check below assumes port 8080.
ENV PATH=/usr/local/bin \
    OA_ADDR=0.0.0.0:8080
USER 65532:65532
WORKDIR /var/lib/oactl
VOLUME ["/var/lib/oactl"]
EXPOSE 8080

HEALTHCHECK --interval=15s --timeout=6s --start-period=10s --retries=3 \
    CMD ["oactl", "probe", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["oactl"]
CMD ["serve"]
