# The appliance image: `appliance serve` (API, web UI, Telegram bot, workers, maintenance).
#
#   docker build -t manim-appliance .
#   docker run -d -p 7860:7860 -v /var/run/docker.sock:/var/run/docker.sock \
#              -v manim-data:/data manim-appliance
#
# Renders run in sibling containers of the sandbox image, started through the mounted
# Docker socket. No secret is baked in: keys and tokens come from `docker run -e ...`.
# BASE_IMAGE is overridable so machines without registry access can build from a base
# made with debootstrap (see README, "Building without a registry").
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    VIRTUAL_ENV=/opt/appliance \
    PATH=/opt/appliance/bin:$PATH

# Extra CA certificates (TLS-inspecting proxies): any certs/*.crt in the build context. The
# image trusts them, and keeps them as one bundle (empty without any) for the sandbox image
# it builds through the Docker socket (APPLIANCE_EXTRA_CA_CERTS below).
COPY certs/ /tmp/extra-certs/
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv curl \
 && (cp /tmp/extra-certs/*.crt /usr/local/share/ca-certificates/ 2>/dev/null || true) \
 && update-ca-certificates \
 && mkdir -p /etc/manim-appliance \
 && (cat /tmp/extra-certs/*.crt > /etc/manim-appliance/extra-ca-certs.pem 2>/dev/null || true) \
 && rm -rf /var/lib/apt/lists/* /tmp/extra-certs

ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    APPLIANCE_EXTRA_CA_CERTS=/etc/manim-appliance/extra-ca-certs.pem

WORKDIR /src
# Dependencies first, so code changes do not reinstall them: every one pinned and hash-checked
# from the lock (scripts/lock writes it from pyproject.toml); the project itself then with --no-deps.
COPY requirements/appliance.lock /tmp/appliance.lock
RUN python3 -m venv "$VIRTUAL_ENV" \
 && pip install --quiet --require-hashes -r /tmp/appliance.lock \
 && rm /tmp/appliance.lock
COPY pyproject.toml README.md ./
COPY appliance ./appliance
COPY frontends ./frontends
COPY sandbox_image ./sandbox_image
RUN pip install --quiet --no-deps . && rm -rf build

RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin appliance \
 && mkdir -p /data && chown appliance:appliance /data && chmod 0700 /data
COPY deploy/entrypoint.sh /usr/local/bin/appliance-entrypoint
RUN chmod 0755 /usr/local/bin/appliance-entrypoint

ENV APPLIANCE_DATA_DIR=/data \
    APPLIANCE_HOST=0.0.0.0 \
    APPLIANCE_PORT=7860 \
    APPLIANCE_SANDBOX_CONTEXT=/src/sandbox_image
VOLUME ["/data"]
EXPOSE 7860
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${APPLIANCE_PORT}/healthz" || exit 1

ENTRYPOINT ["/usr/local/bin/appliance-entrypoint"]
CMD ["serve"]
