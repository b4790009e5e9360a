"""thinkact: train tool-using assistants that think before they act (SFT, then GRPO with tool-call rewards)."""
__version__ = "0.1.0"
