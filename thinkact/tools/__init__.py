"""Where tool calls run: the tool sets an agent episode can use (docs/your-tools.md).

A tool set declares its tools once (OpenAI function schemas) and runs a call by name; the episode environment
(thinkact.env.tool_env) checks each call against the offered schemas, then asks the tool set to run it.

    base.py      ToolSet (the interface), ToolFailure (a call that could not run: an error result, never a crash)
    builtin.py   BuiltinTools: the simulated world's tools (thinkact.world), the default
    params.py    ToolsParams: params.yaml's `episodes.tools` (which tool set, its timeout)
    registry.py  open_tools(params): the tool set of a ToolsParams, opened once per process and closed at exit

    from thinkact.tools.registry import open_tools
    tools = open_tools(params.episodes.tools)
    tools.run("get_weather", {"city": "Oslo"})      # the result text the model sees, or raises ToolFailure
"""
