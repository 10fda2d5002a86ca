#!/usr/bin/env python3
"""Parity of gort's model zoo (models/zoo) with Hugging Face transformers.

gort builds tiny BERT, GPT-2, ViT and ViT-MAE models, saves them as
save_pretrained would (config.json + model.safetensors), runs random inputs
natively and writes inputs and outputs. This script loads every folder with
transformers' from_pretrained (no missing or unexpected weights allowed),
runs the same inputs in float32 (eager and sdpa attention) and compares
every output, loss included.
Then the other direction: transformers initializes and saves each model
with its own save_pretrained, and gort (TestHFCheckpoints) loads those
folders strictly and compares its outputs with transformers'.

    conformance/interop/zoo_parity.py [DIR]

Needs torch, transformers and safetensors; by default it re-runs itself in
~/.cache/gort/venv-zoo (GORT_ZOO_VENV) when the current Python lacks them.
Exit status 1 when any output differs by more than TOL (absolute + relative).
"""
import json
import os
import subprocess
import sys

TOL = 1e-4
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def ensure_env():
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
        import safetensors  # noqa: F401
    except ImportError:
        venv = os.environ.get("GORT_ZOO_VENV", os.path.expanduser("~/.cache/gort/venv-zoo"))
        py = os.path.join(venv, "bin", "python")
        if os.path.realpath(sys.executable) == os.path.realpath(py) or not os.path.exists(py):
            sys.exit(f"zoo_parity: torch, transformers and safetensors are needed; "
                     f"python3 -m venv {venv} && {venv}/bin/pip install torch transformers safetensors")
        os.execv(py, [py] + sys.argv)


def write_fixtures(out):
    env = dict(os.environ, GORT_ZOO_PARITY=out)
    subprocess.run(["go", "test", "-count=1", "-run", "TestWriteParityFixtures", "./models/zoo"],
                   cwd=ROOT, env=env, check=True)


def check_case(path, attn):
    import torch
    import transformers
    from safetensors.torch import load_file

    meta = json.load(open(os.path.join(path, "gort.json")))
    cls = getattr(transformers, meta["arch"])
    model, info = cls.from_pretrained(path, output_loading_info=True, attn_implementation=attn)
    bad = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if bad:
        return None, f"loading: {bad}"
    model.eval()
    inputs = load_file(os.path.join(path, "inputs.safetensors"))
    want = load_file(os.path.join(path, "outputs.safetensors"))
    with torch.no_grad():
        got = model(**inputs, return_dict=True)
    worst = {}
    problems = []
    for name, w in want.items():
        g = getattr(got, name, None)
        if g is None:
            problems.append(f"transformers gives no {name}")
            continue
        g = g.detach()
        if g.shape != w.shape:
            if g.numel() == w.numel():
                g = g.reshape(w.shape)
            else:
                problems.append(f"{name}: shape {tuple(g.shape)} vs gort {tuple(w.shape)}")
                continue
        if not w.is_floating_point():
            ok = torch.equal(g.to(w.dtype), w)
            worst[name] = 0.0 if ok else float("inf")
            if not ok:
                problems.append(f"{name} differs")
            continue
        g = g.to(torch.float64)
        w = w.to(torch.float64)
        err = ((g - w).abs() / (1 + w.abs())).max().item()
        worst[name] = err
        if not err <= TOL:
            problems.append(f"{name}: max error {err:.3g}")
    return worst, "; ".join(problems)


def write_hf(path):
    """Saves a freshly initialized transformers model of the case (its own
    save_pretrained layout) and its outputs on the case's inputs under
    path/hf, for gort to load (TestHFCheckpoints)."""
    import torch
    import transformers
    from safetensors.torch import load_file, save_file

    meta = json.load(open(os.path.join(path, "gort.json")))
    config = transformers.AutoConfig.from_pretrained(path)
    model = getattr(transformers, meta["arch"])._from_config(config, attn_implementation="eager")
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.add_(torch.randn_like(p) * 0.05)  # move biases and norms off 0 and 1
    model.eval()
    hf = os.path.join(path, "hf")
    model.save_pretrained(hf)
    inputs = load_file(os.path.join(path, "inputs.safetensors"))
    with torch.no_grad():
        got = model(**inputs, return_dict=True)
    outs = {k: getattr(got, k).detach().contiguous() for k in meta["outputs"]}
    save_file(outs, os.path.join(hf, "outputs.safetensors"))


HF_LINES = []  # gort's report of the transformers-saved checkpoints


def check_hf(out):
    env = dict(os.environ, GORT_ZOO_HF=out)
    r = subprocess.run(["go", "test", "-count=1", "-v", "-run", "TestHFCheckpoints", "./models/zoo"],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    for line in r.stdout.splitlines():
        if "hf " in line or line.startswith(("---", "FAIL", "ok")):
            print(line.strip())
            if "hf " in line:
                HF_LINES.append(line.strip().split(": ", 1)[-1])
    return r.returncode == 0


def write_section(md, title, body):
    """Replace (or append) the "## title" section of INTEROP.md."""
    try:
        text = open(md).read()
    except OSError:
        return
    marker = "\n## " + title + "\n"
    if marker in text:
        before, rest = text.split(marker, 1)
        after = rest[rest.index("\n## "):] if "\n## " in rest else ""
    else:
        before, after = text.rstrip("\n"), ""
    with open(md, "w") as f:
        f.write(before.rstrip("\n") + "\n" + marker + "\n" + body.strip("\n") + "\n" + after)


def main():
    ensure_env()
    import torch
    import transformers
    torch.manual_seed(0)
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.environ.get("TMPDIR", "/tmp"), "gort-zoo-parity")
    write_fixtures(out)
    print(f"transformers {transformers.__version__}, torch {torch.__version__}")
    failed = 0
    rows = []
    for case in sorted(os.listdir(out)):
        path = os.path.join(out, case)
        if not os.path.exists(os.path.join(path, "gort.json")):
            continue
        for attn in ("eager", "sdpa"):
            worst, problem = check_case(path, attn)
            figures = ", ".join(f"{k} {v:.2g}" for k, v in sorted((worst or {}).items()))
            status = "FAIL" if problem else "ok"
            failed += bool(problem)
            print(f"{status:4} {case:28} {attn:5} {figures}" + (f"  [{problem}]" if problem else ""))
            rows.append(f"| {case} | {attn} | {figures} | {status} |")
        write_hf(path)
    print("transformers-saved checkpoints loaded by gort:")
    if not check_hf(out):
        failed += 1
    print(f"zoo parity: {failed} of the cases failed" if failed else "zoo parity: all cases within %g" % TOL)
    if os.environ.get("GORT_INTEROP_MD"):
        body = (f"Written by conformance/interop/zoo_parity.py (transformers {transformers.__version__}, "
                f"torch {torch.__version__}). gort's zoo models saved with HF names, loaded strictly by "
                "from_pretrained and run by transformers; cell: max |gort − transformers| / (1 + |transformers|) "
                "per output. Pass: ≤ 1e-4.\n\n| case | attention | max error per output | |\n|---|---|---|---|\n"
                + "\n".join(rows)
                + "\n\nThe other direction, checkpoints transformers saved, loaded by gort (TestHFCheckpoints):\n\n"
                + "\n".join(f"- {l}" for l in HF_LINES))
        write_section(os.environ["GORT_INTEROP_MD"], "Zoo round trips (gort ⇄ transformers)", body)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
