# One image for every Python role of the service: forwarder, feeders, gateway, simulator.
# The role is the command: `python -m forwarder`, `python -m feeder binance-ws`, ...
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
    && /opt/venv/bin/pip install -c constraints.txt -r requirements.txt
COPY README.md ./
COPY common ./common
COPY feeder ./feeder
COPY forwarder ./forwarder
COPY gateway ./gateway
COPY launcher ./launcher
COPY simulator ./simulator
RUN /opt/venv/bin/pip install --no-deps -c constraints.txt . \
    && /opt/venv/bin/python -m compileall -q /opt/venv

FROM ${PYTHON_IMAGE} AS runtime
# No compilers or build files here: only the virtualenv the build stage made.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
USER app
CMD ["python", "-m", "gateway"]
