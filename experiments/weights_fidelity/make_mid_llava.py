"""Writes a random mid-size LLaVA with transformers, for the weights-fidelity table
(experiments/weights_fidelity/fidelity.ts --model "mid-size random LLaVA=DIR"). Not committed:
about 0.3 GB of f16 safetensors.

Decoder: LLaMA with hidden 1024, 8 layers, 16 heads of 64 (8 KV heads: grouped-query attention),
intermediate 2816, vocab 32000, default RoPE; vision: CLIP at 112 px, patch 14 (64 image
positions), hidden 256, 4 layers. Weights are transformers' random init (std 0.02), scaled up
(q/k × 2, other matrices × 1.5) so that attention is not uniform and logits spread as a trained
model's do; saved in float16 by `save_pretrained` (the transformers 5 layout), with the bundled
tokenizer and an `LlavaProcessor`, like tests/fixtures/hf_random_llava.

    pip install torch transformers
    python experiments/weights_fidelity/make_mid_llava.py --out /tmp/mid_llava
"""
import argparse
import os
import shutil

import torch
from transformers import (AutoTokenizer, CLIPImageProcessor, CLIPVisionConfig, LlamaConfig,
                          LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUNDLED = os.path.join(ROOT, "experiments", "tiny-llava", "checkpoint")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.manual_seed(0)
    text = LlamaConfig(
        vocab_size=32000, hidden_size=1024, intermediate_size=2816, num_hidden_layers=8,
        num_attention_heads=16, num_key_value_heads=8, head_dim=64,
        max_position_embeddings=2048, rms_norm_eps=1e-5, bos_token_id=2, eos_token_id=3,
        pad_token_id=0, rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
    vision = CLIPVisionConfig(hidden_size=256, intermediate_size=1024, num_hidden_layers=4,
                              num_attention_heads=4, image_size=112, patch_size=14,
                              projection_dim=256, hidden_act="quick_gelu")
    config = LlavaConfig(text_config=text, vision_config=vision, image_token_index=4,
                         vision_feature_layer=-2, vision_feature_select_strategy="default",
                         image_seq_length=64)
    model = LlavaForConditionalGeneration(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.mul_(2.0 if "q_proj" in name or "k_proj" in name else 1.5)
    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    model.half().save_pretrained(args.out)
    image_processor = CLIPImageProcessor(size={"shortest_edge": 112},
                                         crop_size={"height": 112, "width": 112})
    tokenizer = AutoTokenizer.from_pretrained(BUNDLED)
    LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=14,
                   vision_feature_select_strategy="default", num_additional_image_tokens=1,
                   chat_template=tokenizer.chat_template).save_pretrained(args.out)
    params = sum(p.numel() for p in model.parameters())
    print(f"{args.out}: {params / 1e6:.0f} M parameters")


if __name__ == "__main__":
    main()
