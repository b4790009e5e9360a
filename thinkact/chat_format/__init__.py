"""The model's output format, written and read in one place: `<think>…</think>`, then `<tool_call>` blocks or an
answer.

- `template`: the one chat template every model uses (TRL's Qwen3 training template, read from the installed TRL)
              and the assistant text it renders for a target (`apply_template`, `render_target`, `target_message`)
- `parsing`:  the one completion parser (`parse`, `action_text`), JSON only, with size limits, never raising; read by
              the rewards, the rollout loop, evaluation, `thinkact chat` and the served model

    from thinkact.chat_format.template import apply_template, render_target
    from thinkact.chat_format.parsing import parse
    parse(render_target({"tool_calls": [{"name": "f", "arguments": {"x": 1}}]})).calls   # [("f", {"x": 1})]

Import the modules themselves: this package file imports neither, so the parser loads without the template, which
reads its text from the TRL package (the served model reads completions where TRL is not installed).
"""
