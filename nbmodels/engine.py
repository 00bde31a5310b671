"""The inference engine (planned). Room for the seed's integration with an inference core.

Will own: loading models with transformers/accelerate in the kernel (bitsandbytes 4/8-bit
quantization, chat templates, streaming, embeddings) and running Ollama models through its
API. torch and transformers are imported inside functions only.
"""
