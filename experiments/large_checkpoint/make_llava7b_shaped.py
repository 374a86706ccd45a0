"""Writes a random LLaVA-1.5-7B-shaped checkpoint (f16 safetensors, llava-hf layout, sharded) for
experiments/large_checkpoint/bench.ts. Not committed: 32 layers are about 14 GB.

Shapes are llava-hf/llava-1.5-7b-hf's: LLaMA with 32 layers, hidden 4096, 32 heads,
intermediate 11008, vocab 32000; CLIP ViT-L/14 at 336 px (24 layers, hidden 1024); the
`mlp2x_gelu` projector. Weights are N(0, 0.02) (norms 1, biases 0): the numbers mean nothing,
the sizes and the code paths are real. The tokenizer is the bundled tiny LLaVA's (its ids are
below 32000; `<image>` is id 4). `--layers N` writes fewer decoder layers of the same shape.

    pip install numpy safetensors
    python experiments/large_checkpoint/make_llava7b_shaped.py --out /tmp/llava7b [--layers 32]
"""
import argparse
import json
import os
import shutil

import numpy as np
from safetensors.numpy import save_file

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUNDLED = os.path.join(ROOT, "experiments", "tiny-llava", "checkpoint")
SHARD_BYTES = 2 * 2**30


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--layers", type=int, default=32)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    D, I, V, H, L = 4096, 11008, 32000, 32, args.layers
    Dv, Iv, Lv, P = 1024, 4096, 24, 14
    positions = (336 // P) ** 2 + 1

    def rand(shape):
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float16)

    def ones(n):
        return np.ones(n, dtype=np.float16)

    def zeros(n):
        return np.zeros(n, dtype=np.float16)

    # Names and shapes first; each shard's values are drawn only when it is written, so the
    # script holds one shard (at most SHARD_BYTES) in memory, not the whole 14 GB.
    shapes = {}
    t = "language_model.model."
    shapes[f"{t}embed_tokens.weight"] = ("rand", (V, D))
    for l in range(L):
        p = f"{t}layers.{l}."
        for name, shape in [("self_attn.q_proj", (D, D)), ("self_attn.k_proj", (D, D)),
                            ("self_attn.v_proj", (D, D)), ("self_attn.o_proj", (D, D)),
                            ("mlp.gate_proj", (I, D)), ("mlp.up_proj", (I, D)),
                            ("mlp.down_proj", (D, I))]:
            shapes[f"{p}{name}.weight"] = ("rand", shape)
        shapes[f"{p}input_layernorm.weight"] = ("ones", (D,))
        shapes[f"{p}post_attention_layernorm.weight"] = ("ones", (D,))
    shapes[f"{t}norm.weight"] = ("ones", (D,))
    shapes["language_model.lm_head.weight"] = ("rand", (V, D))
    v = "vision_tower.vision_model."
    shapes[f"{v}embeddings.class_embedding"] = ("rand", (Dv,))
    shapes[f"{v}embeddings.patch_embedding.weight"] = ("rand", (Dv, 3, P, P))
    shapes[f"{v}embeddings.position_embedding.weight"] = ("rand", (positions, Dv))
    shapes[f"{v}pre_layrnorm.weight"] = ("ones", (Dv,))
    shapes[f"{v}pre_layrnorm.bias"] = ("zeros", (Dv,))
    for l in range(Lv):
        p = f"{v}encoder.layers.{l}."
        for proj in ["q_proj", "k_proj", "v_proj", "out_proj"]:
            shapes[f"{p}self_attn.{proj}.weight"] = ("rand", (Dv, Dv))
            shapes[f"{p}self_attn.{proj}.bias"] = ("zeros", (Dv,))
        for ln in ["layer_norm1", "layer_norm2"]:
            shapes[f"{p}{ln}.weight"] = ("ones", (Dv,))
            shapes[f"{p}{ln}.bias"] = ("zeros", (Dv,))
        shapes[f"{p}mlp.fc1.weight"] = ("rand", (Iv, Dv))
        shapes[f"{p}mlp.fc1.bias"] = ("zeros", (Iv,))
        shapes[f"{p}mlp.fc2.weight"] = ("rand", (Dv, Iv))
        shapes[f"{p}mlp.fc2.bias"] = ("zeros", (Dv,))
    shapes["multi_modal_projector.linear_1.weight"] = ("rand", (D, Dv))
    shapes["multi_modal_projector.linear_1.bias"] = ("zeros", (D,))
    shapes["multi_modal_projector.linear_2.weight"] = ("rand", (D, D))
    shapes["multi_modal_projector.linear_2.bias"] = ("zeros", (D,))
    make = {"rand": rand, "ones": lambda s: ones(s[0]), "zeros": lambda s: zeros(s[0])}

    def nbytes(name):
        return 2 * int(np.prod(shapes[name][1]))

    os.makedirs(args.out, exist_ok=True)
    shards, cur, size = [], [], 0
    for name in sorted(shapes):
        if cur and size + nbytes(name) > SHARD_BYTES:
            shards.append(cur)
            cur, size = [], 0
        cur.append(name)
        size += nbytes(name)
    shards.append(cur)
    weight_map = {}
    for i, names in enumerate(shards):
        fname = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        shard = {name: make[shapes[name][0]](shapes[name][1]) for name in names}
        save_file(shard, os.path.join(args.out, fname), metadata={"format": "pt"})
        del shard
        weight_map.update({name: fname for name in names})
        print(f"{fname}: {len(names)} tensors", flush=True)
    total = sum(nbytes(name) for name in shapes)
    with open(os.path.join(args.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f)
    config = {
        "architectures": ["LlavaForConditionalGeneration"], "model_type": "llava",
        "image_token_index": 4, "projector_hidden_act": "gelu", "vision_feature_layer": -2,
        "vision_feature_select_strategy": "default", "torch_dtype": "float16",
        "text_config": {"model_type": "llama", "vocab_size": V, "hidden_size": D,
                        "intermediate_size": I, "num_hidden_layers": L, "num_attention_heads": H,
                        "num_key_value_heads": H, "max_position_embeddings": 4096,
                        "rms_norm_eps": 1e-5, "bos_token_id": 2, "eos_token_id": 3,
                        "pad_token_id": 0},
        "vision_config": {"model_type": "clip_vision_model", "hidden_size": Dv,
                          "intermediate_size": Iv, "num_hidden_layers": Lv,
                          "num_attention_heads": 16, "image_size": 336, "patch_size": P,
                          "projection_dim": 768},
    }
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(args.out, "preprocessor_config.json"), "w") as f:
        json.dump({"image_processor_type": "CLIPImageProcessor", "size": {"shortest_edge": 336},
                   "crop_size": {"height": 336, "width": 336}, "resample": 3}, f, indent=2)
    for name in ["tokenizer.json", "tokenizer_config.json"]:
        shutil.copy(os.path.join(BUNDLED, name), os.path.join(args.out, name))
    print(f"{args.out}: {len(shapes)} tensors, {total / 2**30:.2f} GiB f16 in {len(shards)} shards")


if __name__ == "__main__":
    main()
