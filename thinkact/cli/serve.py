"""`thinkact serve`: a trained model behind OpenAI's Chat Completions API (thinkact.serving), for agent code that
speaks it (the `openai` SDK, LangChain, smolagents, eval harnesses). The server is imported inside the command, so
`thinkact --help` stays instant.

    thinkact serve --model models:/thinkact-agent@champion --port 8000
    curl -s localhost:8000/v1/chat/completions -H 'Content-Type: application/json' \\
         -d '{"model": "models:/thinkact-agent@champion", "messages": [{"role": "user", "content": "hi"}]}'
"""
from __future__ import annotations

from typing import Annotated

import typer


def serve(
    model: Annotated[str, typer.Option(
        metavar="SPEC", help="models:/NAME@ALIAS, models:/NAME/VERSION, sft, grpo, a saved model folder or a built-in; "
                             "requests name it as their \"model\".")] = "models:/thinkact-agent@champion",
    host: Annotated[str, typer.Option(metavar="HOST", help="Address to listen on (0.0.0.0: every interface).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="N", help="Port to listen on.")] = 8000,
) -> None:
    """Serve a model over the OpenAI Chat Completions API, for agent code (openai SDK, LangChain, ...).

    /v1/chat/completions (tools, tool_choice auto|none, stream), /v1/models and /health. The prompt is rendered as
    evaluation renders it; a reply carries the think block as reasoning_content and each tool call with its
    arguments as JSON text. One request is generated at a time; Ctrl-C stops.

    \b
    Examples:
    thinkact serve
    thinkact serve --model models:/thinkact-agent/3 --port 8001
    thinkact serve --model outputs/sft/model --host 0.0.0.0
    """
    from thinkact.config import load_params  # inside the command: `thinkact --help` does not load torch
    from thinkact.serving.server import serve as run

    run(model, load_params(), host=host, port=port)
