"""PyTorch peer of `deno task bench`: the same latency protocol with Hugging Face transformers.

A random `LlamaForCausalLM` of the bench's config (float32, sdpa attention unless --attn says
otherwise) prefills the batch once per row, keeps the row's per-layer counts in its
`DynamicCache` (each layer's first entries: which entries are kept does not change the time),
then decodes greedily, timing each step. Reads one JSON object from argv[1]; prints one JSON
object on the last line of stdout.

    python3 experiments/bench/torch_peer.py '{"layers": 8, ...}'

Not part of the CI tests: it runs only when Python with torch and transformers is present.
"""

import json
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM


def main() -> None:
    spec = json.loads(sys.argv[1])
    torch.manual_seed(spec.get("seed", 7))
    torch.set_num_threads(spec.get("threads") or torch.get_num_threads())
    config = LlamaConfig(
        vocab_size=spec["vocab"],
        hidden_size=spec["hidden"],
        intermediate_size=spec["intermediate"],
        num_hidden_layers=spec["layers"],
        num_attention_heads=spec["heads"],
        num_key_value_heads=spec["kvHeads"],
        max_position_embeddings=spec["maxPositions"],
        tie_word_embeddings=False,
    )
    config._attn_implementation = spec.get("attn", "sdpa")
    model = LlamaForCausalLM(config).eval()
    batch, prompt, new_tokens = spec["batch"], spec["prompt"], spec["newTokens"]
    ids = torch.randint(5, spec["vocab"], (batch, prompt))
    rows = []
    with torch.inference_mode():
        for row in spec["rows"]:
            t0 = time.perf_counter()
            out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
            prefill_ms = (time.perf_counter() - t0) * 1000
            cache = out.past_key_values
            for layer, kept in zip(cache.layers, row["kept"]):
                layer.keys = layer.keys[:, :, :kept, :].contiguous()
                layer.values = layer.values[:, :, :kept, :].contiguous()
            token = out.logits[:, -1].argmax(-1, keepdim=True)
            steps = []
            for step in range(1, new_tokens):
                position = torch.full((batch, 1), prompt + step - 1)
                t1 = time.perf_counter()
                out = model(
                    input_ids=token,
                    past_key_values=cache,
                    position_ids=position,
                    cache_position=position[0],
                    use_cache=True,
                )
                token = out.logits[:, -1].argmax(-1, keepdim=True)
                steps.append((time.perf_counter() - t1) * 1000)
            rows.append({
                "budget": row["budget"],
                "prefillMs": prefill_ms,
                "decodeMsPerToken": sum(steps) / max(len(steps), 1),
                "keptAtEnd": [layer.keys.shape[2] for layer in cache.layers],
            })
    print(json.dumps({
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
        "attn": config._attn_implementation,
        "threads": torch.get_num_threads(),
        "rows": rows,
    }))


if __name__ == "__main__":
    main()
