"""Golden files from Hugging Face transformers itself, for tests/checkpoint/hf_goldens_test.ts.

Runs transformers' own `LlavaForConditionalGeneration` (eager attention, float64) and its own
`AutoProcessor` on

  * the bundled tiny LLaVA (experiments/tiny-llava/checkpoint), as shipped, and
  * a small random LLaVA that transformers builds and saves itself (transformers 5 layout:
    vision tower without `vision_model.`, `text_config.rope_parameters` with llama3 scaling,
    grouped-query attention, float16 weights), written to tests/fixtures/hf_random_llava/,

and writes, per prompt, to tests/fixtures/hf_goldens/: the processor's input ids and pixel
values, the last position's logits, every layer's importance (head-averaged attention summed
over the prompt's queries) and the greedy continuation. Not part of CI; run once from the
repository root after `pip install torch transformers pillow`:

    python experiments/hf_goldens/make_goldens.py
"""
import json
import os
import shutil

import torch
import transformers
from PIL import Image
from transformers import (AutoProcessor, AutoTokenizer, CLIPImageProcessor, CLIPVisionConfig,
                          LlamaConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUNDLED = os.path.join(ROOT, "experiments", "tiny-llava", "checkpoint")
RANDOM = os.path.join(ROOT, "tests", "fixtures", "hf_random_llava")
OUT = os.path.join(ROOT, "tests", "fixtures", "hf_goldens")
IMAGES = {
    "scene.png": os.path.join(ROOT, "tests", "fixtures", "tiny_llava_golden", "describe_image.png"),
    "photo.jpg": os.path.join(ROOT, "tests", "fixtures", "jpeg_pil", "ycc420.jpg"),
}
STEPS = 10


def write_random_llava():
    """A random LLaVA as transformers 5 saves it, with the bundled tokenizer."""
    torch.manual_seed(0)
    text = LlamaConfig(
        vocab_size=74, hidden_size=64, intermediate_size=96, num_hidden_layers=3,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=256,
        rms_norm_eps=1e-5, bos_token_id=2, eos_token_id=3, pad_token_id=0,
        rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
                         "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 32})
    vision = CLIPVisionConfig(hidden_size=48, intermediate_size=96, num_hidden_layers=3,
                              num_attention_heads=4, image_size=32, patch_size=8,
                              projection_dim=48, hidden_act="quick_gelu")
    config = LlavaConfig(text_config=text, vision_config=vision, image_token_index=4,
                         vision_feature_layer=-2, vision_feature_select_strategy="default",
                         image_seq_length=16)
    model = LlavaForConditionalGeneration(config).eval()
    with torch.no_grad():  # larger weights than the 0.02 init, so attention is not uniform
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.mul_(6.0 if "q_proj" in name or "k_proj" in name else 3.0)
    if os.path.isdir(RANDOM):
        shutil.rmtree(RANDOM)
    model.half().save_pretrained(RANDOM)
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32},
                                         crop_size={"height": 32, "width": 32})
    tokenizer = AutoTokenizer.from_pretrained(BUNDLED)
    LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=8,
                   vision_feature_select_strategy="default", num_additional_image_tokens=1,
                   chat_template=tokenizer.chat_template).save_pretrained(RANDOM)


def importance(attentions, n):
    """Per layer: attention averaged over heads, summed over the n prompt queries."""
    return [a[0].mean(0)[:n, :n].sum(0).tolist() for a in attentions]


def golden(model_dir, name, question, image):
    processor = AutoProcessor.from_pretrained(model_dir)
    model = LlavaForConditionalGeneration.from_pretrained(
        model_dir, attn_implementation="eager", dtype=torch.float64).eval()
    content = ([{"type": "image"}] if image else []) + [{"type": "text", "text": question}]
    text = processor.apply_chat_template([{"role": "user", "content": content}],
                                         add_generation_prompt=True)
    pil = Image.open(IMAGES[image]).convert("RGB") if image else None
    inputs = processor(images=pil, text=text, return_tensors="pt")
    ids = inputs["input_ids"]
    kwargs = {"input_ids": ids, "attention_mask": inputs["attention_mask"]}
    if image:
        kwargs["pixel_values"] = inputs["pixel_values"].to(torch.float64)
    with torch.no_grad():
        out = model(**kwargs, output_attentions=True)
        gen = model.generate(**kwargs, do_sample=False, max_new_tokens=STEPS, min_new_tokens=STEPS)
    n = ids.shape[1]
    case = {
        "name": name,
        "model": os.path.relpath(model_dir, ROOT),
        "question": question,
        "image": image,
        "prompt_text": text,
        "input_ids": ids[0].tolist(),
        "last_logits": out.logits[0, -1].tolist(),
        "importance": importance(out.attentions, n),
        "greedy_ids": gen[0, n:].tolist(),
    }
    if image:
        case["pixel_values"] = inputs["pixel_values"][0].flatten().tolist()
    return case


def main():
    write_random_llava()
    os.makedirs(OUT, exist_ok=True)
    cases = [
        golden(BUNDLED, "bundled_image", "Describe the image in detail.", "scene.png"),
        golden(BUNDLED, "bundled_text", "What color is the small circle?", None),
        golden(RANDOM, "random_image", "What is in the image?", "photo.jpg"),
        golden(RANDOM, "random_text", "Describe the picture.", None),
    ]
    manifest = {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "attention": "eager",
        "dtype": "float64",
        "notes": "importance[l][j] = sum over prompt queries i of the head-mean of layer l's "
                 "attention probabilities [i, j]; greedy_ids from generate(do_sample=False)",
        "cases": [],
    }
    for c in cases:
        with open(os.path.join(OUT, f"{c['name']}.json"), "w") as f:
            json.dump(c, f)
            f.write("\n")
        manifest["cases"].append({"name": c["name"], "model": c["model"], "tokens": len(c["input_ids"])})
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
