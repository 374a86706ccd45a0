"""The `rich` scene style of lib/data/scenes in Python, byte for byte: the same mulberry32 draws,
layout, texture, rasterizer and conversations, so that the GPU machine (which has no Deno) can
make the training split itself instead of receiving gigabytes of images.

`check_against(dir)` compares with what `deno task scenes --style rich` wrote (JSON and raw
images); train.py --check-scenes DIR runs it. Only the `rich` style is ported (the bundled v1
model's `basic` scenes come from Deno as before).
"""
import numpy as np

C = 0x6D2B79F5
M32 = 0xFFFFFFFF


def imul(a, b):
    return (a * b) & M32


class Prng:
    """lib/random.ts Prng (mulberry32): draw k depends only on seed + (k + 1) * C."""

    def __init__(self, seed):
        self.state = seed & M32

    def next_uint32(self):
        self.state = (self.state + C) & M32
        t = self.state
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & M32
        return (t ^ (t >> 14)) & M32

    def int(self, n):
        return (self.next_uint32() * n) >> 32

    def range(self, lo, hi):
        return lo + self.int(hi - lo + 1)

    def pick(self, items):
        return items[self.int(len(items))]

    def shuffle(self, items):
        out = list(items)
        for i in range(len(out) - 1, 0, -1):
            j = self.int(i + 1)
            out[i], out[j] = out[j], out[i]
        return out

    def uint32_block(self, count):
        """The next `count` raw draws at once (vectorised mulberry32)."""
        k = np.arange(1, count + 1, dtype=np.uint64)
        s = ((np.uint64(self.state) + k * np.uint64(C)) & np.uint64(M32)).astype(np.uint64)
        self.state = int(s[-1])
        m = np.uint64(M32)
        t = s
        t = ((t ^ (t >> np.uint64(15))) * (t | np.uint64(1))) & m
        t = t ^ ((t + (((t ^ (t >> np.uint64(7))) * (t | np.uint64(61))) & m)) & m)
        return (t ^ (t >> np.uint64(14))) & m

    def range_block(self, lo, hi, count):
        u = self.uint32_block(count)
        return lo + ((u * np.uint64(hi - lo + 1)) >> np.uint64(32)).astype(np.int64)


def mix_seed(*parts):
    h = 0x9E3779B9
    for p in parts:
        h = imul(h ^ (p & M32), 0x85EBCA6B)
        h ^= h >> 13
        h = imul(h, 0xC2B2AE35)
        h ^= h >> 16
    return h & M32


def hash_string(text):
    h = 0x811C9DC5
    for ch in text:
        h = imul(h ^ ord(ch), 0x01000193)
    return h


# lib/data/scenes/vocabulary.ts and styles.ts (rich).
SHAPES = ["circle", "square", "triangle", "diamond"]
COLORS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (50, 90, 230),
          "yellow": (235, 215, 40), "purple": (150, 60, 200), "orange": (245, 140, 30)}
COLOR_NAMES = list(COLORS)
SIZES = ["small", "large"]
PLACES = ["top left", "top", "top right", "left", "center", "right", "bottom left", "bottom",
          "bottom right"]
COUNT_WORDS = ["zero", "one", "two", "three", "four", "five", "six"]
BACKGROUND = (40, 40, 40)
RICH = dict(image_size=224, min_objects=2, max_objects=6, radius={"small": 12, "large": 24},
            jitter=8)
TEXTURE_SPACINGS = [16, 28, 56]
DESCRIBE_QUESTION = "Describe the image in detail."


def generate_scene(seed, split, index):
    """generateScene(seed, split, index, "rich")."""
    spec = RICH
    rng = Prng(mix_seed(seed, hash_string(split), index, hash_string("rich")))
    count = rng.range(spec["min_objects"], spec["max_objects"])
    cells = sorted(rng.shuffle(range(9))[:count])
    size = spec["image_size"]

    def start(k):
        return (k * size) // 3

    objects = []
    for cell in cells:
        row, col = cell // 3, cell % 3
        shape, color, sz = rng.pick(SHAPES), rng.pick(COLOR_NAMES), rng.pick(SIZES)
        cx = (start(col) + start(col + 1)) // 2 + rng.range(-spec["jitter"], spec["jitter"])
        cy = (start(row) + start(row + 1)) // 2 + rng.range(-spec["jitter"], spec["jitter"])
        objects.append({"shape": shape, "color": color, "size": sz, "place": PLACES[cell],
                        "cell": cell, "cx": cx, "cy": cy})
    sid = f"{split}-{index:06d}"
    return {"id": sid, "objects": objects, "style": "rich", "backgroundSeed": rng.int(2 ** 31)}


def draw_texture(img, seed):
    """styles.ts drawTexture on an [H, W, 3] uint8 array."""
    h, w, _ = img.shape
    rng = Prng(seed)
    base = rng.range(25, 75)
    tint = [rng.range(-6, 6) for _ in range(3)]
    step = rng.pick(TEXTURE_SPACINGS)
    nx, ny = -(-w // step) + 1, -(-h // step) + 1
    lattice = rng.range_block(-18, 18, nx * ny).reshape(ny, nx)
    y, x = np.mgrid[0:h, 0:w]
    gy, gx = y // step, x // step
    fy, fx = y - gy * step, x - gx * step
    blend = ((step - fx) * (step - fy) * lattice[gy, gx] + fx * (step - fy) * lattice[gy, gx + 1]
             + (step - fx) * fy * lattice[gy + 1, gx] + fx * fy * lattice[gy + 1, gx + 1])
    area = step * step
    smooth = np.sign(blend) * ((2 * np.abs(blend) + area) // (2 * area))
    grain = rng.range_block(-5, 5, h * w).reshape(h, w)
    for c in range(3):
        img[:, :, c] = np.clip(base + tint[c] + smooth + grain, 0, 255)


def inside(shape, dx, dy, r):
    if shape == "circle":
        return dx * dx + dy * dy <= r * r
    if shape == "square":
        return (np.abs(dx) <= r) & (np.abs(dy) <= r)
    if shape == "diamond":
        return np.abs(dx) + np.abs(dy) <= r
    return (dy <= r) & (2 * np.abs(dx) <= dy + r)


def coverage(o, size, radius):
    """Sub-samples inside (0..4) of each pixel of the object's box: (y0, x0, counts)."""
    r = radius
    x0, x1 = max(0, o["cx"] - r - 1), min(size - 1, o["cx"] + r)
    y0, y1 = max(0, o["cy"] - r - 1), min(size - 1, o["cy"] + r)
    y, x = np.mgrid[y0:y1 + 1, x0:x1 + 1]
    n = np.zeros(y.shape, dtype=np.int64)
    for sy in (1, 3):
        for sx in (1, 3):
            n += inside(o["shape"], 4 * x + sx - 4 * o["cx"], 4 * y + sy - 4 * o["cy"], 4 * r)
    return y0, x0, n


def render_scene(scene):
    """renderScene for a rich scene: [224, 224, 3] uint8."""
    size = RICH["image_size"]
    img = np.empty((size, size, 3), dtype=np.int64)
    img[:] = BACKGROUND
    draw_texture(img, scene["backgroundSeed"])
    for o in scene["objects"]:
        y0, x0, n = coverage(o, size, RICH["radius"][o["size"]])
        region = img[y0:y0 + n.shape[0], x0:x0 + n.shape[1]]
        rgb = np.array(COLORS[o["color"]], dtype=np.int64)
        blended = (n[..., None] * rgb + (4 - n[..., None]) * region + 2) >> 2
        region[:] = np.where(n[..., None] > 0, blended, region)
    return img.astype(np.uint8)


# lib/data/scenes/conversations.ts (word answers).

def count_sentence(n):
    return "There is one object." if n == 1 else f"There are {COUNT_WORDS[n]} objects."


def describe_scene(scene):
    return " ".join([count_sentence(len(scene["objects"]))] + [
        f"A {o['size']} {o['color']} {o['shape']} is at the {o['place']}." for o in scene["objects"]])


def _record(scene, kind, q, a):
    return {"id": f"{scene['id']}-{kind}", "image": f"{scene['id']}.png",
            "conversations": [{"from": "human", "value": f"<image>\n{q}"},
                              {"from": "gpt", "value": a}], "kind": kind}


def _unique(scene, o, keys):
    return sum(all(p[k] == o[k] for k in keys) for p in scene["objects"]) == 1


def _color_ref(scene, o):
    if _unique(scene, o, ["shape"]):
        return f"the {o['shape']}"
    if _unique(scene, o, ["size", "shape"]):
        return f"the {o['size']} {o['shape']}"
    return f"the {o['shape']} at the {o['place']}"


def _place_ref(scene, o):
    if _unique(scene, o, ["color", "shape"]):
        return f"the {o['color']} {o['shape']}"
    if _unique(scene, o, ["size", "color", "shape"]):
        return f"the {o['size']} {o['color']} {o['shape']}"
    return None


def _cap(t):
    return t[0].upper() + t[1:]


def conversations_for(scene, rng):
    objs = scene["objects"]
    n = len(objs)
    out = [_record(scene, "describe", DESCRIBE_QUESTION, describe_scene(scene)),
           _record(scene, "count", "How many objects are there?", f"{_cap(COUNT_WORDS[n])}.")]
    c = rng.pick(objs)
    out.append(_record(scene, "color", f"What color is {_color_ref(scene, c)}?",
                       f"{_cap(c['color'])}."))
    named = [(o, _place_ref(scene, o)) for o in objs]
    named = [x for x in named if x[1] is not None]
    if named:
        o, ref = rng.pick(named)
        out.append(_record(scene, "place", f"Where is {ref}?", f"{_cap(o['place'])}."))
    if rng.int(2) == 0:
        o = rng.pick(objs)
        color, shape, answer = o["color"], o["shape"], "Yes."
    else:
        absent = [(col, sh) for col in COLOR_NAMES for sh in SHAPES
                  if not any(o["color"] == col and o["shape"] == sh for o in objs)]
        color, shape = rng.pick(absent)
        answer = "No."
    out.append(_record(scene, "presence", f"Is there a {color} {shape}?", answer))
    return out


def split_item(args):
    """(scene, image, records) of scene `index` of `split` (picklable for a process pool)."""
    split, seed, index = args
    scene = generate_scene(seed, split, index)
    rng = Prng(mix_seed(seed, hash_string(split), index, 1))
    return scene, render_scene(scene), conversations_for(scene, rng)


def make_split(split, count, seed, workers=1):
    """Scenes, uint8 images [count, 224, 224, 3] and conversation records, in index order."""
    jobs = [(split, seed, i) for i in range(count)]
    if workers > 1:
        import multiprocessing as mp
        with mp.get_context("fork").Pool(workers) as pool:
            items = pool.map(split_item, jobs, chunksize=64)
    else:
        items = [split_item(j) for j in jobs]
    scenes = [s for s, _, _ in items]
    images = np.stack([im for _, im, _ in items]) if items else np.zeros((0, 224, 224, 3), np.uint8)
    records = [r for _, _, rs in items for r in rs]
    return scenes, images, records


def check_against(directory, split, seed):
    """Compares make_split with `deno task scenes --style rich` output in `directory`."""
    import json
    import os
    with open(os.path.join(directory, f"{split}_scenes.json")) as f:
        want_scenes = json.load(f)
    with open(os.path.join(directory, f"{split}.json")) as f:
        want_records = json.load(f)
    raw = np.fromfile(os.path.join(directory, f"{split}_images.bin"), dtype=np.uint8)
    n = len(want_scenes)
    scenes, images, records = make_split(split, n, seed)
    assert scenes == want_scenes, "scene JSON differs"
    assert records == want_records, "conversation records differ"
    assert np.array_equal(images.reshape(-1), raw), "image bytes differ"
    return n
