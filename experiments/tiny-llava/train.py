#!/usr/bin/python3
"""Train the bundled tiny LLaVA from scratch on the procedural scenes and export it in the
Hugging Face llava-hf layout (config.json, model.safetensors, tokenizer files).

The model is written in plain PyTorch with Hugging Face's parameter names and the exact
semantics of LlavaForConditionalGeneration (CLIP vision tower + 2-layer GELU projector + LLaMA),
so the TypeScript runtime can load the export as it would load llava-hf/llava-1.5-7b-hf.

Modes (see --help):
  (default)        train (resuming from the latest state), then export, evaluate, write goldens
  --export-only    export the checkpoint from the latest training state
  --eval-only      greedy-decode held-out test scenes and report accuracy
  --golden-only    write tests/fixtures/tiny_llava_golden/ from the exported checkpoint

Data comes from `deno task scenes` (see README.md); run from the repository root.
"""
import argparse
import copy
import json
import math
import os
import re
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
GOLDEN = os.path.join(ROOT, "tests", "fixtures", "tiny_llava_golden")


def set_paths(data, out):
    """Where the scenes and training state live (`--data`) and where the export, log and eval
    report go (`--out`)."""
    global DATA, STATE_DIR, OUT_DIR, CKPT, LOG
    DATA, OUT_DIR = data, out
    STATE_DIR = os.path.join(DATA, "state")
    CKPT = os.path.join(OUT_DIR, "checkpoint")
    LOG = os.path.join(OUT_DIR, "train_log.csv")


set_paths(os.path.join(HERE, "data"), HERE)

SYSTEM = "A chat between a user and an assistant."
SPECIALS = ["<pad>", "<unk>", "<s>", "</s>", "<image>"]
IMAGE_SIZE, PATCH = 64, 8
N_PATCHES = (IMAGE_SIZE // PATCH) ** 2
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

# Scene vocabulary (must match lib/data/scenes/vocabulary.ts) for the auxiliary patch labels.
SHAPES = ["circle", "square", "triangle", "diamond"]
COLORS = ["red", "green", "blue", "yellow", "purple", "orange"]
SIZES = ["small", "large"]

ARCH = dict(
    text=dict(hidden_size=128, intermediate_size=352, num_hidden_layers=8,
              num_attention_heads=4, num_key_value_heads=2, head_dim=32),
    vision=dict(hidden_size=96, intermediate_size=384, num_hidden_layers=4,
                num_attention_heads=4),
)


# ----------------------------------------------------------------------------------------------
# Tokenizer: HF WordLevel + Whitespace pre-tokenizer, special tokens matched whole.

WORD_RE = re.compile(r"\w+|[^\w\s]+")
SPECIAL_RE = re.compile("(" + "|".join(re.escape(s) for s in SPECIALS) + ")")


def pre_tokenize(text):
    """Splits like HF: added tokens first, then the Whitespace pre-tokenizer on the rest."""
    out = []
    for part in SPECIAL_RE.split(text):
        if part in SPECIALS:
            out.append(part)
        elif part:
            out.extend(WORD_RE.findall(part))
    return out


class WordTokenizer:
    def __init__(self, vocab):
        self.vocab = vocab
        self.inv = {i: w for w, i in vocab.items()}

    @staticmethod
    def build(texts):
        words = set()
        for t in texts:
            words.update(w for w in pre_tokenize(t) if w not in SPECIALS)
        vocab = {s: i for i, s in enumerate(SPECIALS)}
        for w in sorted(words):
            vocab[w] = len(vocab)
        return WordTokenizer(vocab)

    def encode(self, text):
        return [self.vocab.get(w, self.vocab["<unk>"]) for w in pre_tokenize(text)]

    def decode(self, ids, skip_special=True):
        words = [self.inv[i] for i in ids]
        if skip_special:
            words = [w for w in words if w not in SPECIALS]
        return " ".join(words)

    def id(self, w):
        return self.vocab[w]


def prompt_text(question, image=True):
    """The exact prompt the chat template produces (generation prompt included)."""
    user = ("<image>\n" if image else "") + question
    return f"<s>{SYSTEM} USER: {user} ASSISTANT:"


CHAT_TEMPLATE = (
    "{{ bos_token }}" + SYSTEM +
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %} USER: "
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<image>\n{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{% elif message['role'] == 'assistant' %} ASSISTANT: "
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for item in message['content'] %}{% if item['type'] == 'text' %}{{ item['text'] }}{% endif %}{% endfor %}{% endif %}"
    "{{ eos_token }}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %} ASSISTANT:{% endif %}"
)


# ----------------------------------------------------------------------------------------------
# Model (HF parameter names and semantics).

class LlamaRMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        dtype = x.dtype
        h = x.float() if dtype != torch.float64 else x
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class LlamaAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.nh, self.nkv, self.hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        d = c["hidden_size"]
        self.q_proj = nn.Linear(d, self.nh * self.hd, bias=False)
        self.k_proj = nn.Linear(d, self.nkv * self.hd, bias=False)
        self.v_proj = nn.Linear(d, self.nkv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.nh * self.hd, d, bias=False)

    def forward(self, x, cos, sin, want_probs=False):
        B, N, _ = x.shape
        q = self.q_proj(x).view(B, N, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, N, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, N, self.nkv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.nh // self.nkv  # HF repeat_kv: query head h uses kv head h // rep
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
        mask = torch.ones(N, N, dtype=torch.bool, device=x.device).triu(1)
        scores = scores.masked_fill(mask, float("-inf"))
        probs = torch.softmax(scores.float() if scores.dtype != torch.float64 else scores, -1).to(q.dtype)
        out = (probs @ v).transpose(1, 2).reshape(B, N, self.nh * self.hd)
        return self.o_proj(out), (probs if want_probs else None)


class LlamaMLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, i = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(d, i, bias=False)
        self.up_proj = nn.Linear(d, i, bias=False)
        self.down_proj = nn.Linear(i, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = LlamaRMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.self_attn = LlamaAttention(c)
        self.post_attention_layernorm = LlamaRMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.mlp = LlamaMLP(c)

    def forward(self, x, cos, sin, want_probs=False):
        a, probs = self.self_attn(self.input_layernorm(x), cos, sin, want_probs)
        x = x + a
        x = x + self.mlp(self.post_attention_layernorm(x))
        return x, probs


class LlamaModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(LlamaDecoderLayer(c) for _ in range(c["num_hidden_layers"]))
        self.norm = LlamaRMSNorm(c["hidden_size"], c["rms_norm_eps"])

    def rope(self, n, device, dtype):
        hd = self.c["head_dim"]
        inv_freq = 1.0 / (self.c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.int64).to(
            device=device, dtype=torch.float64 if dtype == torch.float64 else torch.float32) / hd))
        pos = torch.arange(n, device=device, dtype=inv_freq.dtype)
        freqs = pos[:, None] * inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(dtype), emb.sin().to(dtype)

    def forward(self, embeds, want_probs=False, layer_inputs=None):
        """Final hidden states and, per layer, the attention probabilities (None unless
        `want_probs` is True or a collection holding that layer's index). A list passed as
        `layer_inputs` receives each layer's input hidden states (training probes)."""
        cos, sin = self.rope(embeds.shape[1], embeds.device, embeds.dtype)
        x, all_probs = embeds, []
        for i, layer in enumerate(self.layers):
            if layer_inputs is not None:
                layer_inputs.append(x)
            want = want_probs if isinstance(want_probs, bool) else i in want_probs
            x, p = layer(x, cos, sin, want)
            all_probs.append(p)
        return self.norm(x), all_probs


class LlamaForCausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.model = LlamaModel(c)
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)


class CLIPVisionEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["hidden_size"]
        self.class_embedding = nn.Parameter(torch.randn(d) * 0.02)
        self.patch_embedding = nn.Conv2d(c["num_channels"], d, c["patch_size"], c["patch_size"], bias=False)
        n = (c["image_size"] // c["patch_size"]) ** 2 + 1
        self.position_embedding = nn.Embedding(n, d)

    def forward(self, pixel_values):
        p = self.patch_embedding(pixel_values).flatten(2).transpose(1, 2)  # [B, patches, D]
        cls = self.class_embedding.expand(p.shape[0], 1, -1)
        return torch.cat([cls, p], dim=1) + self.position_embedding.weight[None]


class CLIPAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["hidden_size"]
        self.nh = c["num_attention_heads"]
        self.hd = d // self.nh
        self.q_proj, self.k_proj = nn.Linear(d, d), nn.Linear(d, d)
        self.v_proj, self.out_proj = nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x):
        B, N, D = x.shape
        q = (self.q_proj(x) * self.hd ** -0.5).view(B, N, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, N, self.nh, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, N, self.nh, self.hd).transpose(1, 2)
        probs = torch.softmax(q @ k.transpose(-1, -2), -1)
        return self.out_proj((probs @ v).transpose(1, 2).reshape(B, N, D))


class CLIPMLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.fc1 = nn.Linear(c["hidden_size"], c["intermediate_size"])
        self.fc2 = nn.Linear(c["intermediate_size"], c["hidden_size"])

    def forward(self, x):
        h = self.fc1(x)
        return self.fc2(h * torch.sigmoid(1.702 * h))  # quick_gelu


class CLIPEncoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, eps = c["hidden_size"], c["layer_norm_eps"]
        self.self_attn = CLIPAttention(c)
        self.layer_norm1 = nn.LayerNorm(d, eps=eps)
        self.mlp = CLIPMLP(c)
        self.layer_norm2 = nn.LayerNorm(d, eps=eps)

    def forward(self, x):
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class CLIPEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layers = nn.ModuleList(CLIPEncoderLayer(c) for _ in range(c["num_hidden_layers"]))


class CLIPVisionTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, eps = c["hidden_size"], c["layer_norm_eps"]
        self.embeddings = CLIPVisionEmbeddings(c)
        self.pre_layrnorm = nn.LayerNorm(d, eps=eps)
        self.encoder = CLIPEncoder(c)
        self.post_layernorm = nn.LayerNorm(d, eps=eps)


class CLIPVisionModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.vision_model = CLIPVisionTransformer(c)

    def hidden_states(self, pixel_values, upto):
        """[after pre_layrnorm, after layer 1, ...], stopping once index `upto` is reached."""
        vm = self.vision_model
        x = vm.pre_layrnorm(vm.embeddings(pixel_values))
        hs = [x]
        for layer in vm.encoder.layers:
            if len(hs) > upto:
                break
            x = layer(x)
            hs.append(x)
        return hs


class LlavaMultiModalProjector(nn.Module):
    def __init__(self, vd, td):
        super().__init__()
        self.linear_1 = nn.Linear(vd, td)
        self.linear_2 = nn.Linear(td, td)

    def forward(self, x):
        return self.linear_2(F.gelu(self.linear_1(x)))  # exact (erf) gelu


class Llava(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        tc, vc = config["text_config"], config["vision_config"]
        self.vision_tower = CLIPVisionModel(vc)
        self.multi_modal_projector = LlavaMultiModalProjector(vc["hidden_size"], tc["hidden_size"])
        self.language_model = LlamaForCausalLM(tc)
        L = vc["num_hidden_layers"]
        self.feature_index = config["vision_feature_layer"] % (L + 1)

    def image_features(self, pixel_values):
        hs = self.vision_tower.hidden_states(pixel_values, self.feature_index)
        feats = hs[self.feature_index][:, 1:]  # `default` strategy drops CLS
        return feats

    def embed(self, input_ids, pixel_values=None):
        """Token embeddings with each sequence's single <image> token replaced by 64 features."""
        emb = self.language_model.model.embed_tokens(input_ids)
        if pixel_values is None:
            return emb, None
        feats = self.image_features(pixel_values)
        img = self.multi_modal_projector(feats)
        pos = (input_ids == self.config["image_token_index"]).int().argmax(1)
        assert (input_ids == self.config["image_token_index"]).sum(1).eq(1).all()
        p0 = int(pos[0])
        assert (pos == p0).all(), "batch must share the image token position"
        return torch.cat([emb[:, :p0], img, emb[:, p0 + 1:]], dim=1), feats

    def forward(self, input_ids, pixel_values=None, want_probs=False):
        x, feats = self.embed(input_ids, pixel_values)
        h, probs = self.language_model.model(x, want_probs)
        return self.language_model.lm_head(h), feats, probs


def make_config(tok):
    t, v = ARCH["text"], ARCH["vision"]
    return {
        "model_type": "llava",
        "architectures": ["LlavaForConditionalGeneration"],
        "image_token_index": tok.id("<image>"),
        "projector_hidden_act": "gelu",
        "vision_feature_layer": -2,
        "vision_feature_select_strategy": "default",
        "image_seq_length": N_PATCHES,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "text_config": {
            "model_type": "llama", "vocab_size": len(tok.vocab), **t,
            "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "rope_scaling": None,
            "max_position_embeddings": 256, "hidden_act": "silu", "tie_word_embeddings": False,
            "attention_bias": False, "mlp_bias": False,
            "bos_token_id": tok.id("<s>"), "eos_token_id": tok.id("</s>"),
            "pad_token_id": tok.id("<pad>"), "torch_dtype": "float32",
        },
        "vision_config": {
            "model_type": "clip_vision_model", **v, "image_size": IMAGE_SIZE,
            "patch_size": PATCH, "num_channels": 3, "layer_norm_eps": 1e-5,
            "hidden_act": "quick_gelu", "projection_dim": v["hidden_size"],
        },
    }


def init_weights(model):
    for name, p in model.named_parameters():
        if name.endswith("bias"):
            nn.init.zeros_(p)
        elif p.dim() == 1:
            if "class_embedding" in name:
                nn.init.normal_(p, std=0.02)
            else:
                nn.init.ones_(p)
        else:
            nn.init.normal_(p, std=0.02)


# ----------------------------------------------------------------------------------------------
# Data.

def pixel_values_from_uint8(imgs):
    """uint8 [B,64,64,3] -> normalised float [B,3,64,64] (CLIP rescale + normalise)."""
    x = imgs.permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def load_split(split):
    with open(os.path.join(DATA, f"{split}.json")) as f:
        records = json.load(f)
    with open(os.path.join(DATA, f"{split}_scenes.json")) as f:
        scenes = json.load(f)
    raw = open(os.path.join(DATA, f"{split}_images.bin"), "rb").read()
    images = torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(len(scenes), IMAGE_SIZE, IMAGE_SIZE, 3)
    index = {s["id"]: i for i, s in enumerate(scenes)}
    return records, scenes, images, index


def cell_of(px):
    return 0 if px < 21 else (1 if px < 42 else 2)  # cell starts 0, 21, 42 (floor(k*64/3))


def patch_labels(scene):
    """Per patch (row-major 8×8): shape/colour/size/cell class of the object in the patch's
    grid cell (0 = none). Used only by the auxiliary loss."""
    by_cell = {o["cell"]: o for o in scene["objects"]}
    lab = torch.zeros(4, N_PATCHES, dtype=torch.long)
    g = IMAGE_SIZE // PATCH
    for pr in range(g):
        for pc in range(g):
            cell = cell_of(pr * PATCH + PATCH // 2) * 3 + cell_of(pc * PATCH + PATCH // 2)
            o = by_cell.get(cell)
            if o is not None:
                i = pr * g + pc
                lab[0, i] = 1 + SHAPES.index(o["shape"])
                lab[1, i] = 1 + COLORS.index(o["color"])
                lab[2, i] = 1 + SIZES.index(o["size"])
                lab[3, i] = 1 + cell
    return lab


# Shape is the hardest patch property (interior patches of a large square and circle look alike),
# so its auxiliary term counts double.
AUX_WEIGHTS = [2.0, 1.0, 1.0, 1.0]  # shape, colour, size, cell
SIZE_RADIUS = {"small": 4, "large": 8}  # must match lib/data/scenes/generator.ts


def inside_shape(shape, dx, dy, r):
    """Quarter-pixel integer geometry of lib/data/scenes/rasterizer.ts insideShape."""
    if shape == "circle":
        return dx * dx + dy * dy <= r * r
    if shape == "square":
        return (dx.abs() <= r) & (dy.abs() <= r)
    if shape == "diamond":
        return dx.abs() + dy.abs() <= r
    return (dy <= r) & (2 * dx.abs() <= dy + r)  # triangle, apex up


def mask_patch_labels(scene, min_pixels=4):
    """Per patch: shape/colour/size/cell class of the object covering most of the patch's
    pixels (pixel centres inside the shape), if it covers at least `min_pixels`; else none
    (0). Used only by the auxiliary loss."""
    ys, xs = torch.meshgrid(torch.arange(IMAGE_SIZE), torch.arange(IMAGE_SIZE), indexing="ij")
    g = IMAGE_SIZE // PATCH
    lab = torch.zeros(4, N_PATCHES, dtype=torch.long)
    best = torch.zeros(N_PATCHES, dtype=torch.long)
    for o in scene["objects"]:
        m = inside_shape(o["shape"], 4 * xs + 2 - 4 * o["cx"], 4 * ys + 2 - 4 * o["cy"],
                         4 * SIZE_RADIUS[o["size"]])
        counts = m.view(g, PATCH, g, PATCH).sum((1, 3)).reshape(-1).long()
        take = (counts >= min_pixels) & (counts > best)
        best = torch.where(take, counts, best)
        lab[0, take] = 1 + SHAPES.index(o["shape"])
        lab[1, take] = 1 + COLORS.index(o["color"])
        lab[2, take] = 1 + SIZES.index(o["size"])
        lab[3, take] = 1 + o["cell"]
    return lab


def encode_records(tok, records, index):
    out = []
    for r in records:
        q = r["conversations"][0]["value"].replace("<image>\n", "")
        prompt = tok.encode(prompt_text(q))
        answer = tok.encode(r["conversations"][1]["value"]) + [tok.id("</s>")]
        out.append((prompt, answer, index[r["image"][:-4]], r["kind"]))
    return out


PLACES = ["top left", "top", "top right", "left", "center", "right", "bottom left", "bottom",
          "bottom right"]
REF_RE = re.compile(r"^(?:What color is|Where is|Is there) (?:the|a) (.+?)\??$")


def named_attributes(record):
    """The attributes a colour, place or presence question names, e.g. {"shape": "square",
    "size": "large"} for "the large square" or {"shape": "square", "place": "top left"} for "the
    square at the top left"; empty for other questions."""
    m = REF_RE.match(record["conversations"][0]["value"].replace("<image>\n", ""))
    if m is None or record["kind"] not in ("color", "place", "presence"):
        return {}
    phrase = m.group(1)
    place = None
    if " at the " in phrase:
        phrase, place = phrase.split(" at the ")
    words = phrase.split()
    want = {"shape": words[-1]}
    for w in words[:-1]:
        want["size" if w in SIZES else "color"] = w
    if place is not None:
        want["place"] = place
    return want


def referent_cells(record, scene):
    """Grid cells of the objects a colour, place or presence question names (empty for a count
    question or a "no" presence question), matched against the scene attribute by attribute."""
    want = named_attributes(record)
    if not want:
        return []
    return [o["cell"] for o in scene["objects"] if all(o[k] == v for k, v in want.items())]


# Attribute vocabularies of the question probes: class 0 is "not named" / "no such object".
PROBE_VOCABS = [("shape", SHAPES), ("color", COLORS), ("size", SIZES), ("place", PLACES)]
PROBE_SPLITS = [1 + len(v) for _, v in PROBE_VOCABS]


def question_probe_labels(records, scenes, index):
    """Two [records, 4] label sets (shape, colour, size, place; -100 = not supervised) for the
    question-grounding probes at the answering position: what the question names (read before
    the grounded layer), and the named object's attributes (read after it; class 0 when the
    object is absent). Descriptions and count questions are not supervised."""
    named = torch.full((len(records), 4), -100, dtype=torch.long)
    referent = torch.full((len(records), 4), -100, dtype=torch.long)
    for i, r in enumerate(records):
        want = named_attributes(r)
        if not want:
            continue
        named[i] = torch.tensor([1 + v.index(want[k]) if k in want else 0 for k, v in PROBE_VOCABS])
        scene = scenes[index[r["image"][:-4]]]
        cells = referent_cells(r, scene)
        if not cells:
            referent[i] = 0
        elif len(cells) == 1:
            o = next(o for o in scene["objects"] if o["cell"] == cells[0])
            referent[i] = torch.tensor([1 + v.index(o[k]) for k, v in PROBE_VOCABS])
    return named, referent


def grounding_masks(records, scenes, index, labels):
    """[records, 64] 0/1 masks of the image patches covered by each question's referent (the
    auxiliary patch labels' cell channel), all zero when the question names no present object."""
    masks = torch.zeros(len(records), N_PATCHES)
    for i, r in enumerate(records):
        cells = referent_cells(r, scenes[index[r["image"][:-4]]])
        for c in cells:
            masks[i] += (labels[index[r["image"][:-4]], 3] == 1 + c).float()
    return masks


# ----------------------------------------------------------------------------------------------
# Export: safetensors (hand-written), config, tokenizer, preprocessor.

def write_safetensors(path, tensors):
    header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu", torch.float32).contiguous()
        data = t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).view(info["shape"]).clone()
    return out


def tokenizer_json(tok):
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": tok.id(s), "content": s, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for s in SPECIALS
        ],
        "normalizer": None,
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": None,
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": tok.vocab, "unk_token": "<unk>"},
    }


def export(model, tok, out=None):
    out = out or CKPT
    os.makedirs(out, exist_ok=True)
    config = model.config
    write_safetensors(os.path.join(out, "model.safetensors"), model.state_dict())
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(out, "tokenizer.json"), "w") as f:
        json.dump(tokenizer_json(tok), f, indent=2)
    tc = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
        "image_token": "<image>",
        "add_bos_token": False, "add_eos_token": False,
        "model_max_length": config["text_config"]["max_position_embeddings"],
        "chat_template": CHAT_TEMPLATE,
        "added_tokens_decoder": {
            str(tok.id(s)): {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                             "single_word": False, "special": True}
            for s in SPECIALS
        },
    }
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump(tc, f, indent=2)
    pp = {
        "image_processor_type": "CLIPImageProcessor",
        "processor_class": "LlavaProcessor",
        "do_resize": True, "size": {"shortest_edge": IMAGE_SIZE},
        "do_center_crop": True, "crop_size": {"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        "do_rescale": True, "rescale_factor": 1 / 255,
        "do_normalize": True, "image_mean": CLIP_MEAN, "image_std": CLIP_STD,
        "do_convert_rgb": True, "resample": 3,
    }
    with open(os.path.join(out, "preprocessor_config.json"), "w") as f:
        json.dump(pp, f, indent=2)
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": tok.id("<s>"), "eos_token_id": tok.id("</s>"),
                   "pad_token_id": tok.id("<pad>")}, f, indent=2)


def load_exported(path=None):
    path = path or CKPT
    with open(os.path.join(path, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(path, "tokenizer.json")) as f:
        tok = WordTokenizer(json.load(f)["model"]["vocab"])
    model = Llava(config)
    model.load_state_dict(read_safetensors(os.path.join(path, "model.safetensors")))
    return model.eval(), tok


# ----------------------------------------------------------------------------------------------
# Training.

def lr_at(step, total, peak, phase_start=0):
    """Linear warm-up (100 steps) then cosine to 10% of `peak` at `total`; a phase restarts the
    schedule at `phase_start` (50 warm-up steps, cosine over the phase's remaining steps)."""
    warmup = 100
    if step >= phase_start > 0:
        step, total, warmup = step - phase_start, total - phase_start, 50
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def pad_records(seqs, pad_id):
    """Pads (prompt, answer, image index, ...) records into one batch: token ids, next-token
    targets on the answer only (-100 elsewhere), image indices and each prompt's last position."""
    n = max(len(p) + len(a) for p, a, *_ in seqs)
    ids = torch.full((len(seqs), n), pad_id, dtype=torch.long)
    target = torch.full((len(seqs), n), -100, dtype=torch.long)
    for b, (p, a, *_) in enumerate(seqs):
        full = p + a
        ids[b, :len(full)] = torch.tensor(full)
        # position t predicts token t+1: supervise only answer tokens (+ eos)
        target[b, len(p) - 1:len(full) - 1] = torch.tensor(a)
    img_idx = torch.tensor([s[2] for s in seqs])
    last = torch.tensor([len(p) - 1 for p, *_ in seqs])  # position answering the prompt
    return ids, target, img_idx, last


def make_batch(encoded, by_kind, images, labels, step, batch, seed, device, pad_id, n_describe,
               short_mix=None):
    """One training batch: the first `n_describe` records are descriptions (the hard task), the
    rest short questions, drawn uniformly or, with `short_mix` ({kind: weight}), kind first."""
    g = torch.Generator().manual_seed(seed * 1000003 + step)
    picks = []
    kinds = sorted(short_mix) if short_mix else []
    weights = torch.tensor([float(short_mix[k]) for k in kinds]) if short_mix else None
    for b in range(batch):
        if b < n_describe:
            pool = by_kind["describe"]
        elif short_mix:
            pool = by_kind[kinds[int(torch.multinomial(weights, 1, generator=g))]]
        else:
            pool = by_kind["short"]
        picks.append(pool[int(torch.randint(len(pool), (1,), generator=g))])
    ids, target, img_idx, last = pad_records([encoded[i] for i in picks], pad_id)
    return (ids.to(device), pixel_values_from_uint8(images[img_idx]).to(device),
            target.to(device), labels[img_idx].to(device), torch.tensor(picks), last)


def train(args):
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    records, scenes, images, index = load_split("train")
    tok = WordTokenizer.build([prompt_text(r["conversations"][0]["value"].replace("<image>\n", ""))
                               + " " + r["conversations"][1]["value"] for r in records])
    encoded = encode_records(tok, records, index)
    by_kind = {"describe": [i for i, e in enumerate(encoded) if e[3] == "describe"],
               "short": [i for i, e in enumerate(encoded) if e[3] != "describe"]}
    for kind in ("count", "color", "place", "presence"):
        by_kind[kind] = [i for i, e in enumerate(encoded) if e[3] == kind]
    short_mix = None
    if args.short_mix:
        short_mix = {k: float(w) for k, w in (part.split("=") for part in args.short_mix.split(","))}
        unknown = set(short_mix) - {"count", "color", "place", "presence"}
        assert not unknown, f"--short-mix: unknown kinds {sorted(unknown)}"
    label_fn = mask_patch_labels if args.aux_labels == "mask" else patch_labels
    labels = torch.stack([label_fn(s) for s in scenes])  # [S, 4, 64]
    ground = grounding_masks(records, scenes, index, labels)  # [records, 64]
    named_lab, referent_lab = question_probe_labels(records, scenes, index)
    config = make_config(tok)
    model = Llava(config)
    init_weights(model)
    vd = config["vision_config"]["hidden_size"]
    aux_head = nn.Linear(vd, 1 + len(SHAPES) + 1 + len(COLORS) + 1 + len(SIZES) + 1 + 9)
    model.to(device)
    aux_head.to(device)
    params = list(model.parameters()) + list(aux_head.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.98), weight_decay=0.01)
    # Question-grounding probes (not exported): linear heads at the answering position that read
    # what the question names (input of the grounded layer) and the named object's attributes
    # (input of the next layer). Their own optimiser, so states from before them still load.
    td = config["text_config"]["hidden_size"]
    probes = nn.ModuleDict({"named": nn.Linear(td, sum(PROBE_SPLITS)),
                            "referent": nn.Linear(td, sum(PROBE_SPLITS))}).to(device)
    opt_probes = torch.optim.AdamW(probes.parameters(), lr=args.lr, betas=(0.9, 0.98), weight_decay=0.01)
    step, elapsed = 0, 0.0
    os.makedirs(STATE_DIR, exist_ok=True)
    state_path = os.path.join(STATE_DIR, "latest.pt")
    if os.path.exists(state_path):
        st = torch.load(state_path, map_location=device)
        model.load_state_dict(st["model"])
        aux_head.load_state_dict(st["aux_head"])
        opt.load_state_dict(st["opt"])
        if "probes" in st:
            probes.load_state_dict(st["probes"])
            opt_probes.load_state_dict(st["opt_probes"])
        step, elapsed = st["step"], st["elapsed"]
        assert st["vocab"] == tok.vocab, "vocabulary changed since the saved state"
        print(f"resumed from step {step} ({elapsed:.0f}s)", flush=True)
    nparams = sum(p.numel() for p in model.parameters())
    print(f"params {nparams} vocab {len(tok.vocab)} device {device} records {len(encoded)}", flush=True)
    header = "step,loss,lm_loss,aux_loss,ground_loss,lr,elapsed_s\n"
    new_log = not os.path.exists(LOG) or step == 0
    if not new_log:
        with open(LOG) as f:
            lines = f.readlines()
        rows = [l for l in lines[1:] if int(l.split(",")[0]) <= step]  # drop rows past the state
        if "ground_loss" not in lines[0]:  # a log from before the grounding loss: add its column
            rows = [",".join(l.strip().split(",")[:4] + ["0"] + l.strip().split(",")[4:]) + "\n"
                    for l in rows]
        with open(LOG, "w") as f:
            f.writelines([header] + rows)
    log = open(LOG, "w" if new_log else "a")
    if new_log:
        log.write(header)
    splits = [1 + len(SHAPES), 1 + len(COLORS), 1 + len(SIZES), 1 + 9]
    model.train()
    t0 = time.time() - elapsed
    while step < args.steps:
        lr = lr_at(step, args.steps, args.lr, phase_start=args.phase_start)
        for grp in opt.param_groups + opt_probes.param_groups:
            grp["lr"] = lr
        ids, pix, target, plab, picks, last = make_batch(
            encoded, by_kind, images, labels, step, args.batch, args.seed, device,
            tok.id("<pad>"), round(args.batch * (1 - args.short_fraction)), short_mix)
        emb, feats = model.embed(ids, pix)
        grounding = args.ground_weight > 0
        layer_inputs = [] if grounding else None
        h, probs = model.language_model.model(emb, {args.ground_layer} if grounding else False,
                                               layer_inputs)
        logits = model.language_model.lm_head(h)
        # expand targets to the merged sequence (image token -> 64 positions, never supervised)
        p0 = int((ids == config["image_token_index"]).int().argmax(1)[0])
        pad = torch.full((ids.shape[0], N_PATCHES - 1), -100, dtype=torch.long, device=device)
        tgt = torch.cat([target[:, :p0], pad, target[:, p0:]], dim=1)
        if step >= args.answer_mean_from:
            # Mean over each answer's tokens, then over the batch: a one-word short answer then
            # weighs as much as a 40-token description (per-token averaging starves it).
            tok_loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1),
                                       ignore_index=-100, reduction="none").view(tgt.shape)
            mask = (tgt != -100).float()
            lm_loss = ((tok_loss * mask).sum(1) / mask.sum(1).clamp(min=1)).mean()
        else:
            lm_loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1),
                                      ignore_index=-100)
        aux = aux_head(feats)
        aux_loss = 0.0
        for k, part in enumerate(torch.split(aux, splits, dim=-1)):
            ce = F.cross_entropy(part.reshape(-1, part.shape[-1]), plab[:, k].reshape(-1))
            aux_loss = aux_loss + AUX_WEIGHTS[k] * ce
        loss = lm_loss + aux_loss
        ground_loss = torch.zeros((), device=device)
        if grounding:
            # Question grounding: one head, at the position that answers, should put its
            # attention on the patches of the object the question names.
            rows = torch.arange(ids.shape[0])
            attn = probs[args.ground_layer][rows, args.ground_head, last + N_PATCHES - 1, p0:p0 + N_PATCHES]
            want = ground[picks].to(device)
            has = want.sum(1) > 0
            if has.any():
                mass = (attn * want).sum(1)[has]
                ground_loss = -torch.log(mass + 1e-6).mean()
            # ... and the answering position should know what the question names before that
            # layer, and the named object's attributes after it.
            for name, lab, at in (("named", named_lab, args.ground_layer),
                                  ("referent", referent_lab, args.ground_layer + 1)):
                out = probes[name](layer_inputs[at][rows, last + N_PATCHES - 1])
                y = lab[picks].to(device)
                for k, part in enumerate(torch.split(out, PROBE_SPLITS, dim=-1)):
                    if (y[:, k] != -100).any():
                        ground_loss = ground_loss + F.cross_entropy(part, y[:, k], ignore_index=-100)
            loss = loss + args.ground_weight * ground_loss
        opt.zero_grad(set_to_none=True)
        opt_probes.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if grounding:
            opt_probes.step()
        step += 1
        elapsed = time.time() - t0
        if step % 10 == 0 or step == 1:
            log.write(f"{step},{loss.item():.5f},{lm_loss.item():.5f},{aux_loss.item():.5f},"
                      f"{ground_loss.item():.5f},{lr:.6g},{elapsed:.1f}\n")
            log.flush()
            print(f"step {step} loss {loss.item():.4f} lm {lm_loss.item():.4f} aux {aux_loss.item():.4f} "
                  f"ground {ground_loss.item():.4f} "
                  f"lr {lr:.2e} {elapsed:.0f}s", flush=True)
        if step % args.save_every == 0 or step == args.steps:
            tmp = state_path + ".tmp"
            torch.save({"model": model.state_dict(), "aux_head": aux_head.state_dict(),
                        "opt": opt.state_dict(), "probes": probes.state_dict(),
                        "opt_probes": opt_probes.state_dict(), "step": step, "elapsed": elapsed,
                        "vocab": tok.vocab}, tmp)
            os.replace(tmp, state_path)
    log.close()
    model.eval().cpu()
    export(model, tok)
    print(f"exported to {CKPT}", flush=True)


def export_only(args):
    records, _, _, _ = load_split("train")
    st = torch.load(os.path.join(STATE_DIR, "latest.pt"), map_location="cpu")
    tok = WordTokenizer(st["vocab"])
    model = Llava(make_config(tok))
    model.load_state_dict(st["model"])
    export(model.eval(), tok)
    print(f"exported step {st['step']} to {CKPT}")


# ----------------------------------------------------------------------------------------------
# Evaluation (greedy decoding on held-out scenes).

@torch.no_grad()
def greedy(model, ids, pix, eos, max_new=56):
    """Batched greedy decoding without a cache (all prompts in the batch have equal length)."""
    out = [[] for _ in range(ids.shape[0])]
    done = torch.zeros(ids.shape[0], dtype=torch.bool)
    for _ in range(max_new):
        logits, _, _ = model(ids, pix)
        nxt = logits[:, -1].argmax(-1)
        for b in range(ids.shape[0]):
            if not done[b]:
                if int(nxt[b]) == eos:
                    done[b] = True
                else:
                    out[b].append(int(nxt[b]))
        if done.all():
            break
        ids = torch.cat([ids, nxt[:, None]], dim=1)
    return out


def normalize(text):
    t = re.sub(r"\s+", " ", text.lower())
    return re.sub(r"\s+([.,?!])", r"\1", t).strip()


OBJ_RE = re.compile(r"^an? (small|large) (\w+) (\w+) is at the (.+)$")
COUNT_WORDS = ["zero", "one", "two", "three", "four"]


def score_description(scene, text):
    """Mirror of lib/data/scenes/parser.ts scoreDescription."""
    sents = [s.strip() for s in normalize(text).split(".") if s.strip()]
    stated, count, unparsed = [], None, 0
    for s in sents:
        m = OBJ_RE.match(s)
        if m:
            stated.append(m.groups())
            continue
        m = re.match(r"^there (?:is|are) (\w+) objects?$", s)
        if m and count is None and m.group(1) in COUNT_WORDS:
            count = COUNT_WORDS.index(m.group(1))
        else:
            unparsed += 1
    truth = [(o["size"], o["color"], o["shape"], o["place"]) for o in scene["objects"]]
    unmatched, invented = list(truth), 0
    for d in stated:
        if d in unmatched:
            unmatched.remove(d)
        else:
            invented += 1
    right = len(truth) - len(unmatched)
    exact = right == len(truth) and invented == 0 and count == len(truth) and unparsed == 0
    return right, len(truth), invented, exact


def evaluate(args, model=None, tok=None):
    if model is None:
        model, tok = load_exported()
    torch.set_grad_enabled(False)
    records, scenes, images, index = load_split("test")
    n = args.eval_scenes
    records = [r for r in records if index[r["image"][:-4]] < n]
    encoded = encode_records(tok, records, index)
    groups = {}
    for r, e in zip(records, encoded):
        groups.setdefault(len(e[0]), []).append((r, e))
    eos = tok.id("</s>")
    results = []
    for _, items in sorted(groups.items()):
        for s in range(0, len(items), 128):
            chunk = items[s:s + 128]
            ids = torch.tensor([e[0] for _, e in chunk])
            pix = pixel_values_from_uint8(images[torch.tensor([e[2] for _, e in chunk])])
            outs = greedy(model, ids, pix, eos)
            for (r, e), o in zip(chunk, outs):
                results.append((r, e, tok.decode(o)))
    objs_right = objs_total = desc_clean = desc_n = desc_exact = 0
    short = {}
    samples = []
    for r, e, text in results:
        expected = r["conversations"][1]["value"]
        if r["kind"] == "describe":
            right, total, invented, exact = score_description(scenes[e[2]], text)
            objs_right += right
            objs_total += total
            desc_clean += invented == 0
            desc_exact += exact
            desc_n += 1
            if len(samples) < 5:
                samples.append({"expected": expected, "got": text})
        else:
            ok = normalize(expected) == normalize(text)
            c = short.setdefault(r["kind"], [0, 0])
            c[0] += ok
            c[1] += 1
    short_right = sum(c[0] for c in short.values())
    short_total = sum(c[1] for c in short.values())
    report = {
        "test_scenes": n,
        "objects_fully_right": objs_right / objs_total,
        "descriptions_without_invented_object": desc_clean / desc_n,
        "descriptions_exact": desc_exact / desc_n,
        "short_questions_right": short_right / short_total,
        "short_by_kind": {k: c[0] / c[1] for k, c in sorted(short.items())},
        "counts": {"descriptions": desc_n, "objects": objs_total, "short_questions": short_total},
        "samples": samples,
    }
    print(json.dumps(report, indent=1))
    with open(os.path.join(OUT_DIR, "eval.json"), "w") as f:
        json.dump(report, f, indent=1)
    return report


# ----------------------------------------------------------------------------------------------
# Golden fixtures for the runtime (computed in float64 from the exported checkpoint).

def r8(x):
    return [float(f"{v:.9g}") for v in x]


@torch.no_grad()
def write_golden(args):
    import shutil
    model, tok = load_exported()
    model = copy.deepcopy(model).double()
    records, scenes, images, index = load_split("test")
    os.makedirs(GOLDEN, exist_ok=True)
    place = next(r for r in records if r["kind"] == "place" and index[r["image"][:-4]] >= 1)
    cases = [
        ("describe_image", "test-000000.png", "Describe the image in detail."),
        ("place_question", place["image"], place["conversations"][0]["value"].replace("<image>\n", "")),
        ("text_only", None, "How many objects are there?"),
    ]
    manifest = []
    for name, image, question in cases:
        text = prompt_text(question, image is not None)
        ids = tok.encode(text)
        pix = None
        if image is not None:
            shutil.copyfile(os.path.join(DATA, "images", image), os.path.join(GOLDEN, f"{name}.png"))
            pix = pixel_values_from_uint8(images[index[image[:-4]]][None]).double()
        x = torch.tensor([ids])
        logits, _, probs = model(x, pix, want_probs=True)
        importance = [p[0].mean(0).sum(0).tolist() for p in probs]  # head-avg, summed over queries
        greedy_ids, step_logits = [], []
        nxt = int(logits[0, -1].argmax())
        seq = x
        for _ in range(10):
            greedy_ids.append(nxt)
            seq = torch.cat([seq, torch.tensor([[nxt]])], dim=1)
            lg, _, _ = model(seq, pix)
            step_logits.append(r8(lg[0, -1].tolist()))
            nxt = int(lg[0, -1].argmax())
        out = {
            "name": name,
            "prompt": text,
            "image": f"{name}.png" if image else None,
            "input_ids": ids,
            "image_token_index": model.config["image_token_index"],
            "image_seq_length": N_PATCHES,
            "merged_length": logits.shape[1],
            "prefill_logits": [r8(row) for row in logits[0].tolist()],
            "greedy_ids": greedy_ids,
            "greedy_text": tok.decode(greedy_ids, skip_special=False),
            "step_logits": step_logits,
            "importance": [r8(v) for v in importance],
            "notes": "float64 reference from the exported checkpoint. prefill_logits: [merged_length, vocab] "
                     "over the merged sequence (the <image> token replaced by image_seq_length features). "
                     "greedy_ids[0] = argmax of the last prefill row; step_logits[k] = logits after "
                     "appending greedy_ids[k]; greedy_ids[k+1] = argmax(step_logits[k]). Decoding "
                     "continues past </s>. importance[layer][j] = sum over query positions i of the "
                     "head-averaged causal attention probability of i attending to j (prefill).",
        }
        with open(os.path.join(GOLDEN, f"{name}.json"), "w") as f:
            json.dump(out, f, separators=(",", ":"))
        manifest.append({"name": name, "file": f"{name}.json", "tokens": len(ids), "greedy_text": out["greedy_text"]})
        print(name, len(ids), out["greedy_text"])
    with open(os.path.join(GOLDEN, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--save-every", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-scenes", type=int, default=200)
    ap.add_argument("--aux-labels", choices=["mask", "cell"], default="mask",
                    help="auxiliary patch labels: object covering the patch, or object in its grid cell")
    ap.add_argument("--vision-layers", type=int, default=4,
                    help="CLIP layers (features come from the second-to-last)")
    ap.add_argument("--shape-aux-weight", type=float, default=2.0)
    ap.add_argument("--answer-mean-from", type=int, default=3000,
                    help="from this step on, average the loss per answer instead of per token")
    ap.add_argument("--phase-start", type=int, default=0,
                    help="restart the lr schedule (50 warm-up steps, then cosine) at this step")
    ap.add_argument("--short-fraction", type=float, default=0.5,
                    help="share of each batch that are short questions (the rest descriptions)")
    ap.add_argument("--short-mix", default="",
                    help="weights of the short-question kinds, e.g. count=1,color=1,place=1,presence=2 "
                         "(default: uniform over records)")
    ap.add_argument("--ground-weight", type=float, default=0.0,
                    help="weight of the question-grounding loss (0 = off)")
    ap.add_argument("--ground-layer", type=int, default=3,
                    help="language-model layer whose head is grounded")
    ap.add_argument("--ground-head", type=int, default=0, help="the grounded head")
    ap.add_argument("--data", default=os.path.join(HERE, "data"),
                    help="folder with the scenes (from `deno task scenes`) and the training state")
    ap.add_argument("--out", default=HERE,
                    help="folder for checkpoint/, train_log.csv and eval.json")
    ap.add_argument("--export-only", action="store_true")
    ap.add_argument("--eval-only", action="store_true")
    ap.add_argument("--golden-only", action="store_true")
    args = ap.parse_args()
    set_paths(os.path.abspath(args.data), os.path.abspath(args.out))
    torch.set_num_threads(args.threads)
    ARCH["vision"]["num_hidden_layers"] = args.vision_layers
    AUX_WEIGHTS[0] = args.shape_aux_weight
    if args.export_only:
        export_only(args)
    elif args.eval_only:
        evaluate(args)
    elif args.golden_only:
        write_golden(args)
    else:
        train(args)
        evaluate(args)
        write_golden(args)


if __name__ == "__main__":
    main()
