"""The `prompt:` section of params.yaml: what every prompt looks like, the same in every stage, in `thinkact chat`
and in the served model (the chat template is built from it and the model folders' cards carry it).

    from thinkact.chat_format.prompt import PromptParams
"""
from __future__ import annotations

from dataclasses import dataclass

from thinkact.errors import ConfigError

TOOL_JSON_STYLES = ("spaced", "compact")


@dataclass(frozen=True)
class PromptParams:
    """An optional system line before the conversation (e.g. one asking for a short reasoning first), how offered
    tool schemas are written, and whether the generation prompt opens the think block for the model."""

    system: str = ""             # a system line before every conversation that has none; "": none
    tool_json: str = "spaced"    # spaced: json.dumps' default separators (", ", ": "); compact: "," and ":"
    # open_think: the generation prompt ends inside the think block (`<|im_start|>assistant\n<think>\n` and then
    # think_start), so every sample writes its thought from there; the completion is that opening + what the model
    # wrote, in every stage, `thinkact chat` and the served model (thinkact.chat_format.template.assistant_opening).
    open_think: bool = False
    think_start: str = ""        # with open_think: the words every thought begins with ("The user wants"); "": none

    def __post_init__(self):
        if self.tool_json not in TOOL_JSON_STYLES:
            raise ConfigError("prompt.tool_json", f"{self.tool_json!r} is not one of {', '.join(TOOL_JSON_STYLES)}")
        if "\0" in self.system or len(self.system) > 2000 or (self.system and not self.system.strip()):
            raise ConfigError("prompt.system", "must be \"\" (none) or plain text of at most 2,000 characters, not "
                                               "only spaces")
        if self.think_start and not self.open_think:
            raise ConfigError("prompt.think_start", "is the start of an opened think block: set prompt.open_think: "
                                                    "true too, or leave think_start \"\"")
        if "\0" in self.think_start or len(self.think_start) > 200 or "<" in self.think_start:
            raise ConfigError("prompt.think_start", "must be plain text of at most 200 characters without '<' (no "
                                                    "tags: the model closes the block with </think>)")
