import { assertAlmostEquals, assertEquals } from "@std/assert";
import { lcsWords, meanRougeL, rougeL, rougeSentences } from "../../lib/metrics/rouge.ts";

/**
 * Golden values from the Python `rouge` package (pltrdy/rouge 1.0.1, rouge/rouge.py and
 * rouge/rouge_score.py run unmodified): `Rouge(metrics=["rouge-l"]).get_scores(hyp, ref)[0]`.
 * They cover multi-sentence texts, repeated words (sets: counted once), the LCS backtrack's tie
 * order, whitespace runs, case sensitivity and a trailing ". " (an empty sentence "").
 */
const GOLDEN: { hyp: string; ref: string; p: number; r: number; f: number }[] = [
  {
    "hyp": "There is one red circle.",
    "ref": "There is one blue circle.",
    "p": 0.8,
    "r": 0.8,
    "f": 0.7999999950000002,
  },
  {
    "hyp": "the cat sat on the mat. the dog ran.",
    "ref": "the dog sat. the cat ran on the mat.",
    "p": 1.0,
    "r": 1.0,
    "f": 0.999999995,
  },
  {
    "hyp": "a b c d e. a c e.",
    "ref": "a b c d e.",
    "p": 1.0,
    "r": 1.0,
    "f": 0.999999995,
  },
  {
    "hyp": "w1 w2 w6 w7 w8. w1 w3 w8 w9 w5",
    "ref": "w1 w2 w3 w4 w5",
    "p": 0.5,
    "r": 0.8,
    "f": 0.6153846106508877,
  },
  {
    "hyp":
      "There are three objects. A large blue circle is at the top right. A small red circle is at the top.</s>",
    "ref":
      "There are three objects. A large blue circle is at the top right. A small red circle is at the top. A small red circle is at the bottom.</s>",
    "p": 1.0,
    "r": 0.9411764705882353,
    "f": 0.9696969647015611,
  },
  {
    "hyp": "There is one object.",
    "ref":
      "There are two objects. A small green square is at the left. A large red diamond is at the center.",
    "p": 0.5,
    "r": 0.125,
    "f": 0.19999999680000002,
  },
  {
    "hyp": "a a a b",
    "ref": "a b a b a",
    "p": 0.5,
    "r": 0.5,
    "f": 0.4999999950000001,
  },
  {
    "hyp": "x y. ",
    "ref": "x y z. ",
    "p": 1.0,
    "r": 0.75,
    "f": 0.8571428522448981,
  },
  {
    "hyp": "A   B\tC.\n\nD",
    "ref": "A B. C D",
    "p": 1.0,
    "r": 1.0,
    "f": 0.999999995,
  },
  {
    "hyp": "Red RED red.",
    "ref": "red",
    "p": 0.3333333333333333,
    "r": 1.0,
    "f": 0.4999999962500001,
  },
  {
    "hyp": "b a. a b",
    "ref": "a b. b a",
    "p": 1.0,
    "r": 1.0,
    "f": 0.999999995,
  },
  {
    "hyp": "one two three four. five six",
    "ref": "six five. four three two one",
    "p": 0.3333333333333333,
    "r": 0.3333333333333333,
    "f": 0.3333333283333334,
  },
];

Deno.test("rougeL equals the Python rouge package on every golden case", () => {
  for (const c of GOLDEN) {
    const s = rougeL(c.hyp, c.ref);
    const what = `hyp ${JSON.stringify(c.hyp)} ref ${JSON.stringify(c.ref)}`;
    assertAlmostEquals(s.p, c.p, 1e-12, `p of ${what}`);
    assertAlmostEquals(s.r, c.r, 1e-12, `r of ${what}`);
    assertAlmostEquals(s.f, c.f, 1e-12, `f of ${what}`);
  }
});

Deno.test("rougeL by hand: the union LCS of the ROUGE working note's example", () => {
  // r = w1..w5; c1 = w1 w2 w6 w7 w8 and c2 = w1 w3 w8 w9 w5 give the union {w1, w2, w3, w5}:
  // 4 of the reference's 5 distinct words, 4 of the candidate's 8.
  const s = rougeL("w1 w2 w6 w7 w8. w1 w3 w8 w9 w5", "w1 w2 w3 w4 w5");
  assertEquals([s.p, s.r], [4 / 8, 4 / 5]);
  assertAlmostEquals(s.f, (2 * 0.5 * 0.8) / (0.5 + 0.8 + 1e-8), 1e-15);
});

Deno.test("rougeSentences splits on '.', drops empty pieces, collapses whitespace", () => {
  assertEquals(rougeSentences("A  b.\tC d. "), ["A b", "C d", ""]);
  assertEquals(rougeSentences("No stop"), ["No stop"]);
  assertEquals(rougeSentences("..."), []);
});

Deno.test("lcsWords walks back towards the hypothesis' start on ties", () => {
  // Both "a a b" and "a a a" are longest; the package's backtrack reconstructs "a a a".
  assertEquals(lcsWords(["a", "b", "a", "b", "a"], ["a", "a", "a", "b"]), ["a", "a", "a"]);
  assertEquals(lcsWords(["x"], ["y"]), []);
});

Deno.test("rougeL scores an empty side 0 (the package raises) and identical texts ~1", () => {
  assertEquals(rougeL("", "There is one object."), { p: 0, r: 0, f: 0 });
  assertEquals(rougeL("There is one object.", "..."), { p: 0, r: 0, f: 0 });
  assertAlmostEquals(rougeL("There is one object.", "There is one object.").f, 1, 1e-7);
});

Deno.test("meanRougeL averages the per-pair F", () => {
  const pairs = [
    { hypothesis: "a b", reference: "a b" },
    { hypothesis: "c", reference: "d" },
  ];
  assertAlmostEquals(meanRougeL(pairs), (rougeL("a b", "a b").f + 0) / 2, 1e-15);
  assertEquals(meanRougeL([]), 0);
});
