# The one fitpipe image: the operator, the migration Job, the ingest CronJob, the API and the
# dashboard all run it with different commands (`fitpipe operator run`, `fitpipe migrate`,
# `fitpipe run`, `fitpipe serve api`, `fitpipe serve dashboard`).
#
#   docker build -t ghcr.io/fitpipe/fitpipe:0.1.0 .
#   kind load docker-image ghcr.io/fitpipe/fitpipe:0.1.0 --name fitpipe
#
# Pinned base: an exact Python patch release on Debian 12. Bump it deliberately (and rebuild) for
# security updates. Release builds pass the digest (docs/kubernetes.md, "Release builds"):
#   --build-arg PYTHON_IMAGE=python:3.11.11-slim-bookworm@sha256:<digest>
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/fitpipe
ENV PATH=/opt/fitpipe/bin:$PATH
WORKDIR /src
# Dependencies first, so a change to the code alone reuses this layer. Every package, the build backend
# included, is the exact version and file hash of requirements/runtime.txt (scripts/lock-dependencies.sh):
# a changed or substituted file on the index fails the build.
COPY requirements/runtime.txt requirements/runtime.txt
RUN pip install --require-hashes --no-deps -r requirements/runtime.txt
COPY . .
RUN pip install --no-deps --no-build-isolation . && pip check && fitpipe --version \
 && cd / && python -c "from fitpipe.migrations import available_migrations; assert available_migrations()"

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="fitpipe" \
      org.opencontainers.image.description="Wearable data for clinical trials, loaded daily into TimescaleDB" \
      org.opencontainers.image.licenses="Apache-2.0"
# The uid the operator's pods run as (runAsUser 10001); no login shell, no home to write to.
RUN groupadd --system --gid 10001 fitpipe \
 && useradd --system --uid 10001 --gid fitpipe --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin fitpipe
# The migrations (sql/) and the chart's CRD travel inside the installed package (setup.py).
COPY --from=build /opt/fitpipe /opt/fitpipe
ENV PATH=/opt/fitpipe/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FITPIPE_HOME=/tmp/fitpipe
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["fitpipe"]
CMD ["--help"]
