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
    """An optional system line before the conversation (e.g. one asking for a short reasoning first), and how
    offered tool schemas are written."""

    system: str = ""             # a system line before every conversation that has none; "": none
    tool_json: str = "spaced"    # spaced: json.dumps' default separators (", ", ": "); compact: "," and ":"

    def __post_init__(self):
        if self.tool_json not in TOOL_JSON_STYLES:
            raise ConfigError("prompt.tool_json", f"{self.tool_json!r} is not one of {', '.join(TOOL_JSON_STYLES)}")
        if "\0" in self.system or len(self.system) > 2000 or (self.system and not self.system.strip()):
            raise ConfigError("prompt.system", "must be \"\" (none) or plain text of at most 2,000 characters, not "
                                               "only spaces")
