"""`thinkact serve`: a trained model behind the OpenAI Chat Completions API (docs/operations.md, "Serving over the
OpenAI API").

- `request`:    an OpenAI chat request checked and turned into the contract example evaluation renders (400s here)
- `response`:   a completion read by the one parser, as a `chat.completion` or as `chat.completion.chunk` SSE events
- `engine`:     the served model: resolved and loaded as `thinkact chat` does, one generation at a time
- `openai_api`: the FastAPI app (`/v1/chat/completions`, `/v1/models`, `/health`) and its OpenAI-shaped errors
- `server`:     uvicorn around the app, in the foreground (the command) or in a thread (tests, benchmark)

    thinkact serve --model models:/thinkact-agent@champion --port 8000
    from thinkact.serving.server import running       # with running(served) as url: ... (tests, benchmarks)

This package file imports nothing, so `thinkact --help` stays instant.
"""
