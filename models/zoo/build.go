package zoo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/tensor"
)

// BuildOptions configure Build.
type BuildOptions struct {
	// Training puts Dropout nodes (training_mode = true) where the
	// transformers module applies dropout; otherwise the graph has none.
	Training bool
	// Seed draws the initial weights (HF's scheme: normal(0,
	// initializer_range) for matrices and embeddings, zero biases, LayerNorm
	// ones).
	Seed uint64
	// Opset is the ai.onnx opset (17 or later; 0 means 17). From 20 on, GELU
	// is the Gelu op instead of its Erf/Tanh expansion.
	Opset int
	// Loss adds the inputs the transformers class takes as labels and a
	// scalar "loss" output computed as the class computes it. ViT-MAE always
	// has its loss (it needs no labels).
	Loss bool
	// MaxParams bounds the parameter count (0: DefaultMaxParams).
	MaxParams int64
}

// Model is a built graph with the metadata of its transformers class.
type Model struct {
	IR     *ir.Model
	Config *Config
	Arch   string // transformers class name, e.g. "BertForMaskedLM"
	// Prefix is the class's base_model_prefix ("bert", "transformer",
	// "vit") when its parameters carry it; empty for base models, whose
	// state_dict names have none.
	Prefix  string
	Inputs  []string // graph inputs, named as the forward arguments
	Outputs []string // graph outputs, named as the ModelOutput fields
	// Params are the parameter initializers, by state_dict name, in the
	// order the modules create them (state_dict order up to the place of
	// LayerNorms). Tied weights appear once.
	Params []string
	// Frozen are parameters transformers does not train (ViT-MAE's sin-cos
	// position embeddings); pass them to train.Config.Frozen.
	Frozen []string
	// Tied maps state_dict names that alias a parameter (the MLM decoder,
	// GPT-2's lm_head) to the parameter they share.
	Tied map[string]string
	// Copies are state_dict names written as copies of a parameter, for
	// checkpoints in which transformers versions disagree on sharing:
	// BERT's cls.predictions.decoder.bias is cls.predictions.bias in
	// transformers 4 but a separate, used parameter in 5 when word
	// embeddings are untied. On load the copy's name wins.
	Copies map[string]string
}

// IsFrozen reports whether name is a non-trainable parameter.
func (m *Model) IsFrozen(name string) bool {
	for _, f := range m.Frozen {
		if f == name {
			return true
		}
	}
	return false
}

// Param returns the current value of parameter name (nil if absent).
func (m *Model) Param(name string) *tensor.Tensor {
	for _, in := range m.IR.Graph.Initializers {
		if in.Name == name {
			return in.T
		}
	}
	return nil
}

type arch struct {
	modelType string
	params    func(c *Config, arch string) int64
	build     func(g *graph) error
}

var archs = map[string]arch{
	"BertModel":                     {"bert", bertParams, buildBERT},
	"BertForMaskedLM":               {"bert", bertParams, buildBERT},
	"BertForPreTraining":            {"bert", bertParams, buildBERT},
	"BertForSequenceClassification": {"bert", bertParams, buildBERT},
	"GPT2Model":                     {"gpt2", gpt2Params, buildGPT2},
	"GPT2LMHeadModel":               {"gpt2", gpt2Params, buildGPT2},
	"ViTModel":                      {"vit", vitParams, buildViT},
	"ViTForImageClassification":     {"vit", vitParams, buildViT},
	"ViTMAEModel":                   {"vit_mae", maeParams, buildMAE},
	"ViTMAEForPreTraining":          {"vit_mae", maeParams, buildMAE},
}

// Architectures lists the transformers classes Build supports for a
// model_type, sorted.
func Architectures(modelType string) []string {
	var out []string
	for name, a := range archs {
		if a.modelType == modelType {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// ParamCount is the number of parameters of the architecture, tied
// weights counted once (as model.num_parameters() counts them), without
// building anything.
func (c *Config) ParamCount(archName string) (int64, error) {
	a, ok := archs[archName]
	if !ok || a.modelType != c.ModelType {
		return 0, fmt.Errorf("zoo: architecture %q is not supported for model_type %q; supported: %v", archName, c.ModelType, Architectures(c.ModelType))
	}
	return a.params(c, archName), nil
}

// Build makes the graph of a transformers class (archName; "" means the
// config's first architecture, else the base model) with freshly
// initialized weights.
func Build(cfg *Config, archName string, opts BuildOptions) (*Model, error) {
	if cfg == nil {
		return nil, fmt.Errorf("zoo: nil config")
	}
	if archName == "" {
		archName = defaultArch(cfg)
	}
	if err := cfg.Validate(opts.MaxParams); err != nil {
		return nil, err
	}
	a, ok := archs[archName]
	if !ok || a.modelType != cfg.ModelType {
		return nil, fmt.Errorf("zoo: architecture %q is not supported for model_type %q; supported: %v", archName, cfg.ModelType, Architectures(cfg.ModelType))
	}
	g, err := newGraph(cfg, archName, opts)
	if err != nil {
		return nil, err
	}
	if err := a.build(g); err != nil {
		return nil, err
	}
	return g.validated("graph")
}

// newGraph starts the graph of archName in the ai.onnx opset opts asks
// for (0 means 17) and the extra opsets, drawing parameters from
// opts.Seed.
func newGraph(cfg *Config, archName string, opts BuildOptions, extra ...irbuild.Opset) (*graph, error) {
	if opts.Opset == 0 {
		opts.Opset = 17
	}
	if opts.Opset < 17 {
		return nil, fmt.Errorf("zoo: opset %d is below 17 (LayerNormalization); use 17 or later", opts.Opset)
	}
	b := irbuild.New(archName, append([]irbuild.Opset{{Domain: "", Version: int64(opts.Opset)}}, extra...)...)
	m := &Model{IR: b.Model(), Config: cfg, Arch: archName, Tied: map[string]string{}, Copies: map[string]string{}}
	return &graph{b: b, rng: rand.New(rand.NewPCG(opts.Seed, 0x200)), cfg: cfg, opts: opts, m: m, arch: archName}, nil
}

// validated returns the built model once its graph validates; what names
// the graph in the error.
func (g *graph) validated(what string) (*Model, error) {
	if err := g.m.IR.Graph.Validate(nil); err != nil {
		return nil, fmt.Errorf("zoo: %s %s: %w", g.arch, what, err)
	}
	return g.m, nil
}

func defaultArch(c *Config) string {
	for _, a := range c.Architectures {
		if s, ok := archs[a]; ok && s.modelType == c.ModelType {
			return a
		}
	}
	return map[string]string{"bert": "BertModel", "gpt2": "GPT2LMHeadModel", "vit": "ViTModel", "vit_mae": "ViTMAEForPreTraining"}[c.ModelType]
}

// graph carries the builder state shared by the architectures.
type graph struct {
	b    *irbuild.Builder
	rng  *rand.Rand
	cfg  *Config
	opts BuildOptions
	m    *Model
	arch string
}

// prefix returns the parameter-name prefix of the class ("bert." etc.),
// empty for the base model, whose state_dict names carry none.
func (g *graph) prefix(baseArch string) string {
	if g.arch == baseArch {
		return ""
	}
	g.m.Prefix = basePrefix[g.cfg.ModelType]
	return g.m.Prefix + "."
}

func (g *graph) input(name string, dt tensor.DType, dims ...any) string {
	g.m.Inputs = append(g.m.Inputs, name)
	return g.b.Input(name, dt, dims...)
}

// output renames value v to name and declares it a float32 graph output.
func (g *graph) output(v, name string, dims ...any) string {
	return g.outputT(v, name, tensor.Float32, dims...)
}

// outputT is output with the dtype given.
func (g *graph) outputT(v, name string, dt tensor.DType, dims ...any) string {
	g.b.Rename(v, name)
	for _, vi := range g.b.Graph().ValueInfo {
		if vi.Name == v {
			vi.Name = name
		}
	}
	g.b.Output(name, dt, dims...)
	g.m.Outputs = append(g.m.Outputs, name)
	return name
}

// typed records v's static type as value_info: autodiff needs the ranks of
// values whose inference depends on constant inputs (Unsqueeze axes) or
// optional ones (a scalar loss).
func (g *graph) typed(v string, dt tensor.DType, dims ...any) string {
	g.b.Graph().ValueInfo = append(g.b.Graph().ValueInfo, &ir.ValueInfo{Name: v, Type: tensor.Type{Kind: tensor.KindTensor, DType: dt, HasShape: true, Shape: irbuild.Dims(dims...)}})
	return v
}

// unsqueeze is Unsqueeze with the result's (symbolic) shape recorded.
func (g *graph) unsqueeze(x string, axes []int64, dt tensor.DType, dims ...any) string {
	return g.typed(g.op("Unsqueeze", x, g.ints(axes...)), dt, dims...)
}

// batchShape is the (1) int64 tensor holding x's first dimension.
func (g *graph) batchShape(x string) string {
	return g.unsqueeze(g.dim(x, 0), []int64{0}, tensor.Int64, 1)
}

// lossOutput declares the scalar loss output.
func (g *graph) lossOutput(v string) {
	g.output(v, "loss")
	out := g.b.Graph().Outputs
	out[len(out)-1].Type.HasShape = true
}

func (g *graph) param(name string, t *tensor.Tensor) string {
	g.m.Params = append(g.m.Params, name)
	return g.b.Init(name, t)
}

func (g *graph) normal(name string, std float64, shape ...int) string {
	return g.param(name, g.normalTensor(std, shape...))
}

func (g *graph) normalTensor(std float64, shape ...int) *tensor.Tensor {
	t := tensor.Zeros(tensor.Float32, shape...)
	for i, d := 0, tensor.Data[float32](t); i < len(d); i++ {
		d[i] = float32(g.rng.NormFloat64() * std)
	}
	return t
}

func (g *graph) fill(name string, v float32, shape ...int) string {
	t := tensor.Zeros(tensor.Float32, shape...)
	if v != 0 {
		for i, d := 0, tensor.Data[float32](t); i < len(d); i++ {
			d[i] = v
		}
	}
	return g.param(name, t)
}

func (g *graph) ints(v ...int64) string  { return g.b.Const(tensor.Must([]int{len(v)}, v)) }
func (g *graph) scalar(v float64) string { return g.b.Const(tensor.Scalar(float32(v))) }
func (g *graph) int0(v int64) string     { return g.b.Const(tensor.Scalar(v)) }

func (g *graph) op(t string, in ...string) string { return g.b.Op(t, in...) }
func (g *graph) opA(t string, attrs []irbuild.Attr, in ...string) string {
	return g.b.OpA(t, attrs, in...)
}

func (g *graph) transpose(x string, perm ...int64) string {
	return g.opA("Transpose", []irbuild.Attr{irbuild.Ints("perm", perm...)}, x)
}

// linear is nn.Linear on a (B, S, in) input: x·Wᵀ + b with W kept in its
// HF layout (out, in) under name+".weight".
func (g *graph) linear(name, x string, in, out int, bias bool) string {
	w := g.normal(name+".weight", g.cfg.InitializerRange, out, in)
	y := g.op("MatMul", x, g.op("Transpose", w))
	if bias {
		y = g.op("Add", y, g.fill(name+".bias", 0, out))
	}
	return y
}

// dense is nn.Linear on a (B, in) input, as Gemm with transB.
func (g *graph) dense(name, x string, in, out int) string {
	w := g.normal(name+".weight", g.cfg.InitializerRange, out, in)
	return g.opA("Gemm", []irbuild.Attr{irbuild.Int("transB", 1)}, x, w, g.fill(name+".bias", 0, out))
}

func (g *graph) layerNorm(name, x string, n int) string {
	return g.opA("LayerNormalization", []irbuild.Attr{irbuild.Int("axis", -1), irbuild.Float("epsilon", float32(g.cfg.LayerNormEps))},
		x, g.fill(name+".weight", 1, n), g.fill(name+".bias", 0, n))
}

// dropout is nn.Dropout(p): in training graphs Dropout(x, p, true), else x.
func (g *graph) dropout(x string, p float64) string {
	if !g.opts.Training || p == 0 {
		return x
	}
	return g.op("Dropout", x, g.scalar(p), g.b.Const(tensor.Scalar(true)))
}

// act applies the config's hidden activation (ACT2FN of transformers).
func (g *graph) act(x string) string { return activations[g.cfg.HiddenAct](g, x) }

var activations = map[string]func(g *graph, x string) string{
	"gelu":              geluErf,
	"gelu_new":          geluTanh,
	"gelu_pytorch_tanh": geluTanh,
	"gelu_fast":         geluTanh,
	"relu":              func(g *graph, x string) string { return g.op("Relu", x) },
	"silu":              silu,
	"swish":             silu,
	"quick_gelu": func(g *graph, x string) string {
		return g.op("Mul", x, g.op("Sigmoid", g.op("Mul", x, g.scalar(1.702))))
	},
	"tanh": func(g *graph, x string) string { return g.op("Tanh", x) },
}

func activationNames() []string {
	var out []string
	for k := range activations {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func silu(g *graph, x string) string { return g.op("Mul", x, g.op("Sigmoid", x)) }

// geluErf is x·Φ(x) = 0.5·x·(1 + erf(x/√2)).
func geluErf(g *graph, x string) string {
	if g.opts.Opset >= 20 {
		return g.op("Gelu", x)
	}
	e := g.op("Erf", g.op("Div", x, g.scalar(math.Sqrt2)))
	return g.op("Mul", g.op("Mul", x, g.op("Add", e, g.scalar(1))), g.scalar(0.5))
}

// geluTanh is 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
func geluTanh(g *graph, x string) string {
	if g.opts.Opset >= 20 {
		return g.opA("Gelu", []irbuild.Attr{irbuild.String("approximate", "tanh")}, x)
	}
	x3 := g.op("Mul", g.op("Mul", x, x), x)
	inner := g.op("Mul", g.op("Add", x, g.op("Mul", x3, g.scalar(0.044715))), g.scalar(math.Sqrt(2/math.Pi)))
	return g.op("Mul", g.op("Mul", x, g.op("Add", g.op("Tanh", inner), g.scalar(1))), g.scalar(0.5))
}

// splitHeads reshapes (B, S, nh·hd) to (B, nh, S, hd), or to (B, nh, hd, S)
// when keys (transposed for Q·Kᵀ).
func (g *graph) splitHeads(x string, nh, hd int, keys bool) string {
	r := g.op("Reshape", x, g.ints(0, 0, int64(nh), int64(hd)))
	if keys {
		return g.transpose(r, 0, 2, 3, 1)
	}
	return g.transpose(r, 0, 2, 1, 3)
}

// attention is softmax(Q·Kᵀ/√hd + mask)·V over heads, with attention-probs
// dropout; q, k, v are (B, S, nh·hd) projections, mask an additive
// (B, 1, 1|S, S) tensor or "" for none. The result is (B, S, nh·hd).
func (g *graph) attention(q, k, v string, nh, hd int, mask string) string {
	scores := g.op("Mul", g.op("MatMul", g.splitHeads(q, nh, hd, false), g.splitHeads(k, nh, hd, true)), g.scalar(1/math.Sqrt(float64(hd))))
	if mask != "" {
		scores = g.op("Add", scores, mask)
	}
	probs := g.dropout(g.opA("Softmax", []irbuild.Attr{irbuild.Int("axis", -1)}, scores), g.cfg.AttentionDropout)
	ctx := g.transpose(g.op("MatMul", probs, g.splitHeads(v, nh, hd, false)), 0, 2, 1, 3)
	return g.op("Reshape", ctx, g.ints(0, 0, int64(nh*hd)))
}

// paddingMask turns an int64 (B, S) attention_mask (1 keep, 0 pad) into an
// additive (B, 1, 1, S) float mask: 0 where kept, float32's lowest value
// where padded (transformers' extended attention mask).
func (g *graph) paddingMask(mask string) string {
	m4 := g.opA("Cast", []irbuild.Attr{irbuild.Int("to", int64(tensor.Float32))}, g.unsqueeze(mask, []int64{1, 2}, tensor.Int64, "batch", 1, 1, "sequence"))
	return g.op("Mul", g.op("Sub", g.scalar(1), m4), g.scalar(-math.MaxFloat32))
}

// dim returns dimension axis of x's shape as an int64 scalar.
func (g *graph) dim(x string, axis int64) string {
	return g.opA("Gather", []irbuild.Attr{irbuild.Int("axis", 0)}, g.op("Shape", x), g.int0(axis))
}

// crossEntropy is torch's CrossEntropyLoss (mean, ignore_index −100) of
// logits (…, C) against int64 labels (…).
func (g *graph) crossEntropy(logits, labels string, classes int) string {
	flat := g.op("Reshape", logits, g.ints(-1, int64(classes)))
	return g.typed(g.opA("SoftmaxCrossEntropyLoss", []irbuild.Attr{irbuild.String("reduction", "mean"), irbuild.Int("ignore_index", -100)},
		flat, g.op("Reshape", labels, g.ints(-1))), tensor.Float32)
}

// classificationLoss is the loss of *ForSequenceClassification and
// ViTForImageClassification, by problem_type: regression is MSE (float
// labels), single-label CE (int64 labels), multi-label BCE with logits
// (float labels of the logits' shape). When the config leaves problem_type
// empty it is regression for one label and single-label otherwise (the
// int64-label choice transformers makes).
func (g *graph) classificationLoss(logits string) {
	n := g.cfg.NumLabels
	pt := g.cfg.ProblemType
	if pt == "" {
		pt = "single_label_classification"
		if n == 1 {
			pt = "regression"
		}
	}
	var loss string
	switch pt {
	case "single_label_classification":
		loss = g.crossEntropy(logits, g.input("labels", tensor.Int64, "batch"), n)
	case "regression":
		var y string
		if n == 1 {
			y = g.op("Reshape", g.input("labels", tensor.Float32, "batch"), g.ints(-1, 1))
		} else {
			y = g.input("labels", tensor.Float32, "batch", n)
		}
		d := g.op("Sub", logits, y)
		loss = g.opA("ReduceMean", []irbuild.Attr{irbuild.Int("keepdims", 0)}, g.op("Mul", d, d))
	case "multi_label_classification":
		y := g.input("labels", tensor.Float32, "batch", n)
		// softplus(x) − x·y with softplus(x) = max(x, 0) + log(1 + exp(−|x|)).
		sp := g.op("Add", g.op("Relu", logits), g.op("Log", g.op("Add", g.scalar(1), g.op("Exp", g.op("Neg", g.op("Abs", logits))))))
		loss = g.opA("ReduceMean", []irbuild.Attr{irbuild.Int("keepdims", 0)}, g.op("Sub", sp, g.op("Mul", logits, y)))
	}
	g.lossOutput(loss)
}
