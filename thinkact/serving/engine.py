"""The model `thinkact serve` answers with: resolved and loaded exactly as `thinkact chat` does
(thinkact.chat.resolve_chat_model / load_chat_model: a registry URI downloaded once, `sft` / `grpo`, a folder, a
built-in; a trained folder keeps the prompt settings of its card), its prompts rendered and its completions generated
by evaluation's own functions (thinkact.generation.prompt_text / generate_completions), so a served prompt is
byte-for-byte evaluation's. One generation at a time (a lock: generation changes the tokenizer's padding side);
requests that arrive while one generates wait, and the next generation answers all that wait with the same
max_tokens and temperature in one batch (left-padded, as evaluation batches), up to `max_batch`.

A streamed request (`stream`) is generated alone, a batch of 1 under the same lock, with a streamer: its text comes
out piece by piece while a thread generates, and its completion is the very text `generate_completions` returns for
it (the streamer only watches). A client that goes away cancels it: the streamer stops the generation at its next
token, and the lock is released however the generation ends.

    served = ServedModel.load("sft", load_params())
    done = served.complete(chat_request(body, served.ids))   # a Completion: raw text, prompt, token counts
    live = served.stream(request)                            # a LiveCompletion: BadRequest before anything is generated
    for piece in live: ...                                   # text as generated; then live.completion()
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jinja2.exceptions import TemplateError
from transformers.generation.streamers import BaseStreamer

from thinkact.chat import load_chat_model, resolve_chat_model
from thinkact.chat_format.template import assistant_opening
from thinkact.contract import Example
from thinkact.generation import generate_completions, generated_tokens, prompt_text
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


class Cancelled(Exception):
    """Raised inside `model.generate` (from the streamer) to stop a streamed generation nobody reads any more."""


_END = object()  # the last item of a live completion's queue


class _Streamer(BaseStreamer):
    """Turns the tokens `generate` hands over (the prompt's ids once, then one token per step, batch 1) into text
    pieces on `out`: the new tokens are decoded whole, as `generate_completions` decodes them (special tokens kept,
    cut at the first stop or pad token), and a piece is sent only when it extends what was sent, without a trailing
    replacement character (half a UTF-8 character) or whitespace (a tokenizer's clean-up may still change it). What
    the generation prompt opened of the turn (prompt.open_think: `assistant_opening`) goes first, as it begins the
    completion."""

    def __init__(self, tokenizer: Any, out: queue.Queue, cancelled: threading.Event):
        self.tokenizer, self.out, self.cancelled = tokenizer, out, cancelled
        self.opened = assistant_opening(tokenizer)
        # the tokens generate_completions stops on (its `stop`), and padding: where its decode cuts a completion
        self.stop = {t for t in {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>"),
                                 tokenizer.pad_token_id} if isinstance(t, int)}
        self.ids: list[int] = []
        self.sent = ""
        self.prompt_seen = self.stopped = False

    def put(self, value: Any) -> None:
        if self.cancelled.is_set():
            raise Cancelled()
        if not self.prompt_seen:  # the first call hands over the prompt
            self.prompt_seen = True
            if self.opened:
                self.out.put(self.opened)
                self.sent = self.opened
            return
        if self.stopped:
            return
        for token in value.reshape(-1).tolist():
            if token in self.stop:
                self.stopped = True
                break
            self.ids.append(token)
        new = self.tokenizer.decode(self.ids, skip_special_tokens=False).rstrip().rstrip("\ufffd").rstrip()
        text = self.opened + new
        if len(text) > len(self.sent) and text.startswith(self.sent):
            self.out.put(text[len(self.sent):])
            self.sent = text

    def end(self) -> None:
        pass  # the generating thread ends the queue, however generate ends


class LiveCompletion:
    """A streamed generation under way: iterate it for the text as it is generated (pieces whose concatenation is a
    prefix of the completion), then `completion()` is the Completion (or raises what stopped the generation).
    `cancel()` (the client went away) stops the generation at its next token."""

    def __init__(self) -> None:
        self.pieces: queue.Queue = queue.Queue()  # unbounded: the generating thread never waits for a reader
        self.cancelled = threading.Event()
        self.finished = threading.Event()
        self.result: Completion | None = None
        self.error: BaseException | None = None

    def __iter__(self) -> Iterator[str]:
        while (piece := self.pieces.get()) is not _END:
            yield piece

    def cancel(self) -> None:
        self.cancelled.set()

    def completion(self) -> Completion:
        self.finished.wait()
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


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

    def stream(self, request: ChatRequest) -> LiveCompletion:
        """Start generating the reply to `request` alone (batch 1) with a streamer, in a thread that holds `lock`
        until the generation ends; returns once it has started. The BadRequests of `complete` are raised here,
        before anything is generated (the lock is then released at once)."""
        prompt = self.prompt(request.example)
        live = LiveCompletion()
        self.lock.acquire()
        try:
            prompt_tokens = self._prompt_tokens(prompt, request.max_tokens)
            thread = threading.Thread(target=self._stream, args=(request, prompt, prompt_tokens, live),
                                      name="thinkact-serve-stream", daemon=True)
            thread.start()
        except BaseException:
            self.lock.release()
            raise
        return live

    def _stream(self, request: ChatRequest, prompt: str, prompt_tokens: int, live: LiveCompletion) -> None:
        """The generating thread of `stream`: holds `lock` (taken by `stream`) and releases it when done."""
        try:
            streamer = _Streamer(self.tokenizer, live.pieces, live.cancelled)
            [raw] = generate_completions(self.model, self.tokenizer, [request.example], batch_size=1,
                                         max_new_tokens=request.max_tokens, temperature=request.temperature,
                                         progress=False, streamer=streamer)
            completion_tokens = generated_tokens(self.tokenizer, raw)  # as `_generate` counts
            live.result = Completion(raw, prompt, prompt_tokens, completion_tokens)
        except BaseException as e:  # Cancelled, or a bug: the reader gets it from completion()
            live.error = e
        finally:
            self.lock.release()
            live.finished.set()
            live.pieces.put(_END)

    def _prompt_tokens(self, prompt: str, max_tokens: int) -> int:
        """The prompt's length in tokens, or a BadRequest when it and `max_tokens` exceed the context; under `lock`."""
        tokens = len(self.tokenizer(prompt, add_special_tokens=False).input_ids)
        limit = self.context_length
        if limit and tokens + max_tokens > limit:
            raise BadRequest(f"the prompt has {tokens} tokens and max_tokens is {max_tokens}: more than the model's "
                             f"context of {limit} tokens", "messages", "context_length_exceeded")
        return tokens

    def _generate(self, ticket: _Ticket) -> None:
        """Answer `ticket` and the waiting tickets with its settings (at most max_batch) in one batch; under `lock`."""
        key = (ticket.request.max_tokens, ticket.request.temperature)
        with self.queue:
            batch = [ticket] + [t for t in self.waiting if t is not ticket and
                                (t.request.max_tokens, t.request.temperature) == key][:self.max_batch - 1]
            self.waiting = [t for t in self.waiting if t not in batch]
        ready = []
        for t in batch:
            try:
                t.prompt_tokens = self._prompt_tokens(t.prompt, key[0])
            except BadRequest as e:
                t.error = e
            else:
                ready.append(t)
        if not ready:
            return
        raws = generate_completions(self.model, self.tokenizer, [t.request.example for t in ready],
                                    max_new_tokens=key[0], batch_size=len(ready), temperature=key[1], progress=False)
        for t, raw in zip(ready, raws):
            t.completion_tokens = generated_tokens(self.tokenizer, raw)
            t.raw = raw
