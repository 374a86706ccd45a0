/**
 * JPEG decoding against PIL: the files in tests/fixtures/jpeg_pil/ (written and decoded by
 * Pillow / libjpeg-turbo, see make_fixtures.py there) must decode to PIL's RGB bytes — exactly
 * for 4:2:0, 4:2:2, 4:4:4, progressive, restart markers and greyscale; within one level for
 * CMYK. jpeg-js, the decoder used before, is shown to miss PIL on 4:2:0 (so the comparison can
 * fail). Also: header-first size limits for JPEG and PNG, truncated and unsupported files.
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

Deno.test("JPEG decodes to PIL's pixels: subsamplings, progressive, restarts, greyscale, CMYK", async () => {
  const names = manifest.cases.map((c) => c.name);
  for (const want of ["ycc420", "ycc422", "ycc444", "progressive420", "greyscale", "cmyk"]) {
    assertEquals(names.includes(want), true, `fixture ${want}`);
  }
  for (const c of manifest.cases) {
    const img = await loadImage(join(DIR, `${c.name}.jpg`));
    const pil = await Deno.readFile(join(DIR, `${c.name}.rgb`));
    assertEquals([img.width, img.height], [c.width, c.height], c.name);
    const d = diff(img.data, pil);
    if (c.mode === "CMYK") {
      assertLessOrEqual(d.max, 1, `${c.name}: ${d.count} samples differ, by up to ${d.max}`);
    } else {
      assertEquals(d, { max: 0, count: 0 }, `${c.name} (PIL ${manifest.pillow})`);
    }
  }
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
