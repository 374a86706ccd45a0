#!/usr/bin/python3
"""After training: redraws loss_curve.svg and fills the README's training-time and quality
sections from train_log.csv and eval.json (run from anywhere)."""
import csv
import json
import os
import re

import plot_loss

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    plot_loss.main()
    rows = list(csv.DictReader(open(os.path.join(HERE, "train_log.csv"))))
    last = rows[-1]
    ev = json.load(open(os.path.join(HERE, "eval.json")))
    pct = lambda x: f"{100 * x:.1f}%"  # noqa: E731
    training = (
        "<!-- training:start -->\n"
        f"Training: {last['step']} steps in {float(last['elapsed_s']) / 60:.0f} min on this "
        "project's 2-core CPU (Debian PyTorch, fp32). Final batch losses: answer "
        f"{float(last['lm_loss']):.4f}, auxiliary {float(last['aux_loss']):.4f}.\n"
        "<!-- training:end -->"
    )
    kinds = ", ".join(f"{k} {pct(v)}" for k, v in ev["short_by_kind"].items())
    quality = (
        "<!-- quality:start -->\n"
        f"Measured by `train.py --eval-only` on the first {ev['test_scenes']} scenes of the test split "
        "(seed 3, never seen in training), greedy decoding, PyTorch fp32:\n\n"
        "| metric | value | bar |\n| --- | --- | --- |\n"
        f"| objects described fully right | {pct(ev['objects_fully_right'])} "
        f"({ev['counts']['objects']} objects) | ≥ 90% |\n"
        f"| descriptions with no invented object | {pct(ev['descriptions_without_invented_object'])} | ≥ 90% |\n"
        f"| descriptions exactly right | {pct(ev['descriptions_exact'])} | |\n"
        f"| short questions right | {pct(ev['short_questions_right'])} "
        f"({ev['counts']['short_questions']}) | ≥ 90% |\n\n"
        f"Short questions by kind: {kinds}.\n"
        "<!-- quality:end -->"
    )
    path = os.path.join(HERE, "README.md")
    text = open(path).read()
    for key, block in (("training", training), ("quality", quality)):
        pattern = re.compile(f"<!-- {key}:start -->.*?<!-- {key}:end -->", re.S)
        text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.replace(
            f"{key.upper()}_PLACEHOLDER" if key == "quality" else "TRAINING_TIME_PLACEHOLDER", block)
    open(path, "w").write(text)
    # Keep the README in the repository's Markdown style (tables aligned by deno fmt).
    os.system(f"deno fmt --quiet {path} 2>/dev/null")
    print(training)
    print(quality)


if __name__ == "__main__":
    main()
