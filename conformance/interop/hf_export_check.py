#!/usr/bin/env python3
"""Hugging Face and ONNX exports of gort (package export) against transformers.

gort's TestHFExportCases (export/hfcases_test.go) builds every zoo
architecture (BERT sequence classification and masked LM, GPT-2 LM,
ViT classification, ViT-MAE pretraining) as `gort pretrain` saves it, plus
a BERT classifier fine-tuned with LoRA by package finetune, and exports each
with `gort export --format hf` and `--format onnx`; also a token classifier
and a sentence-embedding model (BertModel + mean pooling) from finetune. Each case folder holds
hf/ (config.json, model.safetensors), model.onnx, inputs.safetensors and
outputs.safetensors (gort's outputs on those inputs). This script, for every
case:

  * loads hf/ with transformers' from_pretrained (architecture from
    config.json; no missing or unexpected weights allowed), runs the inputs
    in float32 and compares every output gort wrote (tolerance TOL);
  * checks model.onnx with onnx.checker.check_model(full_check=True) and
    runs it in ONNX Runtime against gort's outputs.

    conformance/interop/hf_export_check.py [DIR]

Without DIR it runs `go test ./export -run TestHFExportCases` with
GORT_HF_EXPORT set to a temporary folder first. Needs torch, transformers,
safetensors, onnx and onnxruntime; it re-runs itself in
$GORT_INTEROP_VENV (default: the newest ~/.cache/gort/venv-interop-*, else
~/.cache/gort/venv-ft) when the current Python lacks them. Exit status 1
when any check fails.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

TOL = 1e-4
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def ensure_env():
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import safetensors  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        venv = os.environ.get("GORT_INTEROP_VENV")
        if not venv:
            cands = sorted(glob.glob(os.path.expanduser("~/.cache/gort/venv-interop-*")), key=os.path.getmtime)
            venv = cands[-1] if cands else os.path.expanduser("~/.cache/gort/venv-ft")
        py = os.path.join(venv, "bin", "python")
        if os.path.realpath(sys.prefix) == os.path.realpath(venv) or not os.path.exists(py):
            sys.exit("hf_export_check: torch, transformers, safetensors, onnx and onnxruntime are needed; "
                     f"python3 -m venv {venv} && {venv}/bin/pip install -r conformance/interop/requirements.txt")
        os.execv(py, [py] + sys.argv)


def compare(name, got, want):
    import numpy as np
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return f"{name}: shape {got.shape}, gort {want.shape}", float("inf")
    err = float(np.max(np.abs(got - want))) if got.size else 0.0
    bad = np.abs(got - want) > TOL + TOL * np.abs(want)
    return (f"{name}: max |diff| {err:.3g}" if bad.any() else None), err


def check_hf(case):
    import torch
    import transformers
    from safetensors.numpy import load_file
    cfg = json.load(open(os.path.join(case, "hf", "config.json")))
    arch = cfg["architectures"][0]
    cls = getattr(transformers, arch)
    model, info = cls.from_pretrained(os.path.join(case, "hf"), output_loading_info=True, attn_implementation="eager")
    problems = [f"{k}: {v}" for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")
                # an embedding model exported from a feature-extraction graph has no pooler; mean pooling never reads it
                and not (arch == "BertModel" and k == "missing_keys" and all(x.startswith("pooler.") for x in v))]
    model.eval()
    inputs = load_file(os.path.join(case, "inputs.safetensors"))
    want = load_file(os.path.join(case, "outputs.safetensors"))
    with torch.no_grad():
        out = model(**{k: torch.from_numpy(v) for k, v in inputs.items()})
    worst = 0.0
    for name, w in want.items():
        if w.dtype.kind != "f":
            continue
        got = getattr(out, name, None)
        if name == "sentence_embedding":
            # gort's embedding head: mean of last_hidden_state over the
            # attention mask (sentence-transformers' Pooling, mean mode)
            mask = torch.from_numpy(inputs["attention_mask"]).unsqueeze(-1).float()
            got = (out.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        if got is None:
            problems.append(f"{name}: transformers' output lacks it")
            continue
        msg, err = compare(name, got.float().numpy(), w)
        worst = max(worst, err)
        if msg:
            problems.append(msg)
    return arch, problems, worst


def check_onnx(case):
    import onnx
    import onnxruntime as ort
    from safetensors.numpy import load_file
    path = os.path.join(case, "model.onnx")
    problems = []
    try:
        onnx.checker.check_model(path, full_check=True)
    except Exception as e:  # noqa: BLE001
        problems.append(f"onnx checker: {e}")
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    inputs = load_file(os.path.join(case, "inputs.safetensors"))
    want = load_file(os.path.join(case, "outputs.safetensors"))
    names = [o.name for o in sess.get_outputs()]
    outs = sess.run(names, {i.name: inputs[i.name] for i in sess.get_inputs()})
    worst = 0.0
    for name, got in zip(names, outs):
        if name in want and want[name].dtype.kind == "f":
            msg, err = compare("onnx " + name, got, want[name])
            worst = max(worst, err)
            if msg:
                problems.append(msg)
    return problems, worst


def main():
    ensure_env()
    root = sys.argv[1] if len(sys.argv) > 1 else None
    if root is None:
        root = tempfile.mkdtemp(prefix="gort-hf-export-")
        env = dict(os.environ, GORT_HF_EXPORT=root)
        subprocess.run(["go", "test", "-count=1", "-run", "TestHFExportCases", "./export/"], cwd=ROOT, env=env, check=True)
    failed = 0
    for case in sorted(glob.glob(os.path.join(root, "*"))):
        if not os.path.exists(os.path.join(case, "case.json")):
            continue
        arch, problems, hf_err = check_hf(case)
        oproblems, onnx_err = check_onnx(case)
        problems += oproblems
        status = "ok" if not problems else "FAIL"
        print(f"{status:4} {os.path.basename(case)} ({arch}): transformers max |diff| {hf_err:.3g}, "
              f"onnxruntime max |diff| {onnx_err:.3g}")
        for p in problems:
            print("     " + p)
        failed += bool(problems)
    print(f"hf_export_check: {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
