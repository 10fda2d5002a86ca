#!/usr/bin/env python3
"""Training parity of gort with PyTorch: tiny BERT (masked LM) and GPT-2
(causal LM), same initial weights, same batches, 20 AdamW steps.

gort's TestTrainParity (models/zoo/train_parity_test.go) writes, per case
under DIR: init/ (config.json + model.safetensors), batches.json, the loss
of every step (gort_losses.json) and the trained model (final/). This
script loads init/ with transformers (float32, eager attention, train mode
with every dropout 0), trains it with torch.optim.AdamW on the same batches
with gort's decay groups (train.DefaultDecay: decay for parameters of rank
>= 2 whose name has no "norm"; tied weights are one parameter), and
compares every step's loss (relative difference <= TOL) and every
state_dict tensor of the result with final/ (max |diff| <= TOL).

    conformance/interop/train_parity.py [DIR]

Needs torch, transformers and safetensors (GORT_ZOO_VENV as zoo_parity.py).
Exit status 1 when a case differs.
"""
import json
import os
import subprocess
import sys

TOL = 1e-4
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from zoo_parity import ensure_env  # noqa: E402


def write_runs(out):
    env = dict(os.environ, GORT_TRAIN_PARITY=out)
    subprocess.run(["go", "test", "-count=1", "-run", "TestTrainParity", "./models/zoo/"],
                   cwd=ROOT, env=env, check=True)


def decays(name, p):
    # train.DefaultDecay: rank >= 2 and no "norm" in the lower-cased name.
    return p.dim() >= 2 and "norm" not in name.lower()


def check_case(path):
    import torch
    import transformers

    cfg = json.load(open(os.path.join(path, "init", "config.json")))
    cls = getattr(transformers, cfg["architectures"][0])
    model, info = cls.from_pretrained(os.path.join(path, "init"), output_loading_info=True,
                                      attn_implementation="eager", dtype=torch.float32)
    bad = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if bad:
        return False, f"loading init: {bad}"
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout) and m.p != 0:
            return False, f"dropout {m.p} in {type(m).__name__}"
    model.train()
    run = json.load(open(os.path.join(path, "batches.json")))
    B, S = run["batch"], run["seq"]
    named = list(model.named_parameters())  # tied weights listed once
    groups = [
        {"params": [p for n, p in named if decays(n, p)], "weight_decay": run["weight_decay"]},
        {"params": [p for n, p in named if not decays(n, p)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=run["lr"], betas=(0.9, 0.999), eps=1e-8)
    gort = json.load(open(os.path.join(path, "gort_losses.json")))
    worst_loss = 0.0
    print(f"{os.path.basename(path)}: {len(groups[0]['params'])} decayed, {len(groups[1]['params'])} not")
    print("  step   gort loss    torch loss   rel diff")
    for k, batch in enumerate(run["batches"]):
        feed = {n: torch.tensor(v, dtype=torch.int64).reshape(B, S) for n, v in batch.items()}
        opt.zero_grad(set_to_none=True)
        loss = model(**feed, return_dict=True).loss
        loss.backward()
        opt.step()
        t = loss.item()
        rel = abs(gort[k] - t) / abs(t)
        worst_loss = max(worst_loss, rel)
        print(f"  {k + 1:4d}  {gort[k]:.7f}  {t:.7f}  {rel:.2e}")
    if len(gort) != len(run["batches"]):
        return False, f"gort has {len(gort)} losses for {len(run['batches'])} batches"

    final, info = cls.from_pretrained(os.path.join(path, "final"), output_loading_info=True,
                                      attn_implementation="eager", dtype=torch.float32)
    bad = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if bad:
        return False, f"loading final: {bad}"
    want = final.state_dict()
    got = model.state_dict()
    init = cls.from_pretrained(os.path.join(path, "init"), attn_implementation="eager").state_dict()
    worst_w, worst_name, moved = 0.0, "", 0.0
    for name, g in got.items():
        if name not in want:
            return False, f"final has no {name}"
        w = want[name]
        if not g.is_floating_point():
            d = 0.0 if torch.equal(g, w) else float("inf")
        else:
            d = (g.double() - w.double()).abs().max().item()
            moved = max(moved, (w.double() - init[name].double()).abs().max().item())
        if d > worst_w:
            worst_w, worst_name = d, name
    print(f"  max |Δ| final weights {worst_w:.2e} ({worst_name or 'all equal'}); "
          f"max loss rel diff {worst_loss:.2e}; weights moved up to {moved:.2e}")
    FIGURES.append((os.path.basename(path), len(gort), worst_loss, worst_w, worst_name))
    problems = []
    if not worst_loss <= TOL:
        problems.append(f"loss rel diff {worst_loss:.3g}")
    if not worst_w <= TOL:
        problems.append(f"weights differ by {worst_w:.3g} ({worst_name})")
    if not moved > 10 * TOL:
        problems.append(f"final weights barely moved ({moved:.3g}): was final saved after training?")
    return not problems, "; ".join(problems)


FIGURES = []  # (case, steps, max loss rel diff, max weight |diff|, worst tensor)


def write_report(md, versions):
    """Replace the "## Training parity" section of INTEROP.md with this run's figures."""
    try:
        text = open(md).read()
    except OSError:
        return
    head = text.split("\n## Training parity")[0].rstrip("\n")
    rows = "\n".join(f"| {c} | {n} | {l:.2e} | {w:.2e} | `{name}` |" for c, n, l, w, name in FIGURES)
    section = f"""

## Training parity (gort vs PyTorch)

Written by conformance/interop/train_parity.py ({versions}). The same initial weights (gort's zoo
builders, saved with HF names) and the same batches; AdamW (lr 1e-3, weight decay 0.01 except biases and
norms), dropout 0, no clipping, in gort (native) and in torch.optim.AdamW. Pass: every step's loss
relative difference and every final weight within 1e-4.

| case | steps | max loss rel diff | max final weight abs diff | worst tensor |
|---|---:|---:|---:|---|
{rows}
"""
    with open(md, "w") as f:
        f.write(head + section)


def main():
    ensure_env()
    import torch
    import transformers
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.environ.get("TMPDIR", "/tmp"), "gort-train-parity")
    if not os.environ.get("GORT_TRAIN_PARITY_NO_RUN"):
        write_runs(out)
    print(f"transformers {transformers.__version__}, torch {torch.__version__}")
    failed = 0
    for case in sorted(os.listdir(out)):
        path = os.path.join(out, case)
        if not os.path.exists(os.path.join(path, "batches.json")):
            continue
        ok, problem = check_case(path)
        failed += not ok
        print(f"{'ok' if ok else 'FAIL':4} {case}" + (f"  [{problem}]" if problem else ""))
    print(f"training parity: {failed} of the cases failed" if failed else "training parity: all cases within %g" % TOL)
    if os.environ.get("GORT_INTEROP_MD"):
        write_report(os.environ["GORT_INTEROP_MD"], f"transformers {transformers.__version__}, torch {torch.__version__}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
