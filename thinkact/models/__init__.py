"""Models: a spec (builtin:tiny, builtin:smollm2-135m, a Hugging Face id in the local cache, a local folder) ->
(model, tokenizer) with the project chat template, offline; and the base model of a run from params.yaml.

- `loading`: `load_model`, `load_tokenizer`, `resolve_device`, `model_folder`, `read_meta`, the built-in names
- `base`:    the run's base model from params (`load_base`, `tiny_corpus`, `tiny_size`, `set_cpu_threads`)
- `tiny`, `smollm2`: the built-in models
- `params`:  the `model:` section of params.yaml and builtin:tiny's shape (`ModelParams`, `TinySize`), torch-free

The face imports nothing (importing torch costs seconds; params.yaml is checked without it):

    from thinkact.models.loading import load_model, resolve_device
    from thinkact.models.base import load_base
"""
