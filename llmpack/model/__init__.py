"""The model side: from bytes to next-token probabilities that every machine agrees on.

    exact/     the exact transformer engine (integer products, fixed reduction trees,
               table-driven exp): model.py is the forward pass, backends.py the matmul
               kernels, numerics.py the recorded numerics, kernels.py the C attention
    loading.py the model registry, aliases, GGUF loading and fingerprints
    tokens.py  the byte-exact tokenizer (a bijection between bytes and token ids)
    engine.py  next-token weights for the coders, stepped or in full sequences
    window.py  the context window a stream is computed over (sliding)
    scoring.py a text's cross-entropy in one pass (for `select`)
"""
