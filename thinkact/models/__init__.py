"""Models: a spec (builtin:tiny, builtin:smollm2-135m, a Hugging Face id in the local cache, a local folder) ->
(model, tokenizer) with the project chat template, offline; and the base model of a run from params.yaml.

    from thinkact.models import load_model, load_base, load_tokenizer, resolve_device
"""
from thinkact.models.base import load_base, set_cpu_threads, tiny_corpus, tiny_size
from thinkact.models.loading import (
    BUILTINS,
    SMOLLM2,
    TINY,
    DeviceInfo,
    load_model,
    load_tokenizer,
    model_folder,
    read_meta,
    resolve_device,
)

__all__ = ["BUILTINS", "SMOLLM2", "TINY", "DeviceInfo", "load_base", "load_model", "load_tokenizer", "model_folder",
           "read_meta", "resolve_device", "set_cpu_threads", "tiny_corpus", "tiny_size"]
