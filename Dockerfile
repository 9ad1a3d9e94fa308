# fraudlog: one image for every process (api, worker, scheduler, relay, migrations).
# Build stage: the project's two wheels, the client distribution (client/: fraudlog-client) and the server that
# depends on it (setuptools runs here, never in the final image).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY client ./client
COPY service ./service
COPY workers ./workers
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels ./client .

# Final stage: no compilers, no sources beyond the installed package, a non-root user.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# procps for the health checks (pgrep); it is not a build tool.
RUN apt-get update && apt-get install -y --no-install-recommends procps && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 --shell /usr/sbin/nologin fraudlog
# Every dependency at the version and hash requirements.lock pins (all ship wheels: nothing is compiled),
# then the two wheels without resolving anything (fraudlog-client is in no index: the build stage made it;
# pip check sees the server's requirement on it met). The lock stays in the image: model lineage records its
# SHA-256 (fraudlog.ml.environment looks for it under sys.prefix/share/fraudlog).
COPY requirements.lock /usr/local/share/fraudlog/requirements.lock
RUN pip install --no-cache-dir --no-compile --require-hashes -r /usr/local/share/fraudlog/requirements.lock
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-compile --no-deps /wheels/*.whl && rm -rf /wheels && pip check
USER fraudlog
WORKDIR /home/fraudlog
# Made here so that a named volume mounted on it starts owned by this user (the JSON-lines alert sink).
RUN mkdir -p /home/fraudlog/alerts
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"
ENTRYPOINT ["fraudlog"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
