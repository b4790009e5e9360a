"""Domain-independent phrasings: system prompt, small talk, clarifying questions, gold reasoning. How they
name a slot (`LABELS`, "order number") is declared with the slot (thinkact.world.slots).

Lists keyed by "train" (train and test_id) and "env" (test_env only) never share a sentence.
Reasoning templates are not part of any prompt, so every split draws from the same set.
"""
from __future__ import annotations

from thinkact.world.slots import LABELS  # noqa: F401 - re-exported: P.LABELS, thinkact.env.user

SYSTEM = "You are a customer-support assistant. Call a tool when one fits; ask if a required detail is missing."

INTRO = {  # an earlier user turn that gives the anchor value; the assistant acknowledges it
    "train": [("Hi, my {label} is {value}.", "Thanks, I have {value}. What would you like to do?"),
              ("Hello! It's about {label} {value}.", "Sure, {value}. How can I help?")],
    "env": [("Quick question regarding {label} {value}.", "Of course, {value}. Go ahead.")],
}
CONNECTORS = {"train": ["Also,", "And", "Plus,"], "env": ["On top of that,"]}
CLARIFY = {
    "train": ["Sure, I can {intent} for you. What is the {label}?", "Happy to help. Could you give me the {label}?",
              "I need the {label} to {intent}. What is it?"],
    "env": ["Glad to assist — which {label} should I use?"],
}
SMALL_TALK = {  # (user, assistant) for turns that need no tool
    "train": [("Hi there!", "Hello! How can I help you today?"),
              ("Thanks, that's all.", "You're welcome! Have a great day."),
              ("Thank you so much!", "Happy to help! Anything else?"),
              ("Good morning.", "Good morning! What can I do for you?"),
              ("Can you tell me a joke?", "I'm here for support questions, so I'll skip the jokes. How can I help?")],
    "env": [("Hey, anybody there?", "Yes, I'm here! What do you need?"),
            ("Cheers, bye!", "Goodbye, take care!")],
}
CAPABILITIES = {
    "train": ["What can you help me with?", "What can you do?"],
    "env": ["Which things are you able to handle?"],
}
CAPABILITY_ANSWER = "I can {intents}."
OUT_OF_SCOPE = "Sorry, I can't {intent} here: none of my tools does that."

REASONING = {
    "call": ["The user wants to {intent}. {tool} does that and the request gives {slots}, so I'll call {tool}.",
             "This is a request to {intent}; I have everything {tool} needs ({slots}). Calling {tool}.",
             "{tool} fits: the user asks to {intent} and provides {slots}."],
    "call_from_history": [
        "The user wants to {intent}. The {anchor} was given earlier in the conversation, so I'll call {tool} with it.",
        "To {intent} I need {slots}; the {anchor} comes from an earlier turn. Calling {tool}."],
    "parallel": ["Two independent requests: {intents}. I'll call {tools} in parallel.",
                 "The user asks for two things at once ({intents}), so I make both calls: {tools}."],
    "answer": ["{tool} returned the result, so no further tool is needed; I'll answer from it.",
               "I have the output of {tool}. Now I just report it to the user."],
    "clarify": ["The user wants to {intent}, but {tool} needs the {label}, which is missing. I should ask for it.",
                "I can't call {tool} yet: the {label} is required and not given. Ask the user."],
    "no_tool": ["No tool is needed here; I'll reply directly.",
                "This is small talk, not a task for a tool. A direct reply is enough."],
    "out_of_scope": ["The user wants to {intent}, but none of the offered tools does that. No tool call; I'll say so."],
}
