/**
 * JPEG entropy decoding to quantized DCT coefficients (ITU-T T.81): baseline and extended
 * sequential (SOF0/SOF1) and progressive (SOF2) Huffman files with 8-bit samples, restart
 * markers, interleaved and single-component scans, and progressive successive approximation
 * (DC and AC, first and refinement scans, end-of-band runs). Everything else (arithmetic
 * coding, lossless, hierarchical, 12-bit, DNL) is an {@link InputError} naming the file and what
 * is supported, never an approximation.
 *
 * The output is what libjpeg keeps in its coefficient buffer: per component, blocks of 64
 * coefficients in natural (row-major) order, covering whole MCUs, with the quantization table
 * latched at the component's first scan (as libjpeg does).
 *
 * @module
 */

import { InputError } from "../errors.ts";

/** One colour component of a frame and its decoded coefficients. */
export interface JpegComponent {
  /** Component identifier from the frame header. */
  id: number;
  /** Horizontal sampling factor (1–4). */
  h: number;
  /** Vertical sampling factor (1–4). */
  v: number;
  /** Samples per line of this component: ceil(width × h / hmax) (libjpeg's downsampled_width). */
  width: number;
  /** Lines of this component: ceil(height × v / vmax). */
  height: number;
  /** Blocks per row in the coefficient buffer (whole MCUs). */
  blocksWide: number;
  /** Block rows in the coefficient buffer (whole MCUs). */
  blocksHigh: number;
  /** Coefficients, 64 per block in natural order, block rows top to bottom. */
  coefficients: Int32Array;
  /** The quantization table (natural order) latched at the component's first scan. */
  quant: Int32Array;
}

/** A decoded frame: geometry, Adobe colour transform and every component's coefficients. */
export interface JpegCoefficients {
  /** Image width in pixels. */
  width: number;
  /** Image height in pixels. */
  height: number;
  /** Largest horizontal sampling factor. */
  hMax: number;
  /** Largest vertical sampling factor. */
  vMax: number;
  /** True for progressive (SOF2) files. */
  progressive: boolean;
  /** Components in frame order. */
  components: JpegComponent[];
  /** The Adobe APP14 marker's transform flag (0 none, 1 YCbCr, 2 YCCK), or null without one. */
  adobeTransform: number | null;
}

/** Zigzag index → natural (row-major) index within an 8 × 8 block. */
export const ZIGZAG_TO_NATURAL: Int32Array = (() => {
  const out = new Int32Array(64);
  let i = 0;
  for (let s = 0; s < 15; s++) { // anti-diagonals r + c = s, alternating direction
    for (let t = 0; t <= s; t++) {
      const r = s % 2 === 0 ? s - t : t, c = s - r;
      if (r < 8 && c < 8) out[i++] = r * 8 + c;
    }
  }
  return out;
})();

const SUPPORTED = "supported: 8-bit baseline, extended sequential and progressive Huffman JPEG";

/**
 * A canonical Huffman table: codes of up to 9 bits through a 512-entry lookahead table
 * (entry = (code length << 8) | symbol), longer ones through the first and last code of each
 * length.
 */
class HuffmanTable {
  readonly fast = new Uint16Array(1 << FAST_BITS);
  /** Per length: last code (−1 if none), and the symbol index minus the first code. */
  readonly maxCode = new Int32Array(17).fill(-1);
  readonly offset = new Int32Array(17);
  constructor(counts: Uint8Array, readonly symbols: Uint8Array, bad: (why: string) => Error) {
    let code = 0, k = 0;
    for (let len = 1; len <= 16; len++) {
      const n = counts[len - 1];
      // As libjpeg: the all-ones code of a length is reserved (a table using it is refused).
      if (code + n >= 1 << len) throw bad("a Huffman table has more codes than its lengths allow");
      this.offset[len] = k - code;
      for (let i = 0; i < n; i++, code++, k++) {
        if (len <= FAST_BITS) {
          const span = 1 << (FAST_BITS - len), start = code << (FAST_BITS - len);
          this.fast.fill((len << 8) | symbols[k], start, start + span);
        }
      }
      if (n) this.maxCode[len] = code - 1;
      code <<= 1;
    }
  }
}

const FAST_BITS = 9;

/** Reads the bits of one entropy-coded segment, removing stuffed zero bytes after 0xFF. */
class BitReader {
  pos: number;
  private acc = 0;
  private bits = 0;
  /** Zero bits appended after the segment's end; consuming them means the data ran out. */
  private padding = 0;
  private atMarker = false;
  constructor(private readonly data: Uint8Array, start: number, private readonly bad: () => Error) {
    this.pos = start;
  }
  private fill(): void {
    while (this.bits <= 24) {
      let byte = 0;
      if (!this.atMarker && this.pos < this.data.length) {
        byte = this.data[this.pos];
        if (byte === 0xff) {
          if (this.data[this.pos + 1] === 0x00) this.pos += 2;
          else {
            this.atMarker = true;
            byte = 0;
          }
        } else this.pos++;
      } else this.atMarker = true;
      if (this.atMarker) this.padding += 8;
      this.acc = (this.acc << 8) | byte;
      this.bits += 8;
    }
  }
  private consume(n: number): void {
    this.bits -= n;
    if (this.bits < this.padding) throw this.bad();
  }
  bit(): number {
    if (this.bits < 1) this.fill();
    const b = (this.acc >>> (this.bits - 1)) & 1;
    this.consume(1);
    return b;
  }
  /** `n` (0–16) raw bits as an unsigned number. */
  read(n: number): number {
    if (n === 0) return 0;
    if (this.bits < n) this.fill();
    const v = (this.acc >>> (this.bits - n)) & ((1 << n) - 1);
    this.consume(n);
    return v;
  }
  /** `n` bits as a signed coefficient difference (T.81 EXTEND). */
  receiveExtend(n: number): number {
    if (n === 0) return 0;
    const v = this.read(n);
    return v < 1 << (n - 1) ? v - (1 << n) + 1 : v;
  }
  decode(table: HuffmanTable): number {
    if (this.bits < 16) this.fill();
    const e = table.fast[(this.acc >>> (this.bits - FAST_BITS)) & ((1 << FAST_BITS) - 1)];
    if (e !== 0) {
      this.consume(e >> 8);
      return e & 0xff;
    }
    const peek = (this.acc >>> (this.bits - 16)) & 0xffff;
    for (let len = FAST_BITS + 1; len <= 16; len++) {
      const code = peek >>> (16 - len);
      if (code <= table.maxCode[len]) {
        this.consume(len);
        return table.symbols[table.offset[len] + code];
      }
    }
    throw this.bad();
  }
  /** Drops buffered bits and moves to the next marker; returns its code (0 at end of data). */
  nextMarker(): number {
    this.acc = this.bits = this.padding = 0;
    this.atMarker = false;
    while (this.pos + 1 < this.data.length) {
      if (this.data[this.pos] === 0xff) {
        const m = this.data[this.pos + 1];
        if (m !== 0x00 && m !== 0xff) return m;
      }
      this.pos++;
    }
    return 0;
  }
}

interface ScanComponent {
  comp: JpegComponent;
  dc: HuffmanTable | undefined;
  ac: HuffmanTable | undefined;
  pred: number;
}

/**
 * Decodes a JPEG's markers and entropy-coded data to coefficients. Errors are
 * {@link InputError}s naming `name`: truncated or corrupt data, or an unsupported variant.
 *
 * @example
 * ```ts ignore
 * import { decodeJpegCoefficients } from "./jpeg_coefficients.ts";
 * const frame = decodeJpegCoefficients(await Deno.readFile("cmyk.jpg"), "cmyk.jpg");
 * console.log(frame.components.length, frame.adobeTransform);
 * ```
 */
export function decodeJpegCoefficients(bytes: Uint8Array, name = "image"): JpegCoefficients {
  const corrupt = (why: string) => new InputError(`${name}: corrupt JPEG image (${why})`);
  const truncated = () =>
    new InputError(
      `${name}: the JPEG image is truncated (its compressed data ends early); download or ` +
        `export it again`,
    );
  const unsupported = (what: string) =>
    new InputError(`${name}: ${what} is not supported (${SUPPORTED})`);
  const u16 = (at: number) => (bytes[at] << 8) | bytes[at + 1];
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) throw corrupt("no start-of-image marker");

  const quant: (Int32Array | undefined)[] = [];
  const dcTables: (HuffmanTable | undefined)[] = [];
  const acTables: (HuffmanTable | undefined)[] = [];
  let frame: JpegCoefficients | null = null;
  const quantIds = new Map<JpegComponent, number>();
  // Progressive: each component's lowest bit received per coefficient (-1: none yet).
  const precision = new Map<JpegComponent, Int8Array>();
  const latched = new Set<JpegComponent>();
  let restartInterval = 0;
  let adobeTransform: number | null = null;
  let at = 2;

  for (;;) {
    // Find the next marker (fill bytes 0xFF may precede it).
    while (at < bytes.length && bytes[at] === 0xff && bytes[at + 1] === 0xff) at++;
    if (at + 1 >= bytes.length) break;
    if (bytes[at] !== 0xff) throw corrupt(`no marker at byte ${at}`);
    const marker = bytes[at + 1];
    if (marker === 0xd9) break; // EOI
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2;
      continue;
    }
    if (at + 4 > bytes.length) throw truncated();
    const len = u16(at + 2), body = at + 4, end = at + 2 + len;
    if (len < 2) throw corrupt(`marker 0x${marker.toString(16)} has length ${len}`);
    if (end > bytes.length) throw truncated();

    if (marker === 0xdb) { // DQT
      for (let p = body; p < end;) {
        const precision = bytes[p] >> 4, id = bytes[p] & 15;
        if (id > 3 || precision > 1) throw corrupt("bad quantization table header");
        const table = new Int32Array(64);
        p++;
        for (let k = 0; k < 64; k++) {
          table[ZIGZAG_TO_NATURAL[k]] = precision ? u16(p + 2 * k) : bytes[p + k];
        }
        p += precision ? 128 : 64;
        if (p > end) throw corrupt("quantization table longer than its marker");
        quant[id] = table;
      }
    } else if (marker === 0xc4) { // DHT
      for (let p = body; p < end;) {
        const cls = bytes[p] >> 4, id = bytes[p] & 15;
        if (cls > 1 || id > 3) throw corrupt("bad Huffman table header");
        const counts = bytes.subarray(p + 1, p + 17);
        const total = counts.reduce((a, b) => a + b, 0);
        if (p + 17 + total > end) throw corrupt("Huffman table longer than its marker");
        const table = new HuffmanTable(counts, bytes.subarray(p + 17, p + 17 + total), corrupt);
        (cls === 0 ? dcTables : acTables)[id] = table;
        p += 17 + total;
      }
    } else if (marker === 0xdd) { // DRI
      restartInterval = u16(body);
    } else if (marker === 0xee) { // APP14: Adobe's colour transform
      if (len >= 14 && String.fromCharCode(...bytes.subarray(body, body + 5)) === "Adobe") {
        adobeTransform = bytes[body + 11];
      }
    } else if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xcc) {
      if (frame) throw unsupported("a JPEG with more than one frame (hierarchical)");
      if (marker === 0xc3 || marker === 0xc7 || marker === 0xcb || marker === 0xcf) {
        throw unsupported("lossless JPEG");
      }
      if (marker >= 0xc9) throw unsupported("arithmetic-coded JPEG");
      if (marker >= 0xc5) throw unsupported("hierarchical JPEG");
      if (bytes[body] !== 8) throw unsupported(`${bytes[body]}-bit JPEG`);
      const height = u16(body + 1), width = u16(body + 3), count = bytes[body + 5];
      if (height === 0) throw unsupported("a JPEG whose height comes after the scan (DNL)");
      if (count === 0 || len < 8 + 3 * count) throw corrupt("bad frame header");
      const specs: { id: number; h: number; v: number; q: number }[] = [];
      for (let i = 0; i < count; i++) {
        const p = body + 6 + 3 * i;
        const h = bytes[p + 1] >> 4, v = bytes[p + 1] & 15;
        if (h < 1 || h > 4 || v < 1 || v > 4) throw corrupt(`sampling factor ${h}×${v}`);
        specs.push({ id: bytes[p], h, v, q: bytes[p + 2] });
      }
      const hMax = Math.max(...specs.map((s) => s.h)), vMax = Math.max(...specs.map((s) => s.v));
      if (specs.some((s) => hMax % s.h !== 0 || vMax % s.v !== 0)) {
        throw unsupported(
          `a JPEG with sampling factors ${specs.map((s) => `${s.h}×${s.v}`).join(", ")} ` +
            `(each component's factors must divide the largest, as libjpeg requires)`,
        );
      }
      const mcusWide = Math.ceil(width / (8 * hMax)), mcusHigh = Math.ceil(height / (8 * vMax));
      frame = {
        width,
        height,
        hMax,
        vMax,
        progressive: marker === 0xc2,
        adobeTransform: null,
        components: specs.map((s) => ({
          id: s.id,
          h: s.h,
          v: s.v,
          width: Math.ceil((width * s.h) / hMax),
          height: Math.ceil((height * s.v) / vMax),
          blocksWide: mcusWide * s.h,
          blocksHigh: mcusHigh * s.v,
          coefficients: new Int32Array(mcusWide * s.h * mcusHigh * s.v * 64),
          quant: new Int32Array(64),
        })),
      };
      frame.components.forEach((c, i) => {
        quantIds.set(c, specs[i].q);
        precision.set(c, new Int8Array(64).fill(-1));
      });
    } else if (marker === 0xda) { // SOS
      if (!frame) throw corrupt("no frame header before the image data");
      const f: JpegCoefficients = frame;
      const n = bytes[body];
      const p = body + 1 + 2 * n;
      const ss = bytes[p], se = bytes[p + 1], ah = bytes[p + 2] >> 4, al = bytes[p + 2] & 15;
      const scan: ScanComponent[] = [];
      for (let i = 0; i < n; i++) {
        const id = bytes[body + 1 + 2 * i], tables = bytes[body + 2 + 2 * i];
        const comp = f.components.find((c) => c.id === id);
        if (!comp) throw corrupt(`scan names component ${id}, which the frame lacks`);
        if (!latched.has(comp)) {
          const q = quant[quantIds.get(comp)!];
          if (!q) throw corrupt(`component ${id} uses a quantization table never defined`);
          comp.quant.set(q);
          latched.add(comp);
        }
        scan.push({ comp, dc: dcTables[tables >> 4], ac: acTables[tables & 15], pred: 0 });
      }
      if (n < 1 || n > 4) throw corrupt(`scan of ${n} components`);
      if (f.progressive) {
        const okSpectrum = ss === 0 ? se === 0 : se >= ss && se <= 63 && n === 1;
        if (!okSpectrum || al > 13 || (ah !== 0 && ah !== al + 1)) {
          throw corrupt(`progressive scan parameters Ss=${ss} Se=${se} Ah=${ah} Al=${al}`);
        }
      } else if (ss !== 0 || se !== 63 || ah !== 0 || al !== 0) {
        throw corrupt("sequential scan with spectral selection");
      }
      for (const s of scan) {
        const needDc = ss === 0 && ah === 0, needAc = se > 0;
        if ((needDc && !s.dc) || (needAc && !s.ac)) {
          throw corrupt(`component ${s.comp.id} uses a Huffman table never defined`);
        }
      }
      for (const s of scan) precision.get(s.comp)!.fill(al, ss, se + 1);
      const reader = new BitReader(bytes, end, truncated);
      const eob = { run: 0 }; // end-of-band run, shared by the blocks of a scan
      const badRun = () => corrupt("a run of zero coefficients passes the end of a block");
      const decodeBlock = blockDecoder(f.progressive, ss, se, ah, al, reader, eob, badRun);
      // MCU geometry: one block per MCU for a single-component scan, else each component's h × v.
      const single = n === 1 ? scan[0].comp : null;
      const mcusWide = single ? Math.ceil(single.width / 8) : Math.ceil(f.width / (8 * f.hMax));
      const mcusHigh = single ? Math.ceil(single.height / 8) : Math.ceil(f.height / (8 * f.vMax));
      const total = mcusWide * mcusHigh;
      let expectedRst = 0;
      for (let mcu = 0; mcu < total; mcu++) {
        if (restartInterval && mcu > 0 && mcu % restartInterval === 0) {
          const m = reader.nextMarker();
          if (m !== 0xd0 + expectedRst) {
            throw m === 0 ? truncated() : corrupt(`restart marker RST${expectedRst} missing`);
          }
          reader.pos += 2;
          expectedRst = (expectedRst + 1) & 7;
          eob.run = 0;
          for (const s of scan) s.pred = 0;
        }
        const mx = mcu % mcusWide, my = (mcu - mx) / mcusWide;
        for (const s of scan) {
          const c = s.comp;
          const bw = single ? 1 : c.h, bh = single ? 1 : c.v;
          for (let by = 0; by < bh; by++) {
            for (let bx = 0; bx < bw; bx++) {
              const block = (my * bh + by) * c.blocksWide + mx * bw + bx;
              decodeBlock(s, c.coefficients, block * 64);
            }
          }
        }
      }
      const m = reader.nextMarker();
      if (m === 0) throw truncated();
      at = reader.pos;
      continue;
    } else if (marker === 0xdc) {
      throw unsupported("a JPEG with a DNL marker");
    }
    at = end;
  }
  if (!frame) throw truncated();
  if (at + 1 >= bytes.length) throw truncated(); // no EOI: the file was cut
  if (frame.progressive) {
    // libjpeg smooths the blocks of a progressive image whose low-frequency coefficients
    // (the first 10 in zigzag order) stay incomplete; that interpolation is not implemented.
    for (const c of frame.components) {
      const bits = precision.get(c)!;
      if (bits.subarray(0, 10).some((b) => b !== 0)) {
        throw unsupported(
          `a progressive JPEG whose scans leave component ${c.id}'s low-frequency ` +
            `coefficients incomplete (libjpeg would smooth its blocks)`,
        );
      }
    }
  }
  frame.adobeTransform = adobeTransform;
  return frame;
}

/** The per-block decoder of one scan (baseline, or one kind of progressive scan). */
function blockDecoder(
  progressive: boolean,
  ss: number,
  se: number,
  ah: number,
  al: number,
  r: BitReader,
  eob: { run: number },
  badRun: () => Error,
): (s: ScanComponent, out: Int32Array, base: number) => void {
  const zz = ZIGZAG_TO_NATURAL;
  if (!progressive) {
    return (s, out, base) => {
      s.pred += r.receiveExtend(r.decode(s.dc!));
      out[base] = s.pred;
      for (let k = 1; k < 64;) {
        const rs = r.decode(s.ac!), size = rs & 15, run = rs >> 4;
        if (size === 0) {
          if (run !== 15) break;
          k += 16;
          continue;
        }
        k += run;
        if (k > 63) throw badRun();
        out[base + zz[k++]] = r.receiveExtend(size);
      }
    };
  }
  if (ss === 0) {
    if (ah === 0) {
      return (s, out, base) => {
        s.pred += r.receiveExtend(r.decode(s.dc!));
        out[base] = s.pred * (1 << al);
      };
    }
    return (_s, out, base) => {
      if (r.bit()) out[base] |= 1 << al;
    };
  }
  if (ah === 0) {
    return (s, out, base) => {
      let run = eob.run;
      if (run > 0) {
        eob.run = run - 1;
        return;
      }
      for (let k = ss; k <= se;) {
        const rs = r.decode(s.ac!), size = rs & 15, zeros = rs >> 4;
        if (size === 0) {
          if (zeros < 15) {
            run = (1 << zeros) - 1 + r.read(zeros);
            eob.run = run;
            break;
          }
          k += 16;
          continue;
        }
        k += zeros;
        if (k > 63) throw badRun();
        out[base + zz[k++]] = r.receiveExtend(size) * (1 << al);
      }
    };
  }
  const p1 = 1 << al, m1 = -1 << al;
  const refine = (out: Int32Array, i: number) => {
    if (r.bit() && (out[i] & p1) === 0) out[i] += out[i] >= 0 ? p1 : m1;
  };
  return (s, out, base) => {
    let k = ss;
    let run = eob.run;
    if (run === 0) {
      for (; k <= se; k++) {
        const rs = r.decode(s.ac!);
        let zeros = rs >> 4, value = 0;
        if (rs & 15) {
          value = r.bit() ? p1 : m1;
        } else if (zeros !== 15) {
          run = (1 << zeros) + r.read(zeros);
          break;
        }
        // Skip `zeros` zero-history coefficients, refining the non-zero ones passed.
        for (; k <= se; k++) {
          const i = base + zz[k];
          if (out[i] !== 0) refine(out, i);
          else if (--zeros < 0) break;
        }
        if (value) {
          if (k > se) throw badRun();
          out[base + zz[k]] = value;
        }
      }
    }
    if (run > 0) {
      for (; k <= se; k++) {
        const i = base + zz[k];
        if (out[i] !== 0) refine(out, i);
      }
      run--;
    }
    eob.run = run;
  };
}
