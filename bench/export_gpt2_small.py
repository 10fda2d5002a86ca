"""Writes a GPT-2-small-shaped decoder as optimum exports it, for make bench.

  export_gpt2_small.py OUT

OUT/model.onnx (+ external data) is optimum-cli's text-generation-with-past
export (past_key_values.* in, present.* out: the layout optimum-onnx writes
by default) of GPT2LMHeadModel with GPT-2 small's configuration (12 layers,
768 wide, 12 heads, 50257 tokens, 1024 positions) and random weights (seed
0). Nothing is downloaded. The Go benchmark BenchmarkDecodeExport decodes it
natively (generate.Load: the cache shared in place) and through ONNX Runtime.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import torch
from transformers import GPT2Config, GPT2LMHeadModel

OUT = sys.argv[1]


def main():
    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12)
    model = GPT2LMHeadModel(cfg).eval()
    tmp = tempfile.mkdtemp()
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        cli = os.path.join(os.path.dirname(sys.executable), "optimum-cli")
        part = OUT + ".part"
        shutil.rmtree(part, ignore_errors=True)
        subprocess.run([cli, "export", "onnx", "--model", tmp, "--task", "text-generation-with-past", part], check=True)
        shutil.rmtree(OUT, ignore_errors=True)
        os.rename(part, OUT)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
