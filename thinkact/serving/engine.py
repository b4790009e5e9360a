"""The model `thinkact serve` answers with: resolved and loaded exactly as `thinkact chat` does
(thinkact.chat.resolve_chat_model / load_chat_model: a registry URI downloaded once, `sft` / `grpo`, a folder, a
built-in; a trained folder keeps the prompt settings of its card), its prompts rendered and its completions generated
by evaluation's own functions (thinkact.generation.prompt_text / generate_completions), so a served prompt is
byte-for-byte evaluation's. One generation at a time (a lock: generation changes the tokenizer's padding side);
requests that arrive while one generates wait, and the next generation answers all that wait with the same
max_tokens and temperature in one batch (left-padded, as evaluation batches), up to `max_batch`.

    served = ServedModel.load("sft", load_params())
    done = served.complete(chat_request(body, served.ids))   # a Completion: raw text, prompt, token counts
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jinja2.exceptions import TemplateError

from thinkact.chat import load_chat_model, resolve_chat_model
from thinkact.contract import Example
from thinkact.generation import generate_completions, prompt_text
from thinkact.serving.request import BadRequest, ChatRequest
from thinkact.serving.response import Completion

if TYPE_CHECKING:  # the root of params (thinkact.config) composes the layers' sections: a type only here
    from thinkact.config import Params


@dataclass(eq=False)  # a ticket is itself: two equal requests are two tickets
class _Ticket:
    """One request waiting for its completion (or its error)."""

    request: ChatRequest
    prompt: str
    raw: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: BadRequest | None = None

    @property
    def answered(self) -> bool:
        return self.raw is not None or self.error is not None


@dataclass
class ServedModel:
    """A loaded model and tokenizer, the name clients ask for (`id`: the spec it was started with) and what the
    spec resolved to (`info`: {"spec", "name", "version", "alias"} as `thinkact chat --json` reports it)."""

    id: str
    model: Any
    tokenizer: Any
    info: dict[str, Any]
    max_batch: int = 8
    created: int = field(default_factory=lambda: int(time.time()))
    lock: threading.Lock = field(default_factory=threading.Lock)          # held while generating
    waiting: list[_Ticket] = field(default_factory=list)                   # guarded by `queue`
    queue: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, spec: str, params: Params) -> ServedModel:
        loadable, info = resolve_chat_model(spec, params)
        model, tokenizer = load_chat_model(loadable, params)
        return cls(spec, model, tokenizer, info)

    @property
    def ids(self) -> tuple[str, ...]:
        """The model names a request may give: the spec, and a registry model's registered name."""
        return tuple(dict.fromkeys(n for n in (self.id, self.info.get("name")) if n))

    @property
    def context_length(self) -> int | None:
        return getattr(getattr(self.model, "config", None), "max_position_embeddings", None)

    def prompt(self, example: Example) -> str:
        """The prompt evaluation renders for `example`; a conversation the chat template refuses is a BadRequest."""
        try:
            return prompt_text(self.tokenizer, example)
        except TemplateError as e:
            raise BadRequest(f"the chat template cannot render these messages: {e}", "messages") from None

    def complete(self, request: ChatRequest) -> Completion:
        """Generate the reply to `request` (greedy at temperature 0), as evaluation generates: a BadRequest when the
        chat template refuses the conversation, or when the prompt and the reply would not fit the model's context.
        The prompt is rendered (text only) before waiting; everything that encodes is under `lock`: a fast
        tokenizer's padding state is shared, so encoding one text while a batch is encoded breaks the batch."""
        ticket = _Ticket(request, self.prompt(request.example))
        with self.queue:
            self.waiting.append(ticket)
        with self.lock:
            if not ticket.answered:  # else the batch of a request that held the lock before answered it
                self._generate(ticket)
        if ticket.error is not None:
            raise ticket.error
        return Completion(ticket.raw, ticket.prompt, ticket.prompt_tokens, ticket.completion_tokens)

    def _generate(self, ticket: _Ticket) -> None:
        """Answer `ticket` and the waiting tickets with its settings (at most max_batch) in one batch; under `lock`."""
        key = (ticket.request.max_tokens, ticket.request.temperature)
        with self.queue:
            batch = [ticket] + [t for t in self.waiting if t is not ticket and
                                (t.request.max_tokens, t.request.temperature) == key][:self.max_batch - 1]
            self.waiting = [t for t in self.waiting if t not in batch]
        ready = []
        for t in batch:
            t.prompt_tokens = len(self.tokenizer(t.prompt, add_special_tokens=False).input_ids)
            limit = self.context_length
            if limit and t.prompt_tokens + key[0] > limit:
                t.error = BadRequest(f"the prompt has {t.prompt_tokens} tokens and max_tokens is {key[0]}: more "
                                     f"than the model's context of {limit} tokens", "messages", "context_length_exceeded")
            else:
                ready.append(t)
        if not ready:
            return
        raws = generate_completions(self.model, self.tokenizer, [t.request.example for t in ready],
                                    max_new_tokens=key[0], batch_size=len(ready), temperature=key[1], progress=False)
        for t, raw in zip(ready, raws):
            t.completion_tokens = len(self.tokenizer(raw, add_special_tokens=False).input_ids)  # re-encoded: ~exact
            t.raw = raw
