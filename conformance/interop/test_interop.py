"""gort against PyTorch and onnxruntime on Hugging Face exports, and gort's
own ONNX exports against the ONNX checker and onnxruntime.

Each test runs gort's command line (gort run MODEL -i NAME=FILE.npy -o DIR)
on every input shape of archs.py and compares with PyTorch's outputs of the
same tiny model and with onnxruntime's outputs of the same file.
A test listed in expected_failures.txt must fail (it is then an xfail); the
suite fails when a listed test passes.
"""
import os
import subprocess
import tempfile

import numpy as np
import pytest

import archs as A
import exports as E
import report

TOL = 1e-4
EXPECTED = report.expected()
_torch_out = {}


def torch_outputs(arch, idx):
    """PyTorch's outputs (name -> array) for shape idx, computed once."""
    key = (arch.name, idx)
    if key not in _torch_out:
        import torch
        feeds, _ = A.inputs(arch, idx)
        kw = {n: torch.from_numpy(feeds[n]) for n in E.input_names(arch)}
        with torch.no_grad():
            out = E.model(arch)(**kw)
        _torch_out[key] = {k: out[k].numpy() for k in E.output_names(arch)}
    return _torch_out[key]


def onnx_feeds(arch, idx, path):
    """The feeds the ONNX file declares, from the full set of shape idx."""
    import onnx
    feeds, mask = A.inputs(arch, idx)
    m = onnx.load(path, load_external_data=False)
    init = {i.name for i in m.graph.initializer}
    names = [i.name for i in m.graph.input if i.name not in init]
    missing = [n for n in names if n not in feeds]
    if missing:
        raise AssertionError(f"export declares inputs the suite does not know: {missing}")
    return {n: feeds[n] for n in names}, mask, [o.name for o in m.graph.output]


def run_gort(gort_bin, path, feeds):
    with tempfile.TemporaryDirectory() as d:
        args = [gort_bin, "run", path, "-o", os.path.join(d, "out")]
        for n, v in feeds.items():
            f = os.path.join(d, n + ".npy")
            np.save(f, v)
            args += ["-i", f"{n}={f}"]
        p = subprocess.run(args, capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise GortError(f"gort run failed (exit {p.returncode}): {p.stderr.strip()[-2000:]}")
        out = {}
        for f in os.listdir(os.path.join(d, "out")):
            out[f[:-4]] = np.load(os.path.join(d, "out", f))
        return out


class GortError(Exception):
    pass


def run_ort(path, feeds):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    return dict(zip(names, s.run(names, feeds)))


def compare(got, want, mask, name):
    """Max abs error and whether every element is within TOL abs+rel;
    padded positions of (batch, seq, ...) outputs are left out."""
    got = np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape:
        return float("inf"), f"{name}: shape {got.shape}, want {want.shape}"
    if mask is not None and got.ndim >= 2 and got.shape[:2] == mask.shape:
        got, want = got[mask], want[mask]
    if got.dtype.kind not in "fc":
        ok = np.array_equal(got, want)
        return (0.0 if ok else float("inf")), ("" if ok else f"{name}: values differ")
    err = np.abs(got.astype(np.float64) - want.astype(np.float64))
    worst = float(err.max()) if err.size else 0.0
    if not np.all(err <= TOL + TOL * np.abs(want)):  # NaN anywhere fails too
        return worst, f"{name}: max abs error {worst:.3g} beyond {TOL} abs+rel"
    return worst, ""


def verdict(request, problems):
    """Fail with the problems, or xfail when listed; fail when a listed test passes."""
    tid = request.node.name
    why = EXPECTED.get(tid)
    if problems and why:
        pytest.xfail(f"{why} ({problems[0][:200]})")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
    if why:
        pytest.fail(f"{tid} passes but is listed in expected_failures.txt ({why}); remove it", pytrace=False)


def cell(torch_err, ort_err, problems, tid):
    mark = ""
    if problems:
        mark = " xfail" if tid in EXPECTED else " ✗"
    return f"{report.fmt(torch_err)} ({'ORT error' if ort_err is None else report.fmt(ort_err)}){mark}"


def check_file(gort_bin, arch, path):
    """Run every shape through gort, onnxruntime and PyTorch; return the
    worst errors and the list of problems."""
    problems, terr, oerr, ort_failed = [], 0.0, 0.0, False
    for idx in range(A.n_shapes(arch)):
        feeds, mask, outs = onnx_feeds(arch, idx, path)
        shape = "x".join(map(str, next(iter(feeds.values())).shape))
        try:
            g = run_gort(gort_bin, path, feeds)
        except GortError as e:
            return None, None, [str(e)]
        try:
            o = run_ort(path, feeds)
        except Exception as e:  # onnxruntime's refusal is noted, not gort's failure
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            report.note(f"{arch.name} {os.path.basename(path)}",
                        f"onnxruntime refuses the file (input shape {shape}): {first[:300]}")
            o, ort_failed = {}, True
        t = torch_outputs(arch, idx)
        for name in outs:
            if name not in g:
                problems.append(f"gort wrote no output {name}")
                continue
            if name in o:
                e, msg = compare(g[name], o[name], mask, name)
                oerr = max(oerr, e)
                if msg:
                    problems.append(f"[{shape}] vs onnxruntime: {msg}")
            if name in t:
                e, msg = compare(g[name], t[name], mask, name)
                terr = max(terr, e)
                if msg:
                    problems.append(f"[{shape}] vs PyTorch: {msg}")
        if not any(n in t for n in outs):
            problems.append(f"no output of {outs} is one of PyTorch's {sorted(t)}")
    return terr, (None if ort_failed else oerr), problems


def _export_or_skip(arch, variant, section, column):
    try:
        return E.export(arch, variant)
    except Exception as e:  # the exporter's failure, not gort's
        msg = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:200] if str(e).strip() else ''}"
        report.record(section, arch.name, column, "skip")
        report.note(f"{arch.name} {variant}", f"{E.exporter(arch, variant)} failed: {msg}")
        pytest.skip(f"exporter failed: {msg}")


VARIANTS = E.variants()
CASES = [(a.name, v) for a in A.ARCHS for v in VARIANTS if not (v.startswith("ort-opt") and not a.ort_type)]


@pytest.mark.parametrize("arch_name,variant", CASES, ids=[f"{a}-{v}" for a, v in CASES])
def test_parity(request, gort_bin, arch_name, variant):
    """gort's native outputs equal PyTorch's (and onnxruntime's) on the export."""
    arch = A.BY_NAME[arch_name]
    path = _export_or_skip(arch, variant, "parity", variant)
    terr, oerr, problems = check_file(gort_bin, arch, path)
    report.record("parity", arch.name, variant, cell(terr, oerr, problems, request.node.name)
                  if terr is not None else ("gort error xfail" if request.node.name in EXPECTED else "gort error ✗"))
    if variant.startswith("ort-opt"):
        import onnx
        fused = sorted({n.op_type for n in onnx.load(path).graph.node if n.domain == "com.microsoft"})
        report.record("parity", arch.name, f"{variant}: fused ops", ", ".join(fused) or "none")
    verdict(request, problems)


# gort optimize modes: every architecture at level extended (fusions into
# standard and com.microsoft ops); a few also at level basic with the weights
# in an external data file.
EXPORT_MODES = {"extended": [], "basic, external data": ["--level", "basic", "--external-data", "gort.onnx.data"]}
EXPORT_CASES = [(a.name, m) for a in A.ARCHS for m in EXPORT_MODES
                if m == "extended" or a.name in ("bert", "gpt2", "llama", "vit")]


@pytest.mark.parametrize("arch_name,mode", EXPORT_CASES,
                         ids=[f"{a}-{m.split(',')[0]}" for a, m in EXPORT_CASES])
def test_gort_export(request, gort_bin, tmp_path, arch_name, mode):
    """gort optimize's output passes the full ONNX checker and onnxruntime
    gives gort's outputs on it."""
    import onnx
    arch = A.BY_NAME[arch_name]
    column = f"gort optimize ({mode})"
    src = _export_or_skip(arch, "optimum-17", "export", column)
    out = str(tmp_path / "gort.onnx")
    p = subprocess.run([gort_bin, "optimize", src, out] + EXPORT_MODES[mode], capture_output=True, text=True,
                       timeout=300)
    problems = []
    if p.returncode != 0:
        problems.append(f"gort optimize failed: {p.stderr.strip()[-2000:]}")
    else:
        try:
            onnx.checker.check_model(out, full_check=True)
        except Exception as e:
            problems.append(f"onnx.checker (full_check): {str(e).strip()[:1000]}")
    terr = oerr = None
    if not problems:
        terr, oerr, problems = check_file(gort_bin, arch, out)
        if oerr is None:
            problems.append("onnxruntime refuses gort's file (see the notes in INTEROP.md)")
    mark = (" xfail" if request.node.name in EXPECTED else " ✗") if problems else ""
    report.record("export", arch.name, column, f"{report.fmt(oerr)} ({report.fmt(terr)}){mark}")
    verdict(request, problems)
