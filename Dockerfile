# fhir-evidence: one image for the API replicas and the stream workers.

# The console's front end: npm packages pinned in package-lock.json, bundled by esbuild into
# api/console/static/dist/ (app.js, app.css); only that output reaches the image.
FROM node:20-bookworm-slim AS console
WORKDIR /build/api/console/frontend
COPY api/console/frontend/package.json api/console/frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY api/console/frontend/build.mjs ./
COPY api/console/frontend/src ./src
RUN npm run build

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
COPY stream ./stream
COPY evidence ./evidence
COPY --from=console /build/api/console/static/dist ./api/console/static/dist
# The trusted issuer: deploy/issuer/jwks.json is a placeholder key set (no token verifies
# against it). Use your identity provider: run with
#   -e FHIR_EVIDENCE_TRUSTED_ISSUERS='[{"issuer": "<its iss>", "jwks_uri": "<its JWKS URL>"}]'
# or mount its JWKS over /etc/fhir-evidence/issuer/jwks.json (deploy/issuer/README.md).
# Without a trusted issuer, `serve` on 0.0.0.0 refuses to start (the development issuer
# works on loopback only; FHIR_EVIDENCE_DEV_MODE=true overrides that, unsafely).
COPY deploy/issuer/jwks.json /etc/fhir-evidence/issuer/jwks.json
ENV FHIR_EVIDENCE_TRUSTED_ISSUERS='[{"issuer": "https://idp.example.org/realms/hospital", "jwks_file": "/etc/fhir-evidence/issuer/jwks.json"}]'
RUN pip install . && useradd --system --uid 10001 --home-dir /data fhir \
    && mkdir -p /data /keys && chown fhir /data /keys
USER fhir
ENV FHIR_EVIDENCE_DATA_DIR=/data
EXPOSE 8080 9464
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/fhir/metadata', timeout=3)"
CMD ["fhir-evidence", "serve", "--host", "0.0.0.0", "--port", "8080"]
