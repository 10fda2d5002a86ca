"""Exports the way users make them, cached across runs.

Variants of one architecture:
  optimum-14, optimum-17  optimum-onnx main_export (task feature-extraction)
                          from the save_pretrained folder; torch.onnx
                          (TorchScript exporter, dynamic axes) where optimum
                          has no config for the architecture
  dynamo-N                torch.onnx.export(dynamo=True) at the newest opset
                          torch supports
  ort-opt                 onnxruntime.transformers.optimizer.optimize_model
                          on the optimum-17 export: fused com.microsoft ops
                          (SkipLayerNormalization, FastGelu, ...)
  ort-opt-eager           the same on a torch.onnx opset-17 export of the
                          model with attn_implementation="eager", whose
                          attention subgraphs the optimizer fuses into
                          Attention (what its BERT/GPT-2 recipes expect)

The cache folder is keyed by the pinned requirements (scripts/interop.sh)
and each architecture's folder by its definition and EXPORT_VERSION (bump
it when an existing variant's export changes), so a warm run exports
nothing and a new architecture or variant exports only itself.
"""
import contextlib
import hashlib
import io
import os
import shutil
import warnings

import archs as A

EXPORT_VERSION = 1
CACHE = os.environ.get("GORT_INTEROP_CACHE") or os.path.join(
    os.environ.get("GORT_INTEROP_WORK", "/tmp/gort-interop"), "cache")


def newest_opset():
    import torch.onnx._constants as c
    return getattr(c, "ONNX_MAX_OPSET", 18)


def variants():
    return ["optimum-14", "optimum-17", f"dynamo-{newest_opset()}", "ort-opt", "ort-opt-eager"]


def _wrapper(arch, model, names):
    """The model as forward(named inputs) -> tuple of outputs, for torch.onnx
    (explicit parameters: the dynamo exporter maps dynamic axes by name)."""
    import torch
    outs = output_names(arch)

    def res(o):
        return tuple(o[k] for k in outs)

    class Text(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = model

        def forward(self, input_ids, attention_mask):
            return res(self.m(input_ids=input_ids, attention_mask=attention_mask))

    class Vision(Text):
        def forward(self, pixel_values):
            return res(self.m(pixel_values=pixel_values))

    class Noise(Text):
        def forward(self, pixel_values, noise):
            return res(self.m(pixel_values=pixel_values, noise=noise))

    cls = {"input_ids": Text, "pixel_values": Vision}[names[0]] if len(names) < 2 or names[1] != "noise" else Noise
    return cls().eval()


def input_names(arch):
    if arch.kind == "vision":
        return ["pixel_values", "noise"] if arch.name == "vit-mae" else ["pixel_values"]
    return ["input_ids", "attention_mask"]


_outs = {}


def output_names(arch):
    """The model's last_hidden_state and pooler_output, where it has them."""
    if arch.name not in _outs:
        import torch
        feeds, _ = A.inputs(arch, 1)
        with torch.no_grad():
            o = model(arch)(**{n: torch.from_numpy(feeds[n]) for n in input_names(arch)})
        _outs[arch.name] = [k for k in ("last_hidden_state", "pooler_output") if o.get(k) is not None]
    return _outs[arch.name]


def dynamic_axes(arch):
    ax = {}
    for n in input_names(arch):
        ax[n] = {0: "batch"} if arch.kind == "vision" else {0: "batch", 1: "sequence"}
    for n in output_names(arch):
        ax[n] = {0: "batch", 1: "sequence"} if n == "last_hidden_state" else {0: "batch"}
    return ax


_models = {}


def model(arch):
    if arch.name not in _models:
        _models[arch.name] = arch.build()
    return _models[arch.name]


def _key(arch):
    """The cache folder of an architecture: what its exports depend on."""
    what = f"{arch.config} {arch.model} {sorted(arch.kwargs.items())} {arch.ort_type} {arch.optimum} {EXPORT_VERSION}"
    return arch.name + "-" + hashlib.sha256(what.encode()).hexdigest()[:10]


def pretrained_dir(arch):
    d = os.path.join(CACHE, "hf", _key(arch))
    if not os.path.exists(os.path.join(d, "config.json")):
        model(arch).save_pretrained(d)
    return d


def eager_model(arch):
    """The model with attn_implementation="eager" and the same weights."""
    m = arch.build(attn_implementation="eager")
    m.load_state_dict(model(arch).state_dict())
    return m


def torch_export(arch, path, opset, dynamo, eager=False):
    import torch
    feeds, _ = A.inputs(arch, 1)  # a padded batch of 2
    names = input_names(arch)
    args = tuple(torch.from_numpy(feeds[n]) for n in names)
    w = _wrapper(arch, eager_model(arch) if eager else model(arch), names)
    kw = dict(input_names=names, output_names=output_names(arch), opset_version=opset,
              dynamic_axes=dynamic_axes(arch), dynamo=dynamo)
    if dynamo:
        D = torch.export.Dim.DYNAMIC
        kw["external_data"] = False
        kw["dynamic_shapes"] = {n: {k: D for k in ax} for n, ax in kw.pop("dynamic_axes").items()
                                if n in names}
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(w, args, path, **kw)


def optimum_export(arch, path, opset):
    from optimum.exporters.onnx import main_export
    out = path + ".d"
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        main_export(pretrained_dir(arch), output=out, task="feature-extraction", opset=opset,
                    do_validation=False, no_post_process=True, device="cpu")
    shutil.move(os.path.join(out, "model.onnx"), path)
    shutil.rmtree(out, ignore_errors=True)


def ort_optimize(arch, src, path):
    from onnxruntime.transformers.optimizer import optimize_model
    heads = 4
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        m = optimize_model(src, model_type=arch.ort_type, num_heads=heads, hidden_size=32,
                           opt_level=0, use_gpu=False)
    m.save_model_to_file(path)


def export(arch, variant):
    """Path of the variant's .onnx file, exporting it on first use; the
    exporter actually used is in exporter(arch, variant)."""
    d = os.path.join(CACHE, "onnx", _key(arch))
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, variant + ".onnx")
    if os.path.exists(path):
        return path
    tmp = path + ".tmp"
    kind, _, opset = variant.partition("-")
    if kind == "optimum":
        if arch.optimum:
            optimum_export(arch, tmp, int(opset))
        else:
            torch_export(arch, tmp, int(opset), dynamo=False)
    elif kind == "dynamo":
        torch_export(arch, tmp, int(opset), dynamo=True)
    elif variant == "ort-opt":
        ort_optimize(arch, export(arch, "optimum-17"), tmp)
    elif variant == "ort-opt-eager":
        src = os.path.join(d, "eager-17.onnx")
        if not os.path.exists(src):
            torch_export(arch, src + ".tmp", 17, dynamo=False, eager=True)
            os.replace(src + ".tmp", src)
        ort_optimize(arch, src, tmp)
    else:
        raise ValueError(variant)
    os.replace(tmp, path)
    return path


def exporter(arch, variant):
    kind = variant.split("-")[0]
    if kind == "optimum" and not arch.optimum:
        return "torch.onnx"
    if variant == "ort-opt-eager":
        return "torch.onnx (eager attention) + ORT optimizer"
    return {"optimum": "optimum", "dynamo": "torch.onnx dynamo", "ort": "ORT optimizer"}[kind]
