package finetune

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/gort-ml/gort/autodiff"
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
	"github.com/gort-ml/gort/train"
)

// Names of the values the head adds.
const (
	InputLabels     = "labels"             // int64 (batch) or (batch, sequence); float (batch) for regression
	OutputLogits    = "logits"             // (batch, labels) or (batch, sequence, labels)
	OutputEmbedding = "sentence_embedding" // (batch, hidden), Embedding
)

// Option configures New.
type Option func(*config)

type config struct {
	hidden, pooled string
	freeze         bool
	loraRank       int
	loraAlpha      float64
	loraTarget     func(node, weight string) bool
	dropout        float64
	seed           uint64
	optimizer      train.Optimizer
	clip           float64
	provider       runtime.Provider
	threads        int
}

// HiddenOutput names the backbone output with per-token hidden states
// (default "last_hidden_state").
func HiddenOutput(name string) Option { return func(c *config) { c.hidden = name } }

// PooledOutput names the backbone's pooled output (default "pooler_output").
func PooledOutput(name string) Option { return func(c *config) { c.pooled = name } }

// FreezeBackbone trains only the head: every backbone parameter keeps its
// value bit for bit.
func FreezeBackbone() Option { return func(c *config) { c.freeze = true } }

// LoRA adds rank-r adapters x·A·B·(alpha/r) to the attention projections
// (MatMuls with an initializer weight inside attention, by node or weight
// name); only the adapters and the head train. alpha 0 means alpha = r
// (scale 1).
func LoRA(rank int, alpha float64) Option {
	return func(c *config) { c.loraRank, c.loraAlpha = rank, alpha }
}

// LoRATargets replaces the rule choosing which projections get adapters.
func LoRATargets(f func(node, weight string) bool) Option {
	return func(c *config) { c.loraTarget = f }
}

// HeadDropout is the dropout probability on the head's input in training
// (default 0.1, BERT's hidden_dropout_prob); negative disables it.
func HeadDropout(p float64) Option { return func(c *config) { c.dropout = p } }

// Seed draws the head and adapter initial weights and the dropout masks.
func Seed(s uint64) Option { return func(c *config) { c.seed = s } }

// WithOptimizer sets the optimizer (default AdamW with weight decay 0.01).
func WithOptimizer(o train.Optimizer) Option { return func(c *config) { c.optimizer = o } }

// ClipNorm clips gradients by global norm (default 1; 0 disables).
func ClipNorm(v float64) Option { return func(c *config) { c.clip = v } }

// Provider runs training and prediction (default native).
func Provider(p runtime.Provider) Option { return func(c *config) { c.provider = p } }

// Threads bounds intra-op threads (0: all cores).
func Threads(n int) Option { return func(c *config) { c.threads = n } }

// DefaultLoRATarget accepts MatMuls of attention blocks: the node or weight
// name mentions attention ("attention", "attn").
func DefaultLoRATarget(node, weight string) bool {
	s := strings.ToLower(node + " " + weight)
	return strings.Contains(s, "attention") || strings.Contains(s, "attn")
}

// adapter is one LoRA pair on a projection MatMul(x, W) or MatMul(x, Wᵀ).
type adapter struct {
	node       int    // index of the MatMul in the backbone's node list
	weight     string // the projection's initializer
	transposed bool   // W is (out, in) behind a Transpose (zoo/PyTorch layout)
	a, b       string // A (in, r), B (r, out)
	in, out    int
}

// Model is an imported inference graph with a task head, ready to train.
type Model struct {
	Task     Task
	Inputs   []string // backbone inputs fed from a batch (input_ids, attention_mask, ...)
	backbone *ir.Model
	cfg      config
	pool     Pooling
	hidden   string
	pooled   string // "" when the backbone has none or it is unused
	adapters []adapter
	head     []string // head parameter names
	init     map[string]*tensor.Tensor
	trainOn  []string
	step     *train.Step
	trainer  *train.Trainer
	sched    train.Schedule
}

// New attaches task's head to backbone (an inference graph such as a
// Hugging Face ONNX export) and builds its training step. The backbone is
// not modified.
func New(backbone *ir.Model, task Task, opts ...Option) (*Model, error) {
	if backbone == nil || backbone.Graph == nil {
		return nil, fmt.Errorf("finetune: no model")
	}
	if err := validTask(task); err != nil {
		return nil, err
	}
	cfg := config{hidden: "last_hidden_state", pooled: "pooler_output", dropout: 0.1, clip: 1, seed: 1, loraTarget: DefaultLoRATarget}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.loraRank < 0 {
		return nil, fmt.Errorf("finetune: LoRA rank %d must be positive", cfg.loraRank)
	}
	if cfg.loraRank > 0 && cfg.freeze {
		return nil, fmt.Errorf("finetune: LoRA already freezes the backbone; choose one of frozen backbone and LoRA")
	}
	if _, ok := task.(Embedding); ok && cfg.freeze {
		return nil, fmt.Errorf("finetune: the embedding task has no head, so a frozen backbone leaves nothing to train; use LoRA or full fine-tuning")
	}
	if cfg.dropout >= 1 {
		return nil, fmt.Errorf("finetune: head dropout %v must be below 1", cfg.dropout)
	}
	if cfg.loraAlpha == 0 {
		cfg.loraAlpha = float64(cfg.loraRank)
	}
	backbone = untie(backbone)
	m := &Model{Task: task, backbone: backbone, cfg: cfg, init: map[string]*tensor.Tensor{}}
	g := backbone.Graph
	outs := map[string]bool{}
	for _, o := range g.Outputs {
		outs[o.Name] = true
	}
	produced := map[string]bool{}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			produced[o] = true
		}
	}
	if !produced[cfg.hidden] {
		var names []string
		for _, o := range g.Outputs {
			names = append(names, o.Name)
		}
		return nil, fmt.Errorf("finetune: the model has no value %q to put the head on; its outputs are %v (choose one with HiddenOutput / --hidden-output)", cfg.hidden, names)
	}
	m.hidden = cfg.hidden
	m.pool = poolingOf(task)
	if m.pool == PoolAuto {
		m.pool = PoolFirst
		if produced[cfg.pooled] {
			m.pool = PoolPooler
		}
	}
	if m.pool == PoolPooler {
		if !produced[cfg.pooled] {
			return nil, fmt.Errorf("finetune: pooling %q needs the value %q, which the model lacks; use first or mean pooling", PoolPooler, cfg.pooled)
		}
		m.pooled = cfg.pooled
	}
	inits := map[string]*ir.Initializer{}
	for _, in := range g.Initializers {
		inits[in.Name] = in
		m.init[in.Name] = in.T
	}
	for _, v := range g.Inputs {
		if inits[v.Name] == nil {
			m.Inputs = append(m.Inputs, v.Name)
		}
	}
	rng := rand.New(rand.NewPCG(cfg.seed, 0x66742d68656164))
	if err := m.initHead(rng); err != nil {
		return nil, err
	}
	if cfg.loraRank > 0 {
		if err := m.findAdapters(inits, rng); err != nil {
			return nil, err
		}
	}
	fwd, err := m.graph(modeTrain, nil)
	if err != nil {
		return nil, err
	}
	used := usedInitializers(fwd.Graph)
	weights := matmulWeights(fwd.Graph)
	switch {
	case cfg.loraRank > 0:
		m.trainOn = append(append([]string{}, m.head...), m.adapterParams()...)
	case cfg.freeze:
		m.trainOn = append([]string{}, m.head...)
	default:
		for _, in := range fwd.Graph.Initializers {
			if used[in.Name] && (train.DefaultTrainable(in.Name, in.T) || weights[in.Name]) {
				m.trainOn = append(m.trainOn, in.Name)
			}
		}
	}
	st, err := train.Build(fwd, train.Config{Loss: lossName, Params: m.trainOn, Optimizer: cfg.optimizer, ClipNorm: cfg.clip})
	if err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	m.step = st
	return m, nil
}

// lossName is the forward graph's loss value.
const lossName = "finetune/loss"

func (m *Model) adapterParams() []string {
	var out []string
	for _, a := range m.adapters {
		out = append(out, a.a, a.b)
	}
	return out
}

// initHead draws the head's parameters: normal(0, 0.02) weights and zero
// biases, as transformers initializes a new classifier.
func (m *Model) initHead(rng *rand.Rand) error {
	c := m.Task.NumLabels()
	if c == 0 {
		return nil
	}
	h, err := m.hiddenSize()
	if err != nil {
		return err
	}
	w := tensor.Zeros(tensor.Float32, c, h)
	for i, d := 0, tensor.Data[float32](w); i < len(d); i++ {
		d[i] = float32(rng.NormFloat64() * 0.02)
	}
	m.init[HeadWeight] = w
	m.init[HeadBias] = tensor.Zeros(tensor.Float32, c)
	m.head = []string{HeadWeight, HeadBias}
	return nil
}

// Head parameter names, as transformers names the classifier of
// BertForSequenceClassification and BertForTokenClassification.
const (
	HeadWeight = "classifier.weight" // (labels, hidden), PyTorch's Linear layout
	HeadBias   = "classifier.bias"
)

// hiddenSize reads the hidden width from the backbone's declared output
// type, else from a probe run.
func (m *Model) hiddenSize() (int, error) {
	for _, o := range m.backbone.Graph.Outputs {
		if o.Name == m.hidden && o.Type.HasShape && len(o.Type.Shape) > 0 {
			if d := o.Type.Shape[len(o.Type.Shape)-1]; d.Known() && d.Size > 0 {
				return int(d.Size), nil
			}
		}
	}
	types := autodiff.InferTypes(m.backbone)
	if t, ok := types[m.hidden]; ok && t.HasShape && len(t.Shape) > 0 {
		if d := t.Shape[len(t.Shape)-1]; d.Known() && d.Size > 0 {
			return int(d.Size), nil
		}
	}
	return 0, fmt.Errorf("finetune: the hidden size of %q is not known from the model's shapes", m.hidden)
}

// findAdapters picks the attention projections and draws their adapters:
// A Kaiming-uniform as peft (bound 1/√in), B zeros, so training starts from
// the backbone's function.
func (m *Model) findAdapters(inits map[string]*ir.Initializer, rng *rand.Rand) error {
	g := m.backbone.Graph
	producer := map[string]*ir.Node{}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			producer[o] = n
		}
	}
	r := m.cfg.loraRank
	for i, n := range g.Nodes {
		if n.OpType != "MatMul" || len(n.Inputs) != 2 {
			continue
		}
		a := adapter{node: i, weight: n.Inputs[1]}
		if in := inits[a.weight]; in != nil && in.T.Rank() == 2 {
			a.in, a.out = in.T.Shape()[0], in.T.Shape()[1]
		} else if p := producer[a.weight]; p != nil && p.OpType == "Transpose" && inits[p.Inputs[0]] != nil && inits[p.Inputs[0]].T.Rank() == 2 && plainTranspose(p) {
			a.weight, a.transposed = p.Inputs[0], true
			s := inits[a.weight].T.Shape()
			a.in, a.out = s[1], s[0]
		} else {
			continue
		}
		if !inits[a.weight].T.DType().IsFloat() || !m.cfg.loraTarget(n.Name, a.weight) {
			continue
		}
		base := strings.TrimSuffix(a.weight, ".weight")
		if generatedName(a.weight) {
			base = strings.ReplaceAll(strings.TrimSuffix(strings.Trim(n.Name, "/"), "/MatMul"), "/", ".")
		}
		a.a, a.b = base+".lora_A", base+".lora_B"
		if m.init[a.a] != nil {
			continue // a weight shared by two MatMuls gets one adapter... on its first use
		}
		at := tensor.Zeros(tensor.Float32, a.in, r)
		bound := 1 / math.Sqrt(float64(a.in))
		for j, d := 0, tensor.Data[float32](at); j < len(d); j++ {
			d[j] = float32((rng.Float64()*2 - 1) * bound)
		}
		m.init[a.a] = at
		m.init[a.b] = tensor.Zeros(tensor.Float32, r, a.out)
		m.adapters = append(m.adapters, a)
	}
	if len(m.adapters) == 0 {
		return fmt.Errorf("finetune: LoRA found no attention projection (MatMul with an initializer weight in a node or weight named like attention/attn); pass LoRATargets to choose")
	}
	return nil
}

func plainTranspose(n *ir.Node) bool {
	for _, a := range n.Attrs {
		if a.Name == "perm" {
			return len(a.Ints) == 2 && a.Ints[0] == 1 && a.Ints[1] == 0
		}
	}
	return true
}

type mode int

const (
	modeTrain    mode = iota // adapters, dropout, labels, loss
	modeAdapters             // inference with adapter nodes (for checking the merge)
	modeMerged               // inference, adapters merged into the weights
)

// graph builds the forward graph of a mode from the backbone, with params
// (nil: the initial values) as initializers.
func (m *Model) graph(md mode, params map[string]*tensor.Tensor) (*ir.Model, error) {
	val := func(name string) *tensor.Tensor {
		if t, ok := params[name]; ok {
			return t
		}
		return m.init[name]
	}
	src := m.backbone
	c := *src
	g := *src.Graph
	c.Graph = &g
	g.Nodes = make([]*ir.Node, len(src.Graph.Nodes))
	for i, n := range src.Graph.Nodes {
		nn := *n
		nn.Outputs = append([]string{}, n.Outputs...)
		g.Nodes[i] = &nn
	}
	g.Inputs = append([]*ir.ValueInfo{}, src.Graph.Inputs...)
	g.ValueInfo = append([]*ir.ValueInfo{}, src.Graph.ValueInfo...)
	g.Initializers = nil
	merged := map[string]*tensor.Tensor{}
	if md == modeMerged {
		for _, a := range m.adapters {
			w, err := mergeLoRA(val(a.weight), val(a.a), val(a.b), a.transposed, m.cfg.loraAlpha/float64(m.cfg.loraRank))
			if err != nil {
				return nil, err
			}
			merged[a.weight] = w
		}
	}
	for _, in := range src.Graph.Initializers {
		ni := *in
		ni.External = nil
		ni.T = val(in.Name)
		if w, ok := merged[in.Name]; ok {
			ni.T = w
		}
		g.Initializers = append(g.Initializers, &ni)
	}
	addInit := func(name string) {
		g.Initializers = append(g.Initializers, &ir.Initializer{Name: name, T: val(name)})
	}
	// Fresh names must not collide with the backbone's: a builder sees
	// every name, so the prefix keeps ours apart.
	if md != modeMerged {
		b := autodiff.NewBuilder(&c, "lora/")
		scale := m.cfg.loraAlpha / float64(max(1, m.cfg.loraRank))
		for _, a := range m.adapters {
			n := g.Nodes[a.node]
			y := n.Outputs[0]
			base := y + "/lora_base"
			n.Outputs[0] = base
			addInit(a.a)
			addInit(a.b)
			delta := b.Op("MatMul", nil, b.Op("MatMul", nil, n.Inputs[0], a.a), a.b)
			delta = b.Op("Mul", nil, delta, b.Const(tensor.Scalar(float32(scale))))
			g.Nodes = append(g.Nodes, &ir.Node{Name: base + "/add", OpType: "Add", Inputs: []string{base, delta}, Outputs: []string{y}})
		}
	}
	for _, h := range m.head {
		addInit(h)
	}
	b := autodiff.NewBuilder(&c, "head/")
	var out string
	switch m.Task.(type) {
	case Embedding:
		out = b.Alias(OutputEmbedding, m.meanPool(b, &g))
	case TokenCls:
		out = b.Alias(OutputLogits, m.linear(b, m.dropout(b, md, m.hidden)))
	default:
		var x string
		switch m.pool {
		case PoolPooler:
			x = m.pooled
		case PoolMean:
			x = m.meanPool(b, &g)
		default:
			x = b.Op("Gather", []ops.Attr{aInt("axis", 1)}, m.hidden, b.Const(tensor.Scalar(int64(0))))
		}
		out = b.Alias(OutputLogits, m.linear(b, m.dropout(b, md, x)))
	}
	if md == modeTrain {
		if err := m.addLoss(&c, out); err != nil {
			return nil, err
		}
		g.Outputs = []*ir.ValueInfo{{Name: lossName, Type: tensor.TensorType(tensor.Float32)}}
	} else {
		g.Outputs = []*ir.ValueInfo{{Name: out, Type: m.outputType()}}
	}
	Prune(&g)
	if err := sortNodes(&g); err != nil {
		return nil, err
	}
	return &c, nil
}

// outputType is the inference output's type: (batch_size, num_labels),
// (batch_size, sequence_length, num_labels) for TokenCls, (batch_size,
// hidden) for Embedding.
func (m *Model) outputType() tensor.Type {
	dim := func(name string) tensor.Dim { return tensor.Dim{Size: -1, Param: name} }
	last := tensor.Dim{Size: int64(m.Task.NumLabels())}
	if _, ok := m.Task.(Embedding); ok {
		last = dim("hidden_size")
		if h, err := m.hiddenSize(); err == nil {
			last = tensor.Dim{Size: int64(h)}
		}
	}
	shape := []tensor.Dim{dim("batch_size"), last}
	if _, ok := m.Task.(TokenCls); ok {
		shape = []tensor.Dim{dim("batch_size"), dim("sequence_length"), last}
	}
	return tensor.Type{Kind: tensor.KindTensor, DType: tensor.Float32, HasShape: true, Shape: shape}
}

func aInt(name string, v int64) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrInt, I: v} }

// linear is x·Wᵀ + b with W in PyTorch's (out, in) layout.
func (m *Model) linear(b *autodiff.Builder, x string) string {
	wt := b.Op("Transpose", []ops.Attr{{Name: "perm", Type: ops.AttrInts, Ints: []int64{1, 0}}}, HeadWeight)
	return b.Op("Add", nil, b.Op("MatMul", nil, x, wt), HeadBias)
}

// dropout applies the head's dropout in training.
func (m *Model) dropout(b *autodiff.Builder, md mode, x string) string {
	if md != modeTrain || m.cfg.dropout <= 0 {
		return x
	}
	return b.Op("Dropout", nil, x, b.Const(tensor.Scalar(float32(m.cfg.dropout))), b.Const(tensor.Scalar(true)))
}

// meanPool is Σ h·mask / max(Σ mask, 1e-9) over the sequence, as
// sentence-transformers' mean pooling (all tokens without a mask input).
func (m *Model) meanPool(b *autodiff.Builder, g *ir.Graph) string {
	mask := ""
	for _, in := range m.Inputs {
		if in == "attention_mask" {
			mask = in
		}
	}
	if mask == "" {
		return b.Op("ReduceMean", []ops.Attr{aInt("keepdims", 0)}, m.hidden, b.Ints(1))
	}
	mk := b.Op("Unsqueeze", nil, b.Op("Cast", []ops.Attr{aInt("to", int64(tensor.Float32))}, mask), b.Ints(-1)) // (B, S, 1)
	sum := b.Op("ReduceSum", []ops.Attr{aInt("keepdims", 0)}, b.Op("Mul", nil, m.hidden, mk), b.Ints(1))
	cnt := b.Op("Max", nil, b.Op("ReduceSum", []ops.Attr{aInt("keepdims", 0)}, mk, b.Ints(1)), b.Const(tensor.Scalar(float32(1e-9))))
	return b.Op("Div", nil, sum, cnt)
}

// addLoss declares the labels input and appends the task's loss.
func (m *Model) addLoss(c *ir.Model, out string) error {
	g := c.Graph
	var loss string
	var err error
	switch t := m.Task.(type) {
	case SeqCls:
		g.Inputs = append(g.Inputs, labelsInput(tensor.Int64, "batch_size"))
		loss, err = train.CrossEntropy(c, out, InputLabels, -100, 0)
	case TokenCls:
		g.Inputs = append(g.Inputs, labelsInput(tensor.Int64, "batch_size", "sequence_length"))
		b := autodiff.NewBuilder(c, "head/")
		lt := b.Op("Transpose", []ops.Attr{{Name: "perm", Type: ops.AttrInts, Ints: []int64{0, 2, 1}}}, out)
		loss, err = train.CrossEntropy(c, lt, InputLabels, -100, 0)
	case Regression:
		g.Inputs = append(g.Inputs, labelsInput(tensor.Float32, "batch_size"))
		b := autodiff.NewBuilder(c, "head/")
		loss = train.MSE(c, b.Op("Reshape", nil, out, b.Ints(-1)), InputLabels)
	case Embedding:
		// The batch holds anchors then their positives: rows [0, N) and [N, 2N).
		b := autodiff.NewBuilder(c, "head/")
		half := b.Op("Div", nil, b.Op("Shape", []ops.Attr{aInt("start", 0), aInt("end", 1)}, out), b.Ints(2))
		anchors := b.Op("Slice", nil, out, b.Ints(0), half, b.Ints(0))
		positives := b.Op("Slice", nil, out, half, b.Ints(math.MaxInt64), b.Ints(0))
		scale := t.Scale
		if scale == 0 {
			scale = 20
		}
		loss = train.InBatchContrastive(c, anchors, positives, scale)
	}
	if err != nil {
		return err
	}
	g.Nodes = append(g.Nodes, &ir.Node{Name: "finetune/loss_identity", OpType: "Identity", Inputs: []string{loss}, Outputs: []string{lossName}})
	return nil
}

func labelsInput(dt tensor.DType, dims ...string) *ir.ValueInfo {
	t := tensor.Type{Kind: tensor.KindTensor, DType: dt, HasShape: true}
	for _, d := range dims {
		t.Shape = append(t.Shape, tensor.Dim{Size: -1, Param: d})
	}
	return &ir.ValueInfo{Name: InputLabels, Type: t}
}

// mergeLoRA returns W + s·A·B, transposed into W's layout when W is (out, in).
func mergeLoRA(w, a, b *tensor.Tensor, transposed bool, s float64) (*tensor.Tensor, error) {
	if w.DType() != tensor.Float32 || a.DType() != tensor.Float32 || b.DType() != tensor.Float32 {
		return nil, fmt.Errorf("finetune: merging LoRA supports float32 weights, got %v", w.DType())
	}
	in, r, out := a.Shape()[0], a.Shape()[1], b.Shape()[1]
	ws := w.Shape()
	if (!transposed && (ws[0] != in || ws[1] != out)) || (transposed && (ws[0] != out || ws[1] != in)) || b.Shape()[0] != r {
		return nil, fmt.Errorf("finetune: LoRA shapes %v·%v do not match weight %v", a.Shape(), b.Shape(), ws)
	}
	res := tensor.Zeros(tensor.Float32, ws...)
	wd, ad, bd, rd := tensor.Data[float32](w), tensor.Data[float32](a), tensor.Data[float32](b), tensor.Data[float32](res)
	copy(rd, wd)
	for i := range in {
		for j := range out {
			var acc float64
			for k := range r {
				acc += float64(ad[i*r+k]) * float64(bd[k*out+j])
			}
			if transposed {
				rd[j*in+i] += float32(s * acc)
			} else {
				rd[i*out+j] += float32(s * acc)
			}
		}
	}
	return res, nil
}

// usedInitializers names the initializers some node reads.
func usedInitializers(g *ir.Graph) map[string]bool {
	used := map[string]bool{}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			used[in] = true
		}
	}
	return used
}

// Prune drops nodes, initializers and value_info that no graph output needs
// (the pooler when the head reads the first token, the backbone's own
// outputs). Subgraph reads count as uses.
func Prune(g *ir.Graph) {
	need := map[string]bool{}
	for _, o := range g.Outputs {
		need[o.Name] = true
	}
	keep := make([]bool, len(g.Nodes))
	for changed := true; changed; {
		changed = false
		for i := len(g.Nodes) - 1; i >= 0; i-- {
			n := g.Nodes[i]
			if keep[i] {
				continue
			}
			for _, o := range n.Outputs {
				if need[o] {
					keep[i] = true
				}
			}
			if keep[i] {
				changed = true
				for _, in := range n.Inputs {
					need[in] = true
				}
				for _, sg := range n.Subgraphs() {
					for _, f := range sg.FreeNames() {
						need[f] = true
					}
				}
			}
		}
	}
	var nodes []*ir.Node
	for i, n := range g.Nodes {
		if keep[i] {
			nodes = append(nodes, n)
		}
	}
	g.Nodes = nodes
	var inits []*ir.Initializer
	for _, in := range g.Initializers {
		if need[in.Name] {
			inits = append(inits, in)
		}
	}
	g.Initializers = inits
	var vi []*ir.ValueInfo
	for _, v := range g.ValueInfo {
		if need[v.Name] {
			vi = append(vi, v)
		}
	}
	g.ValueInfo = vi
}

// sortNodes puts the nodes in topological order (ONNX requires it of files).
func sortNodes(g *ir.Graph) error {
	order, err := g.TopoOrder(nil)
	if err != nil {
		return fmt.Errorf("finetune: %w", err)
	}
	nodes := make([]*ir.Node, len(order))
	for i, k := range order {
		nodes[i] = g.Nodes[k]
	}
	g.Nodes = nodes
	return nil
}

// Trainable lists the parameters that train, sorted.
func (m *Model) Trainable() []string {
	out := append([]string{}, m.trainOn...)
	sort.Strings(out)
	return out
}

// Adapters lists the projection weights that carry LoRA adapters.
func (m *Model) Adapters() []string {
	var out []string
	for _, a := range m.adapters {
		out = append(out, a.weight)
	}
	return out
}

// TrainStep is the training-step graph (train.Step).
func (m *Model) TrainStep() *train.Step { return m.step }

// Trainer returns the trainer, starting it on first use with the schedule
// of SetSchedule (train's default without one).
func (m *Model) Trainer() (*train.Trainer, error) {
	if m.trainer != nil {
		return m.trainer, nil
	}
	tr, err := train.New(m.step, train.Options{Provider: m.cfg.provider, Schedule: m.sched, Seed: m.cfg.seed, IntraOpThreads: m.cfg.threads})
	if err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	m.trainer = tr
	return tr, nil
}

// SetSchedule sets the learning-rate schedule; call before the first Step.
func (m *Model) SetSchedule(s train.Schedule) error {
	if m.trainer != nil {
		return fmt.Errorf("finetune: the schedule is set before the first step")
	}
	m.sched = s
	return nil
}

// Step trains on one batch (the backbone inputs and "labels").
func (m *Model) Step(ctx context.Context, batch map[string]*tensor.Tensor) (train.Result, error) {
	tr, err := m.Trainer()
	if err != nil {
		return train.Result{}, err
	}
	return tr.Step(ctx, batch)
}

// Params returns every parameter's current value: backbone, head and adapters.
func (m *Model) Params() map[string]*tensor.Tensor {
	out := make(map[string]*tensor.Tensor, len(m.init))
	for k, v := range m.init {
		out[k] = v
	}
	if m.trainer != nil {
		for k, v := range m.trainer.Params() {
			out[k] = v
		}
	}
	return out
}

// Inference returns the inference graph with the current weights: the
// backbone and head, no dropout, no loss, LoRA adapters merged into the
// projection weights (W' = W + (alpha/r)·A·B in W's layout). Its output is
// "logits" (or "sentence_embedding" for Embedding).
func (m *Model) Inference() (*ir.Model, error) { return m.graph(modeMerged, m.Params()) }

// InferenceWithAdapters is Inference keeping the adapter nodes unmerged,
// to check the merge.
func (m *Model) InferenceWithAdapters() (*ir.Model, error) { return m.graph(modeAdapters, m.Params()) }

// Output is the name of the inference graph's output.
func (m *Model) Output() string {
	if _, ok := m.Task.(Embedding); ok {
		return OutputEmbedding
	}
	return OutputLogits
}

// Predict runs the inference graph (merged weights) on the backbone inputs
// of batch.
func (m *Model) Predict(ctx context.Context, batch map[string]*tensor.Tensor) (*tensor.Tensor, error) {
	s, err := m.session()
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return m.predictWith(ctx, s, batch)
}

// session compiles the inference graph with the current weights.
func (m *Model) session() (*runtime.Session, error) {
	inf, err := m.Inference()
	if err != nil {
		return nil, err
	}
	s, err := runtime.NewSession(inf, runtime.Options{Provider: m.cfg.provider, IntraOpThreads: m.cfg.threads})
	if err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	return s, nil
}

func (m *Model) predictWith(ctx context.Context, s *runtime.Session, batch map[string]*tensor.Tensor) (*tensor.Tensor, error) {
	feeds := map[string]*tensor.Tensor{}
	for _, in := range m.Inputs {
		t, ok := batch[in]
		if !ok {
			return nil, fmt.Errorf("finetune: the batch lacks input %q", in)
		}
		feeds[in] = t
	}
	out, err := s.Run(ctx, feeds)
	if err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	return out[m.Output()], nil
}

// Close releases the trainer's sessions.
func (m *Model) Close() error {
	if m.trainer != nil {
		return m.trainer.Close()
	}
	return nil
}

// generatedName reports an exporter's name for a folded or transposed
// weight ("onnx::MatMul_296", "/encoder/Constant_output_0").
func generatedName(name string) bool {
	return strings.HasPrefix(name, "onnx::") || strings.HasPrefix(name, "/")
}

// matmulWeights names the rank-2 float initializers that a MatMul or Gemm
// reads as its weight: exporters give the transposed Linear weights of
// PyTorch models generated names ("onnx::MatMul_296"), which
// train.DefaultTrainable takes for constants, yet they are weights.
func matmulWeights(g *ir.Graph) map[string]bool {
	inits := map[string]*tensor.Tensor{}
	for _, in := range g.Initializers {
		inits[in.Name] = in.T
	}
	out := map[string]bool{}
	for _, n := range g.Nodes {
		if (n.OpType == "MatMul" || n.OpType == "Gemm") && len(n.Inputs) >= 2 {
			if t := inits[n.Inputs[1]]; t != nil && t.Rank() == 2 && t.DType().IsFloat() {
				out[n.Inputs[1]] = true
			}
		}
	}
	return out
}

// untie gives every Identity alias of an initializer its own initializer
// (a copy under the alias's name). PyTorch's exporter deduplicates equal
// tensors (freshly initialized biases and LayerNorm weights) into one
// initializer read through Identity nodes; training them as one would tie
// parameters the model keeps separate. The model is not modified; a model
// without such aliases comes back as is.
func untie(m *ir.Model) *ir.Model {
	g := m.Graph
	inits := map[string]*tensor.Tensor{}
	for _, in := range g.Initializers {
		inits[in.Name] = in.T
	}
	var aliases []*ir.Node
	for _, n := range g.Nodes {
		if n.OpType == "Identity" && len(n.Inputs) == 1 && len(n.Outputs) == 1 && inits[n.Inputs[0]] != nil && inits[n.Outputs[0]] == nil {
			aliases = append(aliases, n)
		}
	}
	if len(aliases) == 0 {
		return m
	}
	c := *m
	ng := *g
	c.Graph = &ng
	drop := map[*ir.Node]bool{}
	ng.Initializers = append([]*ir.Initializer{}, g.Initializers...)
	for _, n := range aliases {
		drop[n] = true
		ng.Initializers = append(ng.Initializers, &ir.Initializer{Name: n.Outputs[0], T: inits[n.Inputs[0]].Clone()})
	}
	ng.Nodes = nil
	for _, n := range g.Nodes {
		if !drop[n] {
			ng.Nodes = append(ng.Nodes, n)
		}
	}
	return &c
}
