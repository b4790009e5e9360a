"""Play agent episodes with a model: the one rollout loop behind episode evaluation (greedy) and GRPO (sampled).

Each episode starts from the prompt the chat template renders for its opening messages (the spec's optional
`system`, then `user`) with the spec's tools and `add_generation_prompt=True`, exactly as SFT and per-turn
evaluation render prompts. Then, while any episode is active: one assistant turn is generated for every active
episode (in batches, left-padded, stopping at `<|im_end|>` or eos) and parsed with `thinkact.chat_format.parsing`;
a turn holding `<tool_call>` blocks runs each block through `ToolEnvironment.call_raw` (a block that is not a
valid call becomes an error result, recorded and counted), any other turn is text for `ToolEnvironment.respond`.
Unless the episode is over, the tokens the template renders after the assistant turn (its `<|im_end|>` when the
model did not write it, the tool results or the user's reply, the next `<|im_start|>assistant\\n`) are appended
with `env_mask` 0; generated tokens have `env_mask` 1 (TRL keeps only those in the loss). The inserted text is
the difference between two renderings of the structured transcript (the template is prefix-preserving), so
`prompt_ids + completion_ids` decode to the template's rendering of `messages` whenever the model's turns are
canonical (what `render_target` writes).

The bounds of an episode and its tokens per turn are the `episodes` settings (thinkact.env.settings.EpisodesParams,
params.yaml's `episodes:`). An episode ends when the environment is done (a final answer, or a bound of
`max_turns` texts / `max_tool_calls` calls passed: failed), or when the completion would exceed its token budget
`max_completion_tokens` (default `max_new_tokens * (max_turns + max_tool_calls)`: every assistant message the
bounds allow at full length; then `truncated`, not done, not a success). The completion always ends with the
last generated token: nothing is appended after the final turn. The tools fail as `episodes.faults` says
(thinkact.env.faults: drawn per episode id and call, so GRPO and evaluation meet the same faults; all 0: none).

    rollouts = play_episodes(model, tokenizer, specs, params.episodes, num_samples=4, temperature=0.8, seed=step)
    r = rollouts[0]                 # the 4 samples of specs[i] are rollouts[4 * i: 4 * i + 4]
    r.prompt_ids, r.completion_ids, r.env_mask, r.messages, r.result()
    trl_output(rollouts)            # GRPO's rollout_func return value: ids, env_mask, logprobs None, episode_result
"""
from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from thinkact.chat_format.template import assistant_opening
from thinkact.chat_format.parsing import END_MARKERS, action_text, parse
from thinkact.env.settings import EpisodesParams
from thinkact.env.spec import EpisodeSpec
from thinkact.env.tool_env import CallRecord, ToolEnvironment, TurnRecord
from thinkact.generation import generate_rows
from thinkact.progress import Progress
from thinkact.tools.registry import open_tools

END_OF_TURN = "<|im_end|>"
CALL_OPEN, CALL_CLOSE = "<tool_call>", "</tool_call>"


def template_messages(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The transcript as the chat template reads it: `reasoning` becomes `reasoning_content` (always a string)."""
    out = []
    for m in messages:
        if m["role"] == "assistant":
            m = {**m, "reasoning_content": m.get("reasoning") or ""}
        out.append(m)
    return out


def render(tokenizer: Any, spec: EpisodeSpec, messages: Sequence[dict[str, Any]], generation_prompt: bool) -> str:
    """The template's text for `messages` (OpenAI format, as in `EpisodeRollout.messages`) with the spec's tools."""
    return tokenizer.apply_chat_template(template_messages(messages), tools=list(spec.tools) or None,
                                         tokenize=False, add_generation_prompt=generation_prompt)


def opening_messages(spec: EpisodeSpec) -> list[dict[str, Any]]:
    system = getattr(spec, "system", None)
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": spec.user}]


@dataclass
class EpisodeRollout:
    """One played episode: the transcript, the token streams for GRPO, and the environment's records."""

    spec: EpisodeSpec
    sample: int                                  # which of the spec's num_samples this is
    messages: list[dict[str, Any]]               # OpenAI format: system?/user/assistant/tool/user…
    prompt_ids: list[int]
    completion_ids: list[int] = field(default_factory=list)
    env_mask: list[int] = field(default_factory=list)   # 1 generated, 0 inserted (tool results, user replies)
    calls: tuple[CallRecord, ...] = ()
    turns: tuple[TurnRecord, ...] = ()
    final_answer: str | None = None
    done: bool = False
    failed: bool = False
    truncated: bool = False                      # stopped by the token budget before the episode was done
    assistant_turns: int = 0                     # assistant messages generated
    max_turns: int = 4
    max_tool_calls: int = 6

    def result(self) -> dict[str, Any]:
        """A JSON-able summary: the `episode_result` column the episode rewards read (thinkact.env.columns)."""
        return {"id": self.spec.id, "sample": self.sample,
                "calls": [{"name": c.name, "arguments": _jsonable(c.arguments), "error": c.error} for c in self.calls],
                "turns": [t.kind for t in self.turns], "final_answer": self.final_answer, "done": self.done,
                "failed": self.failed, "truncated": self.truncated, "assistant_turns": self.assistant_turns,
                "max_turns": self.max_turns, "max_tool_calls": self.max_tool_calls,
                "completion_tokens": len(self.completion_ids), "generated_tokens": sum(self.env_mask)}


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError, RecursionError):
        return repr(value)


def call_bodies(text: str) -> list[str]:
    """The text inside each `<tool_call>` block, in order; an unclosed last block runs to the end of the text."""
    bodies, pos = [], text.find(CALL_OPEN)
    while pos >= 0:
        start = pos + len(CALL_OPEN)
        close = text.find(CALL_CLOSE, start)
        bodies.append(text[start:] if close < 0 else text[start:close])
        pos = -1 if close < 0 else text.find(CALL_OPEN, close + len(CALL_CLOSE))
    return [b.strip() for b in bodies]


def _strip_end(text: str) -> str:
    text = text.rstrip()
    while text.endswith(END_MARKERS):
        text = text[: text.rindex("<|")].rstrip()
    return text


class _Episode:
    """A rollout in progress: the environment, the transcript and the token streams."""

    def __init__(self, tokenizer: Any, spec: EpisodeSpec, sample: int, settings: EpisodesParams):
        max_turns, max_tool_calls = settings.max_turns, settings.max_tool_calls
        self.env = ToolEnvironment(spec, max_turns=max_turns, max_tool_calls=max_tool_calls, faults=settings.faults,
                                   tools=open_tools(settings.tools))
        messages = opening_messages(spec)
        ids = tokenizer(render(tokenizer, spec, messages, True), add_special_tokens=False)["input_ids"]
        self.out = EpisodeRollout(spec, sample, messages, list(ids), max_turns=max_turns,
                                  max_tool_calls=max_tool_calls)
        self.finished = False
        self.opened = assistant_opening(tokenizer)  # what every generation prompt opens of the turn (open_think)

    @property
    def context(self) -> list[int]:
        return self.out.prompt_ids + self.out.completion_ids

    def step(self, tokenizer: Any, new_ids: list[int], ended: bool, budget: int) -> None:
        """Take one generated assistant turn: run it in the environment, append what the template renders next."""
        out = self.out
        out.completion_ids += new_ids
        out.env_mask += [1] * len(new_ids)
        out.assistant_turns += 1
        before = len(out.messages)
        self._act(self.opened + _strip_end(tokenizer.decode(new_ids, skip_special_tokens=False)))
        env = self.env
        out.calls, out.turns, out.final_answer, out.done, out.failed = (
            env.calls, env.turns, env.final_answer, env.done, env.failed)
        if env.done:
            self.finished = True
            return
        suffix = tokenizer(self._suffix(tokenizer, before, ended), add_special_tokens=False)["input_ids"]
        if len(out.completion_ids) + len(suffix) >= budget:
            self.finished = out.truncated = True
            return
        out.completion_ids += suffix
        out.env_mask += [0] * len(suffix)

    def _act(self, text: str) -> None:
        p, turn = parse(text), self.out.assistant_turns
        message: dict[str, Any] = {"role": "assistant", "content": "", "reasoning": p.think}
        self.out.messages.append(message)
        if p.calls or p.action == "call":
            message["tool_calls"] = []
            for j, body in enumerate(call_bodies(action_text(text))):
                result = self.env.call_raw(body)
                record, call_id = self.env.calls[-1], f"call_{turn}_{j}"
                arguments = (json.dumps(record.arguments, ensure_ascii=False) if isinstance(record.arguments, dict)
                             else body)
                message["tool_calls"].append({"id": call_id, "type": "function",
                                              "function": {"name": record.name or "", "arguments": arguments}})
                self.out.messages.append({"role": "tool", "tool_call_id": call_id, "content": result})
            return
        # The project's format: a closed think block, then the answer. A turn without one is no answer (empty), so
        # text that merely happens to be there (a random model's) never counts as a final answer.
        content = (p.answer or "") if p.think is not None else ""
        message["content"] = content
        reply = self.env.respond(content)
        if not self.env.done:
            self.out.messages.append({"role": "user", "content": reply})

    def _suffix(self, tokenizer: Any, before: int, ended: bool) -> str:
        """The template's text after the assistant turn's end-of-turn marker, up to the next generation prompt;
        led by the marker itself when the model did not generate it."""
        spec, messages = self.out.spec, self.out.messages
        base = render(tokenizer, spec, messages[: before + 1], False)
        full = render(tokenizer, spec, messages, True)
        cut = base.rindex(END_OF_TURN) + len(END_OF_TURN)
        if not full.startswith(base[:cut]):
            raise RuntimeError("the chat template is not prefix-preserving; episode rollouts need one that is "
                               "(thinkact.chat_format.template.apply_template)")
        return ("" if ended else END_OF_TURN) + full[cut:]


def _stop_ids(tokenizer: Any) -> tuple[list[int], int]:
    end = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    stop = [t for t in dict.fromkeys([end, tokenizer.eos_token_id]) if isinstance(t, int) and t >= 0]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop[0]
    return stop, pad


def _cut(row: list[int], limit: int, stop: list[int], pad: int) -> list[int]:
    """A generated row up to and including its first stop token, without padding, at most `limit` tokens."""
    for i, tok in enumerate(row[:limit]):
        if tok in stop:
            return row[: i + 1]
        if tok == pad:
            return row[:i]
    return row[:limit]


def _generate(model: Any, contexts: list[list[int]], limits: list[int], stop: list[int], pad: int,
              sampling: dict[str, Any]) -> list[list[int]]:
    """One assistant turn per context (left-padded together), each cut at its stop token or its limit; contexts
    sharing a prefix (the samples of one episode) have its keys and values computed once (thinkact.generation)."""
    out = generate_rows(model, contexts, max_new_tokens=max(limits), eos_token_id=stop, pad_token_id=pad,
                        use_cache=True, **sampling)
    return [_cut(row.tolist(), limit, stop, pad) for row, limit in zip(out, limits)]


@contextlib.contextmanager
def _seeded(model: Any, seed: int, sampled: bool):
    """Sampling draws from a generator seeded here; the caller's global RNG state is left as it was."""
    if not sampled:
        yield
        return
    device = model.device
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def play_episodes(model: Any, tokenizer: Any, specs: Sequence[EpisodeSpec],
                  settings: EpisodesParams = EpisodesParams(), *, num_samples: int = 1, temperature: float = 0.0,
                  batch_size: int = 16, seed: int = 0, max_completion_tokens: int | None = None,
                  top_p: float = 1.0, top_k: int = 0, progress: str | None = None) -> list[EpisodeRollout]:
    """Play `num_samples` episodes of every spec; the samples of specs[i] are at [i * num_samples, (i+1) * num_samples).

    `settings` bound every episode (`max_turns`, `max_tool_calls`) and every assistant turn (`max_new_tokens`),
    and set the tools' faults (`faults`).
    Greedy when `temperature` is 0, else sampled at `temperature` (with `top_p`/`top_k`; 0 = off), deterministic
    for a `seed`. `max_completion_tokens` (default `max_new_tokens * (max_turns + max_tool_calls)`) bounds the
    whole completion, inserted tokens included. The model is put in eval mode while playing and given back in the
    mode it had. `progress`: a label for time-based progress lines of finished episodes (thinkact.progress), none
    when None."""
    max_new_tokens, max_turns, max_tool_calls = settings.max_new_tokens, settings.max_turns, settings.max_tool_calls
    if num_samples < 1 or batch_size < 1 or max_new_tokens < 1:
        raise ValueError("num_samples, batch_size and max_new_tokens must be >= 1")
    budget = max_completion_tokens or max_new_tokens * (max_turns + max_tool_calls)
    stop, pad = _stop_ids(tokenizer)
    sampling = ({"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": top_k}
                if temperature > 0 else {"do_sample": False})
    episodes = [_Episode(tokenizer, spec, j, settings) for spec in specs for j in range(num_samples)]
    was_training = model.training
    model.eval()
    bar = Progress(progress or "", len(episodes), unit="episodes", enabled=progress is not None)
    try:
        with _seeded(model, seed, temperature > 0):
            _play(model, tokenizer, episodes, budget, max_new_tokens, batch_size, stop, pad, sampling, bar)
    finally:
        model.train(was_training)
    bar.close()
    return [e.out for e in episodes]


def _play(model: Any, tokenizer: Any, episodes: list[_Episode], budget: int, max_new_tokens: int, batch_size: int,
          stop: list[int], pad: int, sampling: dict[str, Any], progress: Progress) -> None:
    active = list(episodes)
    while active:
        active.sort(key=lambda e: len(e.context))  # similar lengths together: little padding
        for start in range(0, len(active), batch_size):
            batch = active[start:start + batch_size]
            limits = [max(1, min(max_new_tokens, budget - len(e.out.completion_ids))) for e in batch]
            for e, new in zip(batch, _generate(model, [e.context for e in batch], limits, stop, pad, sampling)):
                e.step(tokenizer, new, bool(new) and new[-1] == stop[0], budget)
            progress.update(sum(e.finished for e in batch))
        active = [e for e in active if not e.finished]


def trl_output(rollouts: Sequence[EpisodeRollout]) -> dict[str, Any]:
    """What TRL's GRPO `rollout_func` returns for these rollouts (one per prompt it was given, in order): the token
    streams, `env_mask` (TRL masks 0 from the loss), no sampling logprobs, and the `episode_result` column that
    TRL forwards to the reward functions (the episode rewards read it with the dataset's `episode` column)."""
    return {"prompt_ids": [r.prompt_ids for r in rollouts], "completion_ids": [r.completion_ids for r in rollouts],
            "env_mask": [r.env_mask for r in rollouts], "logprobs": None,
            "episode_result": [json.dumps(r.result(), ensure_ascii=False) for r in rollouts]}
