"""Builds the references gort's generate package is checked against.

Writes into OUT (first argument):
  model/            a tiny GPT-2 (fixed seed) saved with save_pretrained
                    (model.safetensors + config.json) and its tokenizer
                    (a byte-level BPE trained here on generated text)
  onnx-nopast/      optimum export, task text-generation (model.onnx, no past)
  onnx-withpast/    optimum export, text-generation-with-past (one model.onnx
                    taking past_key_values.*, optimum-onnx's default)
  onnx-split/       decoder_model.onnx + decoder_with_past_model.onnx
  onnx-merged/      decoder_model_merged.onnx (an If on use_cache_branch)
  refs.json         transformers' greedy generate ids per prompt, with and
                    without cache, single and batched (left padding)

No download: the tokenizer is trained and the model initialized locally.
"""
import json
import os
import random
import subprocess
import sys

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

OUT = sys.argv[1]
MAX_NEW = 24
PROMPTS = [
    "the quick brown fox",
    "hello world, this is",
    "a",
    "numbers 12 34 and words go here together",
]


def corpus(n=3000, seed=7):
    rng = random.Random(seed)
    words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "hello", "world",
             "this", "is", "a", "test", "of", "tiny", "models", "numbers", "and", "words",
             "go", "here", "together", "gort", "runs", "onnx", "graphs", "in", "go"]
    for _ in range(n):
        k = rng.randint(3, 12)
        s = " ".join(rng.choice(words) for _ in range(k))
        if rng.random() < 0.3:
            s += " " + str(rng.randint(0, 999))
        yield s + rng.choice([".", ",", "!", "?", ""])


def inputs(enc):
    """GPT-2's inputs: PreTrainedTokenizerFast also returns token_type_ids,
    which GPT2LMHeadModel would embed with wte (GPT2TokenizerFast does not
    return them, and the exports take none)."""
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


def main():
    os.makedirs(OUT, exist_ok=True)
    mdir = os.path.join(OUT, "model")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    os.makedirs(mdir, exist_ok=True)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   unk_token="<|endoftext|>", pad_token="<|endoftext|>")
    fast.save_pretrained(mdir)
    eos = tok.token_to_id("<|endoftext|>")

    torch.manual_seed(1234)
    cfg = GPT2Config(vocab_size=tok.get_vocab_size(), n_positions=128, n_embd=64, n_layer=2, n_head=4,
                     initializer_range=0.3, bos_token_id=eos, eos_token_id=eos, pad_token_id=eos)
    model = GPT2LMHeadModel(cfg).eval()
    model.generation_config.pad_token_id = eos
    model.save_pretrained(mdir, safe_serialization=True)
    # References come from the saved checkpoint, as every consumer sees it.
    model = GPT2LMHeadModel.from_pretrained(mdir).eval()

    refs = {"eos": eos, "max_new_tokens": MAX_NEW, "prompts": []}
    with torch.no_grad():
        for p in PROMPTS:
            ids = inputs(fast(p, return_tensors="pt"))
            row = {"prompt": p, "input_ids": ids["input_ids"][0].tolist()}
            for cache in (True, False):
                out = model.generate(**ids, do_sample=False, max_new_tokens=MAX_NEW, use_cache=cache)
                row["cache" if cache else "nocache"] = out[0, ids["input_ids"].shape[1]:].tolist()
            refs["prompts"].append(row)
        fast.padding_side = "left"
        enc = inputs(fast(PROMPTS, return_tensors="pt", padding=True))
        out = model.generate(**enc, do_sample=False, max_new_tokens=MAX_NEW)
        refs["batch"] = {"input_ids": enc["input_ids"].tolist(), "attention_mask": enc["attention_mask"].tolist(),
                         "new": out[:, enc["input_ids"].shape[1]:].tolist()}
    with open(os.path.join(OUT, "refs.json"), "w") as f:
        json.dump(refs, f, indent=1)

    cli = os.path.join(os.path.dirname(sys.executable), "optimum-cli")
    for name, task in [("onnx-nopast", "text-generation"), ("onnx-withpast", "text-generation-with-past")]:
        subprocess.run([cli, "export", "onnx", "--model", mdir, "--task", task, os.path.join(OUT, name)], check=True)
    export_legacy(model, os.path.join(OUT, "onnx-split"), os.path.join(OUT, "onnx-merged"))


def export_legacy(model, split_dir, merged_dir):
    """The layouts optimum 1.x wrote for text-generation-with-past:
    decoder_model.onnx (no past inputs, present outputs) with
    decoder_with_past_model.onnx, and both merged into one graph with an If
    on use_cache_branch (merge_decoders). optimum-onnx now writes a single
    model with past inputs by default, so they are exported explicitly."""
    from pathlib import Path

    from optimum.exporters.onnx.convert import export_models
    from optimum.exporters.onnx.model_configs import GPT2OnnxConfig
    from optimum.onnx.graph_transformations import merge_decoders

    cfgs = {
        "decoder_model": (model, GPT2OnnxConfig(model.config, task="text-generation", use_past=True, use_past_in_inputs=False)),
        "decoder_with_past_model": (model, GPT2OnnxConfig(model.config, task="text-generation", use_past=True, use_past_in_inputs=True)),
    }
    os.makedirs(split_dir, exist_ok=True)
    export_models(cfgs, Path(split_dir), output_names=[k + ".onnx" for k in cfgs])
    os.makedirs(merged_dir, exist_ok=True)
    merge_decoders(decoder=os.path.join(split_dir, "decoder_model.onnx"),
                   decoder_with_past=os.path.join(split_dir, "decoder_with_past_model.onnx"),
                   save_path=os.path.join(merged_dir, "decoder_model_merged.onnx"))

if __name__ == "__main__":
    main()
