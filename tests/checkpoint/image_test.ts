import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { encode as encodePng } from "fast-png";
import jpeg from "jpeg-js";
import { CheckpointError, InputError } from "../../lib/errors.ts";
import {
  centerCrop,
  decodeImage,
  expandToSquare,
  loadImage,
  OPENAI_CLIP_MEAN,
  OPENAI_CLIP_STD,
  padColour,
  parseImageProcessorConfig,
  preprocessImage,
  resizeBicubic,
  type RgbImage,
  shortestEdgeSize,
} from "../../lib/checkpoint/image.ts";
import type { ImageProcessorSpec } from "../../lib/checkpoint/spec.ts";

/** The test pattern the PIL reference values below were computed from. */
function pattern(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        data[(y * w + x) * 3 + c] = (x * 37 + y * 71 + c * 113 + x * y * 13) % 256;
      }
    }
  }
  return { width: w, height: h, data };
}

// Pillow 9.4 `pattern(w, h).resize((W, H), Image.BICUBIC).tobytes()` (an independent reference).
// deno-fmt-ignore
const PIL_BICUBIC: Record<string, number[]> = {
  "7x5->4x3": [45, 164, 98, 124, 146, 86, 119, 92, 148, 155, 121, 128, 150, 163, 113, 101, 119, 152, 106, 165, 139, 94, 123, 150, 97, 147, 150, 130, 138, 92, 98, 154, 128, 125, 110, 98],
  "4x3->9x7": [0, 103, 255, 0, 110, 216, 13, 124, 92, 31, 145, 0, 47, 173, 0, 63, 200, 33, 81, 220, 51, 97, 234, 67, 103, 241, 73, 6, 116, 227, 10, 124, 186, 27, 143, 87, 46, 161, 11, 65, 166, 19, 82, 170, 50, 102, 187, 71, 119, 205, 88, 126, 213, 96, 32, 144, 124, 39, 156, 109, 57, 193, 73, 82, 206, 48, 109, 151, 62, 136, 94, 89, 160, 100, 118, 178, 129, 146, 186, 139, 158, 66, 179, 36, 76, 192, 46, 98, 229, 68, 124, 229, 94, 146, 131, 116, 168, 33, 138, 194, 33, 164, 216, 70, 186, 226, 83, 196, 101, 217, 53, 114, 215, 67, 145, 193, 101, 163, 159, 137, 136, 105, 170, 108, 62, 190, 126, 75, 172, 157, 109, 141, 170, 122, 129, 130, 248, 98, 145, 229, 110, 186, 143, 138, 194, 76, 172, 113, 83, 214, 32, 111, 232, 40, 141, 168, 81, 170, 80, 96, 182, 44, 143, 255, 113, 158, 236, 125, 203, 124, 153, 207, 43, 187, 105, 73, 233, 2, 129, 251, 7, 166, 167, 52, 193, 57, 67, 205, 11],
  "13x6->5x11": [24, 157, 87, 134, 121, 82, 145, 61, 190, 51, 186, 55, 160, 74, 124, 56, 159, 85, 131, 113, 114, 136, 89, 160, 68, 159, 92, 143, 95, 111, 116, 161, 85, 124, 100, 172, 119, 141, 106, 102, 109, 159, 111, 135, 89, 135, 155, 123, 115, 130, 162, 102, 154, 114, 115, 114, 165, 88, 162, 91, 130, 145, 166, 105, 171, 124, 93, 142, 148, 118, 146, 139, 76, 177, 110, 126, 137, 125, 94, 151, 135, 114, 112, 143, 127, 158, 121, 81, 168, 146, 119, 135, 83, 91, 125, 145, 138, 94, 126, 136, 158, 108, 99, 147, 171, 108, 149, 130, 109, 143, 109, 137, 141, 112, 141, 140, 110, 135, 118, 147, 105, 154, 156, 131, 147, 90, 134, 168, 103, 147, 119, 117, 154, 104, 119, 120, 137, 115, 153, 109, 118, 134, 136, 103, 158, 101, 128, 135, 121, 102, 128, 127, 91, 164, 88, 134, 134, 117, 104, 163, 92, 133, 124, 131, 94],
  "5x5->5x2": [69, 174, 120, 110, 161, 80, 96, 111, 128, 153, 152, 123, 87, 111, 171, 134, 141, 185, 106, 157, 76, 122, 139, 154, 111, 110, 81, 75, 196, 159],
};

// HF pipeline reference: expand2square (LLaVA) when pad, PIL bicubic resize to the shortest
// edge, center crop, float64 rescale → float32, float32 (x − mean) / std, CHW; OpenAI CLIP
// mean/std. Computed with Pillow 9.4 + numpy from pattern(w, h).
// deno-fmt-ignore
const HF_PIPELINE: { w: number; h: number; size: number; crop: number; pad: boolean; out: number[] }[] = [
  { w: 6, h: 4, size: 5, crop: 3, pad: true, out: [-0.7411757707595825, 0.25151723623275757, -0.06964822113513947, 0.39750149846076965, -0.055049795657396317, -0.3178214430809021, -0.6973804831504822, -0.1718371957540512, -0.6097899675369263, 0.7842157483100891, 0.6341381072998047, -0.5814911723136902, -0.04121153801679611, -0.431413471698761, 1.0843710899353027, 0.4090215861797333, 0.4540448784828186, 0.31897497177124023, -1.0393977165222168, -0.12931348383426666, 0.7523306608200073, 0.9798517227172852, 0.8092109560966492, 0.7096704840660095, -0.34261447191238403, 0.2830684185028076, 0.8945313096046448] },
  { w: 7, h: 4, size: 3, crop: 3, pad: false, out: [-0.5513962507247925, 0.19312354922294617, 0.003343905322253704, 0.09093456715345383, 0.003343905322253704, -0.2886245846748352, -0.7119789123535156, -0.04045137017965317, -0.6827820539474487, 0.6941691637039185, 0.4840604066848755, -1.0317243337631226, -0.2963435649871826, 0.24393615126609802, 0.7091768980026245, 0.7391924858093262, 0.003811762435361743, 0.6341381072998047, -0.9540772438049316, 0.19774802029132843, 0.5105895400047302, 1.0367319583892822, 0.5674698352813721, 0.5248096585273743, -0.25729405879974365, 0.5105895400047302, 0.6101300120353699] },
];

function spec(over: Partial<ImageProcessorSpec> = {}): ImageProcessorSpec {
  return {
    resizeShortestEdge: 2,
    cropHeight: 2,
    cropWidth: 2,
    rescaleFactor: 1 / 255,
    mean: [0.5, 0.5, 0.5],
    std: [0.5, 0.5, 0.5],
    doResize: true,
    doCenterCrop: true,
    doNormalize: true,
    aspectMode: "none",
    ...over,
  };
}

Deno.test("bicubic resize matches Pillow's BICUBIC byte for byte", () => {
  for (const [key, expected] of Object.entries(PIL_BICUBIC)) {
    const [src, dst] = key.split("->").map((s) => s.split("x").map(Number));
    const out = resizeBicubic(pattern(src[0], src[1]), dst[0], dst[1]);
    assertEquals([out.width, out.height], dst, key);
    assertEquals([...out.data], expected, key);
  }
});

/**
 * A slow, direct statement of the same resampling: for each output pixel, the continuous
 * kernel k((i + 0.5 − centre) / s) with s = max(in/out, 1) over source pixels i within
 * 2·s of the centre, weights divided by their sum; rows first, rounded to uint8 per pass.
 */
function directResize(img: RgbImage, W: number, H: number): RgbImage {
  const kernel = (x: number) => {
    x = Math.abs(x);
    return x < 1
      ? 1.5 * x ** 3 - 2.5 * x ** 2 + 1
      : x < 2
      ? -0.5 * x ** 3 + 2.5 * x ** 2 - 4 * x + 2
      : 0;
  };
  const pass = (get: (i: number) => number, inSize: number, o: number, outSize: number) => {
    const s = Math.max(inSize / outSize, 1), centre = (o + 0.5) * (inSize / outSize);
    let sum = 0, acc = 0;
    for (let i = 0; i < inSize; i++) {
      if (Math.abs(i + 0.5 - centre) >= 2 * s + 0.5) continue;
      const w = kernel((i + 0.5 - centre) / s);
      sum += w;
      acc += w * get(i);
    }
    return Math.min(255, Math.max(0, Math.round(acc / sum)));
  };
  const mid = new Uint8Array(W * img.height * 3);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < 3; c++) {
        mid[(y * W + x) * 3 + c] = W === img.width
          ? img.data[(y * W + x) * 3 + c]
          : pass((i) => img.data[(y * img.width + i) * 3 + c], img.width, x, W);
      }
    }
  }
  const out = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < 3; c++) {
        out[(y * W + x) * 3 + c] = H === img.height
          ? mid[(y * W + x) * 3 + c]
          : pass((i) => mid[(i * W + x) * 3 + c], img.height, y, H);
      }
    }
  }
  return { width: W, height: H, data: out };
}

Deno.test("bicubic resize agrees with a direct float formula (±1 from fixed-point rounding)", () => {
  for (const [w, h, W, H] of [[20, 9, 7, 4], [5, 6, 12, 3], [16, 16, 11, 16]]) {
    const img = pattern(w, h);
    const fast = resizeBicubic(img, W, H).data, slow = directResize(img, W, H).data;
    let exact = 0;
    for (let i = 0; i < fast.length; i++) {
      assert(
        Math.abs(fast[i] - slow[i]) <= 1,
        `${w}x${h}->${W}x${H} at ${i}: ${fast[i]} vs ${slow[i]}`,
      );
      if (fast[i] === slow[i]) exact++;
    }
    assert(exact >= fast.length * 0.95, `only ${exact}/${fast.length} exact`);
  }
});

Deno.test("full preprocessing matches the HF/LLaVA pipeline (Pillow + numpy float32)", () => {
  for (const c of HF_PIPELINE) {
    const out = preprocessImage(pattern(c.w, c.h), {
      ...spec({ mean: OPENAI_CLIP_MEAN, std: OPENAI_CLIP_STD }),
      resizeShortestEdge: c.size,
      cropHeight: c.crop,
      cropWidth: c.crop,
      aspectMode: c.pad ? "pad" : "none",
    });
    assertEquals([...out], c.out);
  }
});

Deno.test("2×2 identity path: CHW layout and hand-computed normalised values", () => {
  // Pixels (R,G,B): (0,51,255) (255,0,51) / (51,255,0) (102,102,102)
  const img = {
    width: 2,
    height: 2,
    data: new Uint8Array([0, 51, 255, 255, 0, 51, 51, 255, 0, 102, 102, 102]),
  };
  const out = preprocessImage(img, spec());
  // (v/255 − 0.5)/0.5: 0 → −1, 255 → 1, 51 → −0.6, 102 → −0.2 (in float32).
  const f = Math.fround;
  const n = (v: number) => f(f(f(v / 255) - 0.5) / 0.5);
  assertEquals([...out], [
    n(0),
    n(255),
    n(51),
    n(102), // R plane
    n(51),
    n(0),
    n(255),
    n(102), // G plane
    n(255),
    n(51),
    n(0),
    n(102), // B plane
  ]);
  assert(Math.abs(out[2] + 0.6) < 1e-6 && out[0] === -1 && out[1] === 1);
  // Without normalisation only the rescale remains.
  assertEquals(preprocessImage(img, spec({ doNormalize: false }))[1], f(255 / 255));
});

Deno.test("pad to square centres the image on the mean colour", () => {
  assertEquals(padColour(OPENAI_CLIP_MEAN), [122, 116, 104]);
  const wide = { width: 3, height: 1, data: new Uint8Array([1, 1, 1, 2, 2, 2, 3, 3, 3]) };
  const sq = expandToSquare(wide, [9, 8, 7]);
  assertEquals([sq.width, sq.height], [3, 3]);
  assertEquals([...sq.data], [
    ...[9, 8, 7, 9, 8, 7, 9, 8, 7],
    ...[1, 1, 1, 2, 2, 2, 3, 3, 3],
    ...[9, 8, 7, 9, 8, 7, 9, 8, 7],
  ]);
  // 2 wide, 4 tall: offset (4 − 2) // 2 = 1 column.
  const tall = expandToSquare({ width: 2, height: 4, data: new Uint8Array(24).fill(5) }, [0, 0, 0]);
  const col = (x: number) => [0, 1, 2, 3].map((y) => tall.data[(y * 4 + x) * 3]);
  assertEquals([col(0), col(1), col(2), col(3)], [[0, 0, 0, 0], [5, 5, 5, 5], [5, 5, 5, 5], [
    0,
    0,
    0,
    0,
  ]]);
});

Deno.test("center crop offsets and zero padding", () => {
  const img = pattern(5, 4);
  const crop = centerCrop(img, 2, 2); // top = (4 − 2) // 2 = 1, left = (5 − 2) // 2 = 1
  const px = (
    im: RgbImage,
    x: number,
    y: number,
  ) => [...im.data.subarray((y * im.width + x) * 3, (y * im.width + x) * 3 + 3)];
  assertEquals(px(crop, 0, 0), px(img, 1, 1));
  assertEquals(px(crop, 1, 1), px(img, 2, 2));
  const odd = centerCrop(pattern(4, 4), 1, 1); // (4 − 1) // 2 = 1
  assertEquals(px(odd, 0, 0), px(pattern(4, 4), 1, 1));
  const one = { width: 1, height: 1, data: new Uint8Array([7, 8, 9]) };
  const big = centerCrop(one, 3, 3); // top = floor(−2 / 2) = −1: the pixel lands in the middle
  assertEquals([...big.data], [
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    7,
    8,
    9,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
  ]);
});

Deno.test("shortest-edge output size follows HF's int(size * long / short)", () => {
  assertEquals(shortestEdgeSize(7, 4, 3), { width: 5, height: 3 });
  assertEquals(shortestEdgeSize(4, 7, 3), { width: 3, height: 5 });
  assertEquals(shortestEdgeSize(640, 480, 336), { width: 448, height: 336 });
  assertEquals(shortestEdgeSize(500, 333, 336), { width: 504, height: 336 });
  assertEquals(shortestEdgeSize(336, 900, 336), { width: 336, height: 900 });
});

Deno.test("decodes PNG (RGB, RGBA, gray, 16-bit) and JPEG; alpha dropped, gray replicated", async () => {
  const rgb = encodePng({
    width: 2,
    height: 1,
    data: new Uint8Array([1, 2, 3, 4, 5, 6]),
    channels: 3,
    depth: 8,
  });
  assertEquals(await decodeImage(rgb), {
    width: 2,
    height: 1,
    data: new Uint8Array([1, 2, 3, 4, 5, 6]),
  });
  const rgba = encodePng({
    width: 1,
    height: 1,
    data: new Uint8Array([10, 20, 30, 0]),
    channels: 4,
    depth: 8,
  });
  assertEquals([...(await decodeImage(rgba)).data], [10, 20, 30]);
  const gray = encodePng({
    width: 2,
    height: 1,
    data: new Uint8Array([7, 200]),
    channels: 1,
    depth: 8,
  });
  assertEquals([...(await decodeImage(gray)).data], [7, 7, 7, 200, 200, 200]);
  const g16 = encodePng({
    width: 1,
    height: 1,
    data: new Uint16Array([0x1234]),
    channels: 1,
    depth: 16,
  });
  assertEquals([...(await decodeImage(g16)).data], [0x12, 0x12, 0x12]);
  // JPEG is lossy: a flat colour comes back within a few levels.
  const flat = new Uint8Array(16 * 16 * 4);
  for (let i = 0; i < 256; i++) flat.set([200, 40, 90, 255], i * 4);
  const jpg = jpeg.encode({ width: 16, height: 16, data: flat }, 95).data;
  const dec = await decodeImage(new Uint8Array(jpg));
  assertEquals([dec.width, dec.height, dec.data.length], [16, 16, 16 * 16 * 3]);
  for (let c = 0; c < 3; c++) assert(Math.abs(dec.data[c] - [200, 40, 90][c]) <= 3);
});

Deno.test("bad input: undecodable images name the file", async () => {
  const names = (e: Error, name: string, part: string) => {
    assertStringIncludes(e.message, name);
    assertStringIncludes(e.message, part);
  };
  names(
    await assertRejects(() => decodeImage(new Uint8Array([1, 2, 3, 4]), "cat.gif"), InputError),
    "cat.gif",
    "not a PNG or JPEG",
  );
  const png = encodePng({
    width: 4,
    height: 4,
    data: new Uint8Array(48).fill(3),
    channels: 3,
    depth: 8,
  });
  names(
    await assertRejects(() => decodeImage(png.subarray(0, 30), "cut.png"), InputError),
    "cut.png",
    "corrupt PNG",
  );
  names(
    await assertRejects(
      () => decodeImage(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 0]), "cut.jpg"),
      InputError,
    ),
    "cut.jpg",
    "corrupt JPEG",
  );
  const path = Deno.makeTempFileSync({ suffix: ".png" });
  Deno.writeTextFileSync(path, "definitely not an image");
  names(await assertRejects(() => loadImage(path), InputError), path, "not a PNG or JPEG");
  const missing = path + ".missing";
  names(await assertRejects(() => loadImage(missing), InputError), missing, "not found");
});

Deno.test("parseImageProcessorConfig: LLaVA-1.5's CLIP config, dict sizes, and rejections", () => {
  const llava15 = {
    crop_size: 336,
    do_center_crop: true,
    do_normalize: true,
    do_resize: true,
    feature_extractor_type: "CLIPFeatureExtractor",
    image_mean: OPENAI_CLIP_MEAN,
    image_std: OPENAI_CLIP_STD,
    resample: 3,
    size: 336,
  };
  assertEquals(parseImageProcessorConfig(llava15, "pad"), {
    resizeShortestEdge: 336,
    cropHeight: 336,
    cropWidth: 336,
    rescaleFactor: 1 / 255,
    mean: OPENAI_CLIP_MEAN,
    std: OPENAI_CLIP_STD,
    doResize: true,
    doCenterCrop: true,
    doNormalize: true,
    aspectMode: "pad",
  });
  const hf = parseImageProcessorConfig({
    size: { shortest_edge: 224 },
    crop_size: { height: 224, width: 200 },
    do_rescale: false,
    do_pad: true,
  });
  assertEquals([
    hf.resizeShortestEdge,
    hf.cropHeight,
    hf.cropWidth,
    hf.rescaleFactor,
    hf.aspectMode,
  ], [224, 224, 200, 1, "pad"]);
  const exact = parseImageProcessorConfig({ size: { height: 30, width: 40 } });
  assertEquals([exact.resizeHeight, exact.resizeWidth], [30, 40]);
  for (
    const [bad, part] of [
      [{ resample: 2 }, "resample"],
      [{ size: { longest_edge: 3 } }, "size"],
      [{ image_mean: [1, 2] }, "image_mean"],
    ] as const
  ) {
    const e = assertThrows(() => parseImageProcessorConfig(bad), CheckpointError, part);
    assertStringIncludes(e.message, "preprocessor_config.json");
  }
});
