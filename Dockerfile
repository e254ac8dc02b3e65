# One image for every Python role of the service: forwarder, feeders, gateway, simulator, and
# the one-shot that makes the deployment's secrets. The role is the command:
# `python -m forwarder`, `python -m feeder binance-ws`, ...
# The same Python as the native stack and its tests (3.11.7), pinned.
ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
# Dependencies first (read from pyproject.toml, pinned by constraints.txt): this layer
# survives code changes.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && /opt/venv/bin/pip install -c constraints.txt -r requirements.txt \
    && /opt/venv/bin/python -m compileall -q /opt/venv
# Then the code, compiled once here so no container writes bytecode.
COPY common /app/common
COPY feeder /app/feeder
COPY forwarder /app/forwarder
COPY gateway /app/gateway
COPY launcher /app/launcher
COPY simulator /app/simulator
RUN /opt/venv/bin/python -m compileall -q /app

FROM ${PYTHON_IMAGE} AS runtime
# No compilers or build files here: the virtualenv and the code the build stage made.
# /run/secrets/*: where the secrets' volumes are mounted; made here, owned by the image's
# user, so each volume starts out writable by the secrets service (Docker copies a mount
# point's ownership into a new volume).
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app \
    && install -d -o app -g app -m 0755 /run/secrets/postgres /run/secrets/haproxy /run/secrets/grafana
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
COPY --from=build /app /app
WORKDIR /app
USER app
CMD ["python", "-m", "gateway"]
