# fraudlog: one image for every process (api, worker, scheduler, relay, migrations).
# Build stage: wheels for the project and its dependencies (all of them ship binary wheels).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
COPY workers ./workers
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# Final stage: no compilers, no sources beyond the installed package, a non-root user.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# procps for the health checks (pgrep); it is not a build tool.
RUN apt-get update && apt-get install -y --no-install-recommends procps && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 --shell /usr/sbin/nologin fraudlog
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-compile /wheels/*.whl && rm -rf /wheels
USER fraudlog
WORKDIR /home/fraudlog
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"
ENTRYPOINT ["fraudlog"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
