#!/usr/bin/env python3
"""Train the v3 tiny LLaVA (issue 11): 224×224 `rich` scenes read at patch 16 (196 image tokens),
a 6-layer CLIP tower tapped at its penultimate layer, an 8-layer GQA LLaMA; export in the
llava-hf layout that HF transformers loads as shipped.

The model code, tokenizer, safetensors writer and question-grounding labels are the v1 script's
(experiments/tiny-llava/train.py, imported, unchanged); this file holds what differs: the
architecture, the scenes (made here by scenes.py, byte-identical to `deno task scenes --style
rich`, since the GPU machine has no Deno), the patch labels at 14×14, a time budget, bf16 on
CUDA, batched evaluation and the HF check.

Modes:
  (default)       train (resuming from --data/state/latest.pt), export, evaluate
  --estimate      print parameters, FLOPs per step and the checkpoint size, then exit
  --export-only   export from the latest state;  --eval-only  evaluate the export
  --check-hf      after training: load the export with transformers and compare logits
  --hf-only       only that check
  --check-scenes DIR  compare scenes.py with `deno task scenes --style rich` output in DIR
"""
import argparse
import importlib.util
import json
import math
import os
import re
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import scenes as S  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "tiny_llava_v1", os.path.join(ROOT, "experiments", "tiny-llava", "train.py"))
v1 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(v1)

IMAGE_SIZE, PATCH = S.RICH["image_size"], 16
GRID = IMAGE_SIZE // PATCH
N_PATCHES = GRID * GRID  # 196, as CLIP-B/16 at 224
ARCH = dict(
    text=dict(hidden_size=128, intermediate_size=352, num_hidden_layers=8,
              num_attention_heads=4, num_key_value_heads=2, head_dim=32),
    vision=dict(hidden_size=128, intermediate_size=512, num_hidden_layers=6,
                num_attention_heads=4),
)
FEATURE_LAYER = -2  # LLaVA taps CLIP's penultimate layer; so does this model (layer 5 of 6)
MAX_POSITIONS = 512
SPLITS = {"train": 1, "test": 3}  # split -> seed, as for the v1 scenes
AUX_SPLITS = [1 + len(S.SHAPES), 1 + len(S.COLOR_NAMES), 1 + len(S.SIZES), 1 + 9]
AUX_WEIGHTS = [2.0, 1.0, 1.0, 1.0]  # shape counts double, as in v1


def make_config(tok):
    t, v = ARCH["text"], ARCH["vision"]
    return {
        "model_type": "llava",
        "architectures": ["LlavaForConditionalGeneration"],
        "image_token_index": tok.id("<image>"),
        "projector_hidden_act": "gelu",
        "vision_feature_layer": FEATURE_LAYER,
        "vision_feature_select_strategy": "default",
        "image_seq_length": N_PATCHES,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "text_config": {
            "model_type": "llama", "vocab_size": len(tok.vocab), **t,
            "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "rope_scaling": None,
            "max_position_embeddings": MAX_POSITIONS, "hidden_act": "silu",
            "tie_word_embeddings": False, "attention_bias": False, "mlp_bias": False,
            "bos_token_id": tok.id("<s>"), "eos_token_id": tok.id("</s>"),
            "pad_token_id": tok.id("<pad>"), "torch_dtype": "float32",
        },
        "vision_config": {
            "model_type": "clip_vision_model", **v, "image_size": IMAGE_SIZE,
            "patch_size": PATCH, "num_channels": 3, "layer_norm_eps": 1e-5,
            "hidden_act": "quick_gelu", "projection_dim": v["hidden_size"],
        },
    }


# ----------------------------------------------------------------------------------------------
# Size and compute estimate (analytic; matches the parameter count of the built model).

def estimate(vocab=77, batch=64, text_tokens=40):
    """Parameters, checkpoint bytes and training FLOPs per step (forward + backward = 3× the
    forward's 2·params·tokens matmul FLOPs, plus attention scores and mixing)."""
    t, v = ARCH["text"], ARCH["vision"]
    d, i, L = t["hidden_size"], t["intermediate_size"], t["num_hidden_layers"]
    hd, nh, nkv = t["head_dim"], t["num_attention_heads"], t["num_key_value_heads"]
    lm_layer = d * nh * hd * 2 + d * nkv * hd * 2 + 3 * d * i + 2 * d
    lm = L * lm_layer + 2 * vocab * d + d
    vd, vi, vL = v["hidden_size"], v["intermediate_size"], v["num_hidden_layers"]
    v_layer = 4 * (vd * vd + vd) + 2 * vd * vi + vi + vd + 4 * vd
    vis = vL * v_layer + 3 * PATCH * PATCH * vd + vd + (N_PATCHES + 1) * vd + 4 * vd
    proj = vd * d + d + d * d + d
    used_vision_layers = vL + 1 + FEATURE_LAYER  # layers after the tapped one never run
    n_lm = N_PATCHES + text_tokens
    fwd = (2 * (used_vision_layers * v_layer) * (N_PATCHES + 1)
           + 4 * used_vision_layers * (N_PATCHES + 1) ** 2 * vd
           + 2 * proj * N_PATCHES
           + 2 * (L * lm_layer + vocab * d) * n_lm + 4 * L * n_lm ** 2 * nh * hd)
    params = lm + vis + proj
    return {"params": params, "lm_params": lm, "vision_params": vis, "projector_params": proj,
            "checkpoint_bytes_f32": 4 * params, "prompt_entries": n_lm,
            "flops_per_sample_fwd": fwd, "flops_per_step_train": 3 * fwd * batch, "batch": batch}


# ----------------------------------------------------------------------------------------------
# Data: rich scenes made in-process (scenes.py), patch labels at the model's 14×14 grid.

def patch_labels(scene, min_subsamples=64):
    """[4, 196] shape/colour/size/cell class (0 = none) of the object covering most of each
    16×16 patch, counted in rasterizer sub-samples (4 per pixel; at least 16 pixels' worth)."""
    lab = np.zeros((4, N_PATCHES), dtype=np.int64)
    best = np.zeros(N_PATCHES, dtype=np.int64)
    for o in scene["objects"]:
        full = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.int64)
        y0, x0, n = S.coverage(o, IMAGE_SIZE, S.RICH["radius"][o["size"]])
        full[y0:y0 + n.shape[0], x0:x0 + n.shape[1]] = n
        counts = full.reshape(GRID, PATCH, GRID, PATCH).sum((1, 3)).reshape(-1)
        take = (counts >= min_subsamples) & (counts > best)
        best = np.where(take, counts, best)
        lab[0, take] = 1 + S.SHAPES.index(o["shape"])
        lab[1, take] = 1 + S.COLOR_NAMES.index(o["color"])
        lab[2, take] = 1 + S.SIZES.index(o["size"])
        lab[3, take] = 1 + o["cell"]
    return lab


def _labelled_item(job):
    scene, image, records = S.split_item(job)
    return scene, image, records, patch_labels(scene)


def load_split(split, count, workers):
    """Scenes, images uint8 [N,224,224,3], records, index (id -> scene) and labels [N,4,196]."""
    t0 = time.time()
    jobs = [(split, SPLITS[split], i) for i in range(count)]
    if workers > 1:
        import multiprocessing as mp
        with mp.get_context("fork").Pool(workers) as pool:
            items = pool.map(_labelled_item, jobs, chunksize=32)
    else:
        items = [_labelled_item(j) for j in jobs]
    scenes = [it[0] for it in items]
    images = torch.from_numpy(np.stack([it[1] for it in items]))
    records = [r for it in items for r in it[2]]
    labels = torch.from_numpy(np.stack([it[3] for it in items]))
    index = {s["id"]: i for i, s in enumerate(scenes)}
    print(f"{split}: {count} scenes, {len(records)} records in {time.time() - t0:.1f}s", flush=True)
    return scenes, images, records, index, labels


def pixel_values(imgs_uint8):
    """uint8 [B,224,224,3] (any device) -> CLIP-normalised float [B,3,224,224]."""
    x = imgs_uint8.permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(v1.CLIP_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(v1.CLIP_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def build_tokenizer(records):
    """v1's word-level tokenizer over the records, plus every count word (both cases), so that a
    small split lacking a six-object scene still gets the full vocabulary."""
    texts = [v1.prompt_text(r["conversations"][0]["value"].replace("<image>\n", "")) + " "
             + r["conversations"][1]["value"] for r in records]
    counts = " ".join(w + " " + w.capitalize() for w in S.COUNT_WORDS[1:])
    return v1.WordTokenizer.build(texts + [counts])


def encode_records(tok, records, index):
    out = []
    for r in records:
        q = r["conversations"][0]["value"].replace("<image>\n", "")
        prompt = tok.encode(v1.prompt_text(q))
        answer = tok.encode(r["conversations"][1]["value"]) + [tok.id("</s>")]
        out.append((prompt, answer, index[r["image"][:-4]], r["kind"]))
    return out


def grounding_masks(records, index, labels):
    """[records, 196] masks of the patches of each question's referent (v1's definition)."""
    masks = torch.zeros(len(records), N_PATCHES)
    for i, r in enumerate(records):
        s = index[r["image"][:-4]]
        for c in GROUND_CELLS[i]:
            masks[i] += (labels[s, 3] == 1 + c).float()
    return masks


GROUND_CELLS = []


def make_batch(encoded, by_kind, step, batch, seed, n_describe, pad_id):
    g = torch.Generator().manual_seed(seed * 1000003 + step)
    picks = []
    for b in range(batch):
        pool = by_kind["describe"] if b < n_describe else by_kind["short"]
        picks.append(pool[int(torch.randint(len(pool), (1,), generator=g))])
    ids, target, img_idx, last = v1.pad_records([encoded[i] for i in picks], pad_id)
    return ids, target, img_idx, torch.tensor(picks), last


# ----------------------------------------------------------------------------------------------
# Training.

def paths(args):
    state_dir = os.path.join(args.data, "state")
    return state_dir, os.path.join(state_dir, "latest.pt"), os.path.join(args.out, "checkpoint")


def train(args):
    torch.manual_seed(args.seed)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    scenes, images, records, index, labels = load_split("train", args.train_scenes, args.workers)
    tok = build_tokenizer(records)
    encoded = encode_records(tok, records, index)
    by_kind = {"describe": [i for i, e in enumerate(encoded) if e[3] == "describe"],
               "short": [i for i, e in enumerate(encoded) if e[3] != "describe"]}
    GROUND_CELLS[:] = [v1.referent_cells(r, scenes[index[r["image"][:-4]]]) for r in records]
    ground = grounding_masks(records, index, labels).to(device)
    named_lab, referent_lab = v1.question_probe_labels(records, scenes, index)
    named_lab, referent_lab = named_lab.to(device), referent_lab.to(device)
    images, labels = images.to(device), labels.to(device)
    config = make_config(tok)
    model = v1.Llava(config)
    v1.init_weights(model)
    vd, td = config["vision_config"]["hidden_size"], config["text_config"]["hidden_size"]
    aux_head = nn.Linear(vd, sum(AUX_SPLITS))
    probes = nn.ModuleDict({"named": nn.Linear(td, sum(v1.PROBE_SPLITS)),
                            "referent": nn.Linear(td, sum(v1.PROBE_SPLITS))})
    for m in (model, aux_head, probes):
        m.to(device)
    params = list(model.parameters()) + list(aux_head.parameters()) + list(probes.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.98), weight_decay=0.01,
                            fused=device.type == "cuda")
    state_dir, state_path, _ = paths(args)
    os.makedirs(state_dir, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    step, elapsed, planned = 0, 0.0, args.steps
    if os.path.exists(state_path):
        st = torch.load(state_path, map_location=device)
        assert st["vocab"] == tok.vocab, "vocabulary changed since the saved state"
        assert st["arch"] == ARCH, "architecture changed since the saved state"
        model.load_state_dict(st["model"])
        aux_head.load_state_dict(st["aux_head"])
        probes.load_state_dict(st["probes"])
        opt.load_state_dict(st["opt"])
        step, elapsed, planned = st["step"], st["elapsed"], st["planned_steps"]
        if args.steps and args.steps != planned:
            planned = args.steps  # an explicit --steps extends (or shortens) the schedule
        print(f"resumed from step {step} of {planned} ({elapsed:.0f}s)", flush=True)
    est = estimate(len(tok.vocab), args.batch)
    nparams = sum(p.numel() for p in model.parameters())
    assert nparams == est["params"], f"estimate {est['params']} != built {nparams}"
    print(f"params {nparams} ({4 * nparams / 2**20:.1f} MiB f32) vocab {len(tok.vocab)} "
          f"device {device} records {len(encoded)} "
          f"train GFLOP/step {est['flops_per_step_train'] / 1e9:.0f}", flush=True)
    log_path = os.path.join(args.out, "train_log.csv")
    header = "step,loss,lm_loss,aux_loss,ground_loss,lr,elapsed_s\n"
    rows = []
    if step > 0 and os.path.exists(log_path):
        with open(log_path) as f:
            rows = [l for l in f.readlines()[1:] if int(l.split(",")[0]) <= step]
    with open(log_path, "w") as f:
        f.writelines([header] + rows)
    log = open(log_path, "a")
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" \
        else torch.autocast("cpu", enabled=False)
    pad_id, img_id = tok.id("<pad>"), config["image_token_index"]
    n_describe = round(args.batch * (1 - args.short_fraction))
    gl = args.ground_layer
    model.train()
    t0 = time.time() - elapsed
    deadline = time.time() + 60 * args.max_minutes if args.max_minutes else None
    if planned == 0 and not args.max_minutes:
        raise SystemExit("--steps 0 (fit the time budget) needs --max-minutes")
    timing_from = None
    while planned == 0 or step < planned:
        # With --steps 0 the schedule's length is fixed once steps 20..60 have been timed (the
        # warm-up's first 100 steps do not depend on it): as many steps as fit the budget.
        if planned == 0 and step == 20:
            timing_from = (time.time(), step)
        if planned == 0 and step == 60:
            if device.type == "cuda":
                torch.cuda.synchronize()
            per_step = (time.time() - timing_from[0]) / (step - timing_from[1])
            left = deadline - time.time()
            planned = step + max(1, int(0.97 * left / per_step))
            print(f"{per_step * 1000:.1f} ms/step: planning {planned} steps", flush=True)
        lr = v1.lr_at(step, planned or 10 ** 9, args.lr)
        for grp in opt.param_groups:
            grp["lr"] = lr
        ids, target, img_idx, picks, last = make_batch(
            encoded, by_kind, step, args.batch, args.seed, n_describe, pad_id)
        ids, target = ids.to(device), target.to(device)
        pix = pixel_values(images[img_idx.to(device)])
        with autocast:
            emb, feats = model.embed(ids, pix)
            layer_inputs = []
            h, probs = model.language_model.model(emb, {gl}, layer_inputs)
            logits = model.language_model.lm_head(h)
        logits, feats = logits.float(), feats.float()
        p0 = int((ids == img_id).int().argmax(1)[0])
        pad = torch.full((ids.shape[0], N_PATCHES - 1), -100, dtype=torch.long, device=device)
        tgt = torch.cat([target[:, :p0], pad, target[:, p0:]], dim=1)
        # Per-answer mean (v1 found it essential for one-word answers), from the start.
        tok_loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1),
                                   ignore_index=-100, reduction="none").view(tgt.shape)
        mask = (tgt != -100).float()
        lm_loss = ((tok_loss * mask).sum(1) / mask.sum(1).clamp(min=1)).mean()
        aux = aux_head(feats)
        aux_loss = sum(AUX_WEIGHTS[k] * F.cross_entropy(part.reshape(-1, part.shape[-1]),
                                                        labels[img_idx.to(device), k].reshape(-1))
                       for k, part in enumerate(torch.split(aux, AUX_SPLITS, dim=-1)))
        # Question grounding from the start (v1 added it after 4500 steps): the grounded head's
        # attention mass on the named object's patches, and the two probes.
        rows_ = torch.arange(ids.shape[0], device=device)
        at = (last.to(device) + N_PATCHES - 1)
        attn = probs[gl][rows_, args.ground_head, at, p0:p0 + N_PATCHES].float()
        want = ground[picks.to(device)]
        has = want.sum(1) > 0
        ground_loss = torch.zeros((), device=device)
        if has.any():
            ground_loss = -torch.log((attn * want).sum(1)[has] + 1e-6).mean()
        for name, lab, li in (("named", named_lab, gl), ("referent", referent_lab, gl + 1)):
            out = probes[name](layer_inputs[li][rows_, at].float())
            y = lab[picks.to(device)]
            for k, part in enumerate(torch.split(out, v1.PROBE_SPLITS, dim=-1)):
                if (y[:, k] != -100).any():
                    ground_loss = ground_loss + F.cross_entropy(part, y[:, k], ignore_index=-100)
        loss = lm_loss + aux_loss + args.ground_weight * ground_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        elapsed = time.time() - t0
        out_of_time = deadline is not None and time.time() > deadline
        if step % 10 == 0 or step == 1 or out_of_time:
            log.write(f"{step},{loss.item():.5f},{lm_loss.item():.5f},{aux_loss.item():.5f},"
                      f"{ground_loss.item():.5f},{lr:.6g},{elapsed:.1f}\n")
            log.flush()
        if step % 50 == 0 or step == 1 or out_of_time:
            print(f"step {step} loss {loss.item():.4f} lm {lm_loss.item():.4f} "
                  f"aux {aux_loss.item():.4f} ground {ground_loss.item():.4f} lr {lr:.2e} "
                  f"{elapsed:.0f}s", flush=True)
        if step % args.save_every == 0 or step == planned or out_of_time:
            save_state(state_path, model, aux_head, probes, opt, step, elapsed, tok, planned)
        if out_of_time:
            print(f"time budget of {args.max_minutes} min reached at step {step}", flush=True)
            break
    log.close()
    model.eval().cpu()
    export(model, tok, paths(args)[2])
    return model, tok


def save_state(path, model, aux_head, probes, opt, step, elapsed, tok, planned):
    tmp = path + ".tmp"
    torch.save({"model": model.state_dict(), "aux_head": aux_head.state_dict(),
                "probes": probes.state_dict(), "opt": opt.state_dict(), "step": step,
                "planned_steps": planned, "elapsed": elapsed, "vocab": tok.vocab,
                "arch": ARCH}, tmp)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------
# Export: the v1 files with this resolution, plus processor_config.json and chat_template.json.

def export(model, tok, out):
    os.makedirs(out, exist_ok=True)
    config = model.config
    state = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    v1.write_safetensors(os.path.join(out, "model.safetensors"), state)
    files = {
        "config.json": config,
        "tokenizer.json": v1.tokenizer_json(tok),
        "tokenizer_config.json": {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
            "image_token": "<image>", "add_bos_token": False, "add_eos_token": False,
            "model_max_length": MAX_POSITIONS, "chat_template": v1.CHAT_TEMPLATE,
            "added_tokens_decoder": {
                str(tok.id(s)): {"content": s, "lstrip": False, "normalized": False,
                                 "rstrip": False, "single_word": False, "special": True}
                for s in v1.SPECIALS},
        },
        "preprocessor_config.json": {
            "image_processor_type": "CLIPImageProcessor", "processor_class": "LlavaProcessor",
            "do_resize": True, "size": {"shortest_edge": IMAGE_SIZE},
            "do_center_crop": True, "crop_size": {"height": IMAGE_SIZE, "width": IMAGE_SIZE},
            "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
            "image_mean": v1.CLIP_MEAN, "image_std": v1.CLIP_STD, "do_convert_rgb": True,
            "resample": 3,
        },
        "processor_config.json": {
            "image_token": "<image>", "num_additional_image_tokens": 1, "patch_size": PATCH,
            "processor_class": "LlavaProcessor", "vision_feature_select_strategy": "default",
        },
        "chat_template.json": {"chat_template": v1.CHAT_TEMPLATE},
        "generation_config.json": {"bos_token_id": tok.id("<s>"), "eos_token_id": tok.id("</s>"),
                                   "pad_token_id": tok.id("<pad>")},
    }
    for name, body in files.items():
        with open(os.path.join(out, name), "w") as f:
            json.dump(body, f, indent=2)
    size = sum(os.path.getsize(os.path.join(out, n)) for n in os.listdir(out))
    print(f"exported to {out} ({size / 2**20:.2f} MiB)", flush=True)


def load_exported(path):
    with open(os.path.join(path, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(path, "tokenizer.json")) as f:
        tok = v1.WordTokenizer(json.load(f)["model"]["vocab"])
    model = v1.Llava(config)
    model.load_state_dict(v1.read_safetensors(os.path.join(path, "model.safetensors")))
    return model.eval(), tok


# ----------------------------------------------------------------------------------------------
# Evaluation: batched greedy decoding (no cache) on the held-out rich test scenes.

OBJ_RE = re.compile(r"^an? (small|large) (\w+) (\w+) is at the (.+)$")


def score_description(scene, text):
    """lib/data/scenes/parser.ts scoreDescription, with the count words up to six."""
    sents = [s.strip() for s in v1.normalize(text).split(".") if s.strip()]
    stated, count, unparsed = [], None, 0
    for s in sents:
        m = OBJ_RE.match(s)
        if m:
            stated.append(m.groups())
            continue
        m = re.match(r"^there (?:is|are) (\w+) objects?$", s)
        if m and count is None and m.group(1) in S.COUNT_WORDS:
            count = S.COUNT_WORDS.index(m.group(1))
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
    return right, len(truth), invented, (right == len(truth) and invented == 0
                                         and count == len(truth) and unparsed == 0)


@torch.no_grad()
def evaluate(args, model, tok):
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model = model.to(device).eval()
    scenes, images, records, index, _ = load_split("test", args.eval_scenes, args.workers)
    encoded = encode_records(tok, records, index)
    groups = {}
    for r, e in zip(records, encoded):
        # A description and a count question can have prompts of equal length: keep them apart.
        groups.setdefault((r["kind"] == "describe", len(e[0])), []).append((r, e))
    eos = tok.id("</s>")
    results = []
    for _, items in sorted(groups.items()):
        for s in range(0, len(items), args.eval_batch):
            chunk = items[s:s + args.eval_batch]
            ids = torch.tensor([e[0] for _, e in chunk], device=device)
            pix = pixel_values(images[torch.tensor([e[2] for _, e in chunk])].to(device))
            max_new = 96 if chunk[0][0]["kind"] == "describe" else 8
            outs = v1.greedy(model, ids, pix, eos, max_new)
            results += [(r, e, tok.decode(o)) for (r, e), o in zip(chunk, outs)]
    objs_right = objs_total = clean = n_desc = exact = 0
    short, samples = {}, []
    for r, e, text in results:
        expected = r["conversations"][1]["value"]
        if r["kind"] == "describe":
            right, total, invented, ok = score_description(scenes[e[2]], text)
            objs_right, objs_total = objs_right + right, objs_total + total
            clean, exact, n_desc = clean + (invented == 0), exact + ok, n_desc + 1
            if len(samples) < 5:
                samples.append({"expected": expected, "got": text})
        else:
            c = short.setdefault(r["kind"], [0, 0])
            c[0] += v1.normalize(expected) == v1.normalize(text)
            c[1] += 1
    sr, st = sum(c[0] for c in short.values()), sum(c[1] for c in short.values())
    report = {
        "test_scenes": args.eval_scenes,
        "objects_fully_right": objs_right / objs_total,
        "descriptions_without_invented_object": clean / n_desc,
        "descriptions_exact": exact / n_desc,
        "short_questions_right": sr / st,
        "short_by_kind": {k: c[0] / c[1] for k, c in sorted(short.items())},
        "counts": {"descriptions": n_desc, "objects": objs_total, "short_questions": st},
        "samples": samples,
    }
    print(json.dumps(report, indent=1), flush=True)
    with open(os.path.join(args.out, "eval.json"), "w") as f:
        json.dump(report, f, indent=1)
    return report


@torch.no_grad()
def check_hf(path):
    """Loads the export with transformers as shipped (model and processor) and compares the
    prefill logits of one test scene with this code's."""
    from transformers import AutoProcessor, LlavaForConditionalGeneration
    hf = LlavaForConditionalGeneration.from_pretrained(path, dtype=torch.float32).eval()
    proc = AutoProcessor.from_pretrained(path)
    scene, image, _ = S.split_item(("test", SPLITS["test"], 0))
    messages = [{"role": "user", "content": [{"type": "image"},
                                             {"type": "text", "text": S.DESCRIBE_QUESTION}]}]
    text = proc.apply_chat_template(messages, add_generation_prompt=True)
    inputs = proc(images=image, text=text, return_tensors="pt")  # HWC uint8 array
    ours, tok = load_exported(path)
    ids = torch.tensor([tok.encode(v1.prompt_text(S.DESCRIBE_QUESTION))])
    mine, _, _ = ours(ids, pixel_values(torch.from_numpy(image)[None]))
    theirs = hf(**inputs).logits
    assert theirs.shape == mine.shape, f"HF logits {tuple(theirs.shape)} vs ours {tuple(mine.shape)}"
    diff = (theirs - mine).abs().max().item()
    print(f"HF transformers check: {inputs['input_ids'].shape[1]} prompt entries, "
          f"max |logit diff| {diff:.2e}", flush=True)
    assert diff < 1e-3, "HF transformers disagrees with this model code"
    return diff


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=6000,
                    help="planned steps (the lr schedule's length); 0: as many as --max-minutes allows")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--train-scenes", type=int, default=20000)
    ap.add_argument("--eval-scenes", type=int, default=200)
    ap.add_argument("--eval-batch", type=int, default=256)
    ap.add_argument("--short-fraction", type=float, default=0.5)
    ap.add_argument("--ground-weight", type=float, default=0.5)
    ap.add_argument("--ground-layer", type=int, default=3)
    ap.add_argument("--ground-head", type=int, default=0)
    ap.add_argument("--save-every", type=int, default=500)
    ap.add_argument("--max-minutes", type=float, default=0,
                    help="stop (saving state) after this many minutes of training; 0 = no limit")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (shared machines: 1)")
    ap.add_argument("--workers", type=int, default=1, help="processes that make the scenes")
    ap.add_argument("--device", default=None, help="cuda or cpu (default: cuda when present)")
    ap.add_argument("--data", default=os.path.join(HERE, "data"), help="training state folder")
    ap.add_argument("--out", default=HERE, help="checkpoint/, train_log.csv and eval.json go here")
    ap.add_argument("--estimate", action="store_true")
    ap.add_argument("--export-only", action="store_true")
    ap.add_argument("--eval-only", action="store_true")
    ap.add_argument("--no-eval", action="store_true")
    ap.add_argument("--check-hf", action="store_true", help="after training, run the HF check")
    ap.add_argument("--hf-only", action="store_true", help="only the HF check of the export")
    ap.add_argument("--check-scenes", metavar="DIR")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ckpt = paths(args)[2]
    if args.estimate:
        print(json.dumps(estimate(batch=args.batch), indent=1))
        return
    if args.check_scenes:
        for split in ("train", "test"):
            if os.path.exists(os.path.join(args.check_scenes, f"{split}_scenes.json")):
                n = S.check_against(args.check_scenes, split, SPLITS[split])
                print(f"scenes.py matches deno's {split} split ({n} scenes)")
        return
    if args.export_only:
        st = torch.load(paths(args)[1], map_location="cpu")
        tok = v1.WordTokenizer(st["vocab"])
        model = v1.Llava(make_config(tok))
        model.load_state_dict(st["model"])
        export(model.eval(), tok, ckpt)
        return
    if args.eval_only:
        model, tok = load_exported(ckpt)
        evaluate(args, model, tok)
        return
    if args.hf_only:
        check_hf(ckpt)
        return
    model, tok = train(args)
    if not args.no_eval:
        evaluate(args, model, tok)
    if args.check_hf:
        check_hf(ckpt)

if __name__ == "__main__":
    main()
