/**
 * JPEG decoding against PIL: the files in tests/fixtures/jpeg_pil/ (written and decoded by
 * Pillow / libjpeg-turbo, or TurboJPEG for YCCK, see make_fixtures.py there) must decode to
 * PIL's RGB bytes exactly: 4:2:0, 4:2:2, 4:4:4, progressive, restart markers, greyscale, and
 * four-component files (Adobe CMYK baseline / progressive / restarts / subsampled, YCCK 4:4:4,
 * 4:2:0, 4:4:0, 4:1:1). jpeg-js, the decoder used before, is shown to miss PIL on 4:2:0 and on
 * CMYK (so the comparison can fail). Also: header-first size limits for JPEG and PNG, truncated
 * and unsupported files.
 */
import { join } from "node:path";
import {
  assertEquals,
  assertGreater,
  assertInstanceOf,
  assertLessOrEqual,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { encode as encodePng } from "fast-png";
import jpeg from "jpeg-js";
import { decodeImage, loadImage } from "../../lib/checkpoint/image.ts";
import { MAX_IMAGE_PIXELS } from "../../lib/checkpoint/image_limits.ts";
import { readJpegFrame } from "../../lib/checkpoint/jpeg.ts";
import { upsample } from "../../lib/checkpoint/jpeg_upsample.ts";
import { InputError } from "../../lib/errors.ts";

const DIR = new URL("../fixtures/jpeg_pil/", import.meta.url).pathname;

interface Case {
  name: string;
  width: number;
  height: number;
  mode: string;
}

const manifest = JSON.parse(Deno.readTextFileSync(join(DIR, "manifest.json"))) as {
  pillow: string;
  cases: Case[];
};

function diff(a: Uint8Array, b: Uint8Array): { max: number; count: number } {
  assertEquals(a.length, b.length, "lengths differ");
  let max = 0, count = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > 0) count++;
    max = Math.max(max, d);
  }
  return { max, count };
}

const FOUR_COMPONENT_CASES = [
  "cmyk",
  "cmyk_ink",
  "cmyk_progressive",
  "cmyk_restarts",
  "cmyk_c2x2",
  "cmyk_c2x1",
  "cmyk_no_adobe",
  "ycck444",
  "ycck444_progressive",
  "ycck420_progressive",
  "ycck440_progressive",
  "ycck411_progressive",
  "ycck420",
  "ycck422_restarts",
];

Deno.test("JPEG decodes to PIL's pixels: subsamplings, progressive, restarts, greyscale, CMYK, YCCK", async () => {
  const names = manifest.cases.map((c) => c.name);
  const wanted = ["ycc420", "ycc422", "ycc444", "progressive420", "greyscale"];
  for (const want of [...wanted, ...FOUR_COMPONENT_CASES]) {
    assertEquals(names.includes(want), true, `fixture ${want}`);
  }
  for (const c of manifest.cases) {
    const img = await loadImage(join(DIR, `${c.name}.jpg`));
    const pil = await Deno.readFile(join(DIR, `${c.name}.rgb`));
    assertEquals([img.width, img.height], [c.width, c.height], c.name);
    assertEquals(diff(img.data, pil), { max: 0, count: 0 }, `${c.name} (PIL ${manifest.pillow})`);
  }
});

Deno.test("four-component fixtures cover what they claim: Adobe transform, sampling, progressive", async () => {
  const adobe = (b: Uint8Array) => {
    const at = markerAt(b, 0xee);
    return at < 0 ? null : b[at + 15];
  };
  const factors = (b: Uint8Array) => {
    for (let at = 2; at < b.length - 9;) {
      const m = b[at + 1];
      if (m === 0xc0 || m === 0xc2) {
        return Array.from({ length: b[at + 9] }, (_, i) => b[at + 11 + 3 * i].toString(16));
      }
      at += 2 + ((b[at + 2] << 8) | b[at + 3]);
    }
    throw new Error("no frame header");
  };
  const want: Record<string, [number | null, string[], boolean]> = {
    cmyk_c2x2: [0, ["22", "11", "11", "11"], false],
    cmyk_c2x1: [0, ["21", "11", "11", "11"], false],
    cmyk_progressive: [0, ["11", "11", "11", "11"], true],
    cmyk_no_adobe: [null, ["11", "11", "11", "11"], false],
    ycck444: [2, ["11", "11", "11", "11"], false],
    ycck420_progressive: [2, ["22", "11", "11", "22"], true],
    ycck440_progressive: [2, ["12", "11", "11", "12"], true],
    ycck411_progressive: [2, ["41", "11", "11", "41"], true],
    ycck420: [2, ["22", "11", "11", "22"], false],
    ycck422_restarts: [2, ["21", "11", "11", "21"], false],
  };
  for (const [name, [transform, sampling, progressive]] of Object.entries(want)) {
    const bytes = await Deno.readFile(join(DIR, `${name}.jpg`));
    assertEquals(adobe(bytes), transform, name);
    assertEquals(factors(bytes), sampling, name);
    assertEquals(readJpegFrame(bytes).progressive, progressive, name);
  }
  for (const name of ["cmyk_restarts", "ycck422_restarts"]) {
    const bytes = await Deno.readFile(join(DIR, `${name}.jpg`));
    assertGreater(markerAt(bytes, 0xdd), 0, `${name} has a restart interval`);
  }
});

Deno.test("jpeg-js, the CMYK decoder before, misses PIL by one level (why it was replaced)", async () => {
  const bytes = await Deno.readFile(join(DIR, "cmyk.jpg"));
  const pil = await Deno.readFile(join(DIR, "cmyk.rgb"));
  const old = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
  const d = diff(old.data, pil);
  assertGreater(d.count, 0);
  assertLessOrEqual(d.max, 1);
});

Deno.test("fancy upsampling: libjpeg's triangle filters and rounding biases, by hand", () => {
  // h2v1: outputs ¾·nearest + ¼·next, +1 (even) / +2 (odd) before the shift; edges copied.
  const row = { data: new Uint8Array([0, 100, 200, 0]), stride: 4, width: 4, height: 1 };
  assertEquals(Array.from(upsample(row, 2, 1, 8, 1)), [0, 25, 75, 125, 175, 150, 50, 0]);
  // h1v2 on a 1 × 2 column: (3·near + far + 1) >> 2 above, (… + 2) >> 2 below; edge rows repeat.
  const col = { data: new Uint8Array([0, 0, 0, 0, 101, 0, 0, 0]), stride: 4, width: 1, height: 2 };
  assertEquals(Array.from(upsample(col, 1, 2, 1, 4)), [0, 25, 76, 101]);
  // h2v2: column sums 3·near + far, then (3·this + neighbour + 8 | 7) >> 4; corners (4·s + 8 | 7) >> 4.
  const sq = { data: new Uint8Array([0, 160, 0, 80, 0, 0]), stride: 3, width: 3, height: 2 };
  // Column sums for output row 0 (row above = row 0): [0, 640, 0]; row 1 (below = row 1): [80, 480, 0].
  assertEquals(Array.from(upsample(sq, 2, 2, 6, 2)), [
    0,
    40,
    120,
    120,
    40,
    0,
    (80 * 4 + 8) >> 4,
    (80 * 3 + 480 + 7) >> 4,
    (480 * 3 + 80 + 8) >> 4,
    (480 * 3 + 0 + 7) >> 4,
    (0 * 3 + 480 + 8) >> 4,
    (0 * 4 + 7) >> 4,
  ]);
  // Replication for other integral ratios (4 × 1).
  const four = { data: new Uint8Array([7, 9]), stride: 2, width: 2, height: 1 };
  assertEquals(Array.from(upsample(four, 4, 1, 7, 1)), [7, 7, 7, 7, 9, 9, 9]);
});

Deno.test("jpeg-js misses PIL on chroma-subsampled files (why the decoder changed)", async () => {
  const bytes = await Deno.readFile(join(DIR, "ycc420.jpg"));
  const pil = await Deno.readFile(join(DIR, "ycc420.rgb"));
  const old = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
  assertGreater(diff(old.data, pil).max, 10);
});

Deno.test("JPEG frame header: size, components, progressive", async () => {
  const frame = readJpegFrame(await Deno.readFile(join(DIR, "progressive420.jpg")));
  assertEquals(frame, { width: 41, height: 29, components: 3, precision: 8, progressive: true });
  const grey = readJpegFrame(await Deno.readFile(join(DIR, "greyscale.jpg")));
  assertEquals([grey.components, grey.progressive], [1, false]);
  assertEquals(readJpegFrame(await Deno.readFile(join(DIR, "cmyk.jpg"))).components, 4);
});

/** `bytes` with the frame header's height, width and precision replaced. */
function withFrame(bytes: Uint8Array, edit: { width?: number; height?: number; bits?: number }) {
  const out = bytes.slice();
  for (let at = 2; at < out.length - 9;) {
    const m = out[at + 1];
    if (m >= 0xc0 && m <= 0xc2) {
      if (edit.bits !== undefined) out[at + 4] = edit.bits;
      if (edit.height !== undefined) out.set([edit.height >> 8, edit.height & 255], at + 5);
      if (edit.width !== undefined) out.set([edit.width >> 8, edit.width & 255], at + 7);
      return out;
    }
    at += 2 + ((out[at + 2] << 8) | out[at + 3]);
  }
  throw new Error("no frame header");
}

async function refused(bytes: Uint8Array, name: string, ...parts: string[]): Promise<void> {
  const e = await assertRejects(() => decodeImage(bytes, name));
  assertInstanceOf(e, InputError);
  assertStringIncludes(e.message, name);
  for (const p of parts) assertStringIncludes(e.message, p);
}

Deno.test("bad JPEG and PNG input: too large, truncated, unsupported — errors name the file", async () => {
  const good = await Deno.readFile(join(DIR, "ycc420.jpg"));
  // 65535 × 65535 pixels: refused from the header, before any pixel memory is allocated.
  await refused(
    withFrame(good, { width: 65535, height: 65535 }),
    "huge.jpg",
    "65535 × 65535",
    "resize",
  );
  await refused(withFrame(good, { bits: 12 }), "deep.jpg", "12-bit", "8-bit");
  await refused(good.subarray(0, 100), "head.jpg", "truncated");
  await refused(good.subarray(0, good.length - 600), "cut.jpg", "truncated");
  await refused(good.subarray(0, 20), "tiny.jpg", "corrupt JPEG");
  // PNG: width × height read from IHDR first.
  const png = encodePng({ width: 2, height: 2, data: new Uint8Array(12), channels: 3, depth: 8 });
  const huge = png.slice();
  const v = new DataView(huge.buffer);
  v.setUint32(16, 20000);
  v.setUint32(20, 20000);
  await refused(huge, "huge.png", "20000 × 20000", String(MAX_IMAGE_PIXELS));
});

/** Offset of the first marker `code` in `bytes` (walking segments), or -1. */
function markerAt(bytes: Uint8Array, code: number): number {
  for (let at = 2; at < bytes.length - 3;) {
    if (bytes[at + 1] === code) return at;
    if (bytes[at + 1] === 0xda) return -1;
    at += 2 + ((bytes[at + 2] << 8) | bytes[at + 3]);
  }
  return -1;
}

Deno.test("bad four-component JPEGs: unsupported variants and cut files are errors naming the file", async () => {
  const cmyk = await Deno.readFile(join(DIR, "cmyk_ink.jpg"));
  const sof = markerAt(cmyk, 0xc0);
  const arithmetic = cmyk.slice();
  arithmetic[sof + 1] = 0xc9;
  await refused(arithmetic, "arith.jpg", "arithmetic-coded", "supported: 8-bit baseline");
  const lossless = cmyk.slice();
  lossless[sof + 1] = 0xc3;
  await refused(lossless, "lossless.jpg", "lossless JPEG", "not supported");
  // Sampling factors 3×1 and 2×1: 2 does not divide 3, which libjpeg refuses too.
  const odd = cmyk.slice();
  odd[sof + 11] = 0x31;
  odd[sof + 14] = 0x21;
  await refused(odd, "odd.jpg", "3×1, 2×1, 1×1, 1×1", "must divide the largest");
  await refused(cmyk.subarray(0, cmyk.length - 300), "cut.jpg", "truncated");
  await refused(cmyk.subarray(0, cmyk.length - 2), "noeoi.jpg", "truncated");
  // A progressive file stopped after its first scan (DC only) but closed with EOI: libjpeg
  // would smooth the blocks, which is not implemented, so it is refused rather than approximated.
  const prog = await Deno.readFile(join(DIR, "cmyk_progressive.jpg"));
  const sos = markerAt(prog, 0xda);
  let next = sos + 2;
  while (
    !(prog[next] === 0xff && prog[next + 1] !== 0 &&
      (prog[next + 1] < 0xd0 || prog[next + 1] > 0xd7))
  ) {
    next++;
  }
  const dcOnly = new Uint8Array([...prog.subarray(0, next), 0xff, 0xd9]);
  await refused(dcOnly, "dc.jpg", "low-frequency coefficients incomplete", "not supported");
});
