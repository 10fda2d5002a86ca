package generate

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
)

// Layout is how a decoder model takes its KV cache.
type Layout int

const (
	// NoPast: the model takes no past_key_values; every step runs the
	// whole sequence (optimum's text-generation export).
	NoPast Layout = iota
	// WithPast: one model takes past_key_values.* and returns present.*
	// (gort's zoo GPT-2 with past); the prompt's step feeds an empty past.
	WithPast
	// Merged: optimum's merged decoder, an If on use_cache_branch.
	Merged
	// Split: decoder_model.onnx for the prompt and
	// decoder_with_past_model.onnx for the following tokens.
	Split
	// Shared: one model takes past_key_values.* as buffers preallocated
	// for the longest sequence and returns them, with the step's positions
	// written, as present.* (zoo.BuildGPT2SharedCache; ONNX Runtime's
	// past_present_share_buffer). Past and present have the same symbolic
	// axis 2; the valid length is the attention mask's width minus the
	// step's tokens. The cache is allocated once per generation and
	// donated at every step, so the native runtime writes it in place.
	Shared
)

func (l Layout) String() string {
	return [...]string{"no past", "with past", "merged", "decoder + decoder with past", "shared cache buffer"}[l]
}

var pastName = regexp.MustCompile(`^past_key_values\.(\d+)\.(key|value)$`)

// model holds the sessions and what their inputs say about the cache.
type model struct {
	first, next *runtime.Session // prompt step; following steps
	layout      Layout
	layers      int
	heads, hd   int          // past dimensions 1 and 3 (0 when symbolic)
	pastDT      tensor.DType // dtype of the past inputs
	hasPos      bool         // position_ids input
	hasMask     bool         // attention_mask input
	nextPos     bool         // the with-past session takes position_ids
	nextMask    bool
}

func inputSet(s *runtime.Session) map[string]tensor.Type {
	m := map[string]tensor.Type{}
	for _, v := range s.Inputs() {
		m[v.Name] = v.Type
	}
	return m
}

// pastInputs returns the past inputs' types by layer, checking that every
// layer has a key and a value.
func pastInputs(in map[string]tensor.Type) ([]tensor.Type, error) {
	layers := map[int]int{}
	var typ []tensor.Type
	for name, t := range in {
		m := pastName.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		l, err := strconv.Atoi(m[1])
		if err != nil || l > 1<<16 {
			return nil, fmt.Errorf("generate: input %q has an unusable layer number", name)
		}
		layers[l]++
		typ = append(typ, t)
	}
	keys := make([]int, 0, len(layers))
	for l := range layers {
		keys = append(keys, l)
	}
	sort.Ints(keys)
	for i, l := range keys {
		if l != i || layers[l] != 2 {
			return nil, fmt.Errorf("generate: past_key_values inputs must be layers 0..%d with a key and a value each; layer %d is incomplete or out of order", len(keys)-1, i)
		}
	}
	return typ, nil
}

func newModel(s, withPast *runtime.Session) (*model, error) {
	in := inputSet(s)
	if _, ok := in["input_ids"]; !ok {
		return nil, fmt.Errorf("generate: the model has no input_ids input (inputs: %v)", names(in))
	}
	hasLogits := false
	for _, o := range s.Outputs() {
		hasLogits = hasLogits || o.Name == "logits"
	}
	if !hasLogits {
		return nil, fmt.Errorf("generate: the model has no logits output")
	}
	m := &model{first: s, next: s, pastDT: tensor.Float32}
	_, m.hasPos = in["position_ids"]
	_, m.hasMask = in["attention_mask"]
	m.nextPos, m.nextMask = m.hasPos, m.hasMask
	pastTypes, err := pastInputs(in)
	if err != nil {
		return nil, err
	}
	switch {
	case len(pastTypes) > 0:
		m.layout = WithPast
		if _, ok := in["use_cache_branch"]; ok {
			m.layout = Merged
		} else if sharedBuffer(s) {
			m.layout = Shared
		}
		if withPast != nil {
			return nil, fmt.Errorf("generate: the model already takes past_key_values; WithPast is only for a decoder without past")
		}
	case withPast != nil:
		m.layout = Split
		m.next = withPast
		win := inputSet(withPast)
		if pastTypes, err = pastInputs(win); err != nil {
			return nil, err
		}
		if len(pastTypes) == 0 {
			return nil, fmt.Errorf("generate: the WithPast model takes no past_key_values inputs")
		}
		_, m.nextPos = win["position_ids"]
		_, m.nextMask = win["attention_mask"]
	default:
		m.layout = NoPast
	}
	if len(pastTypes) > 0 {
		m.layers = len(pastTypes) / 2
		t := pastTypes[0]
		m.pastDT = t.DType
		if t.HasShape && len(t.Shape) == 4 {
			if t.Shape[1].Known() {
				m.heads = int(t.Shape[1].Size)
			}
			if t.Shape[3].Known() {
				m.hd = int(t.Shape[3].Size)
			}
		}
		if m.heads == 0 || m.hd == 0 {
			return nil, fmt.Errorf("generate: past_key_values.0.key has shape %s; heads (dimension 1) and head size (dimension 3) must be fixed", runtime.FormatType(t))
		}
	}
	return m, nil
}

// sharedBuffer reports whether present.0.key's axis 2 is past_key_values.0.key's
// symbolic axis 2: the model returns its past buffers (Shared).
func sharedBuffer(s *runtime.Session) bool {
	axis2 := func(vs []*ir.ValueInfo, name string) string {
		for _, v := range vs {
			if v.Name == name && v.Type.HasShape && len(v.Type.Shape) == 4 && !v.Type.Shape[2].Known() {
				return v.Type.Shape[2].Param
			}
		}
		return ""
	}
	p := axis2(s.Inputs(), "past_key_values.0.key")
	return p != "" && p == axis2(s.Outputs(), "present.0.key")
}

func names(in map[string]tensor.Type) []string {
	out := make([]string, 0, len(in))
	for k := range in {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// step holds one batch's decoding state. Buffers are sized for the
// longest sequence once; each step's feeds are tensors over prefixes of
// them.
type step struct {
	m      *model
	cache  bool
	batch  int
	maxLen int
	ids    []int64 // (batch, maxLen): every token so far, left-padded
	mask   []int64 // (batch, maxLen)
	pos    []int64 // (batch, maxLen): position of each token
	n      int     // tokens so far per row (padding included)
	feedID []int64 // scratch for the step's input_ids / mask / positions
	feedMk []int64
	feedPs []int64
	feedT  [3]*tensor.Tensor // the last tensors over feedID, feedMk, feedPs
	feeds  map[string]*tensor.Tensor
	past   []*tensor.Tensor // (layer·2 + kv): the cache fed next step
	empty  *tensor.Tensor   // a past of no positions (steps without cache)
	donate context.Context  // the Shared layout's run context: past donated
	pnames []string         // past input names, same order
	onames []string         // present output names, same order
	branch [2]*tensor.Tensor
	// logits (batch, 1, vocab) receives each decode step's logits, bound
	// as the output (runtime.WithOutputs, in bind) once the prompt's
	// step has shown the vocabulary size.
	logits *tensor.Tensor
	bind   context.Context
	out    map[string]*tensor.Tensor // each run's outputs (RunInto)
}

func (m *model) newStep(prompts [][]int, pad int, maxNew int, cache bool) *step {
	B := len(prompts)
	P := 0
	for _, p := range prompts {
		P = max(P, len(p))
	}
	L := P + maxNew
	st := &step{m: m, cache: cache && m.layout != NoPast, batch: B, maxLen: L, n: P,
		ids: make([]int64, B*L), mask: make([]int64, B*L), pos: make([]int64, B*L),
		feedID: make([]int64, B*L), feedMk: make([]int64, B*L), feedPs: make([]int64, B*L),
		feeds: map[string]*tensor.Tensor{}}
	for b, p := range prompts {
		off := P - len(p)
		n := int64(0)
		for s := 0; s < P; s++ {
			i := b*L + s
			if s < off {
				st.ids[i], st.mask[i], st.pos[i] = int64(pad), 0, 1 // transformers' masked_fill(mask == 0, 1)
				continue
			}
			st.ids[i], st.mask[i], st.pos[i] = int64(p[s-off]), 1, n
			n++
		}
	}
	for l := 0; l < m.layers; l++ {
		for _, kv := range []string{"key", "value"} {
			st.pnames = append(st.pnames, fmt.Sprintf("past_key_values.%d.%s", l, kv))
			st.onames = append(st.onames, fmt.Sprintf("present.%d.%s", l, kv))
		}
	}
	st.branch = [2]*tensor.Tensor{tensor.Must([]int{1}, []bool{false}), tensor.Must([]int{1}, []bool{true})}
	if len(st.pnames) > 0 {
		st.empty = tensor.Zeros(m.pastDT, B, m.heads, 0, m.hd)
		st.past = make([]*tensor.Tensor, len(st.pnames))
		for i := range st.past {
			st.past[i] = st.empty
			if st.cache && m.layout == Shared {
				// One buffer each: donated feeds must not share memory.
				st.past[i] = tensor.Zeros(m.pastDT, B, m.heads, L, m.hd)
			}
		}
	}
	return st
}

// cols packs columns [from, to) of every row of x (batch, maxLen) into
// dst as a (batch, to−from) tensor. The tensor of the last call with dst
// (feed k) serves again, refitted when the width changed (the mask grows
// a column per step): its data is a prefix of dst, and no run keeps a
// feed.
func (st *step) cols(k int, dst, x []int64, from, to int) *tensor.Tensor {
	w := to - from
	for b := 0; b < st.batch; b++ {
		copy(dst[b*w:(b+1)*w], x[b*st.maxLen+from:b*st.maxLen+to])
	}
	if t := st.feedT[k]; t != nil && t.Refit([]int{st.batch, w}) == nil {
		return t
	}
	st.feedT[k] = tensor.Must([]int{st.batch, w}, dst[:st.batch*w])
	return st.feedT[k]
}

// run feeds the tokens not yet seen (all of them without cache) and
// returns the logits (batch, vocab) of each row's last position.
func (st *step) run(ctx context.Context, prefill bool) (*tensor.Tensor, error) {
	m := st.m
	s, withPos, withMask := m.first, m.hasPos, m.hasMask
	from := 0
	if st.cache && !prefill {
		from = st.n - 1
		if m.layout == Split {
			s, withPos, withMask = m.next, m.nextPos, m.nextMask
		}
	}
	clear(st.feeds)
	st.feeds["input_ids"] = st.cols(0, st.feedID, st.ids, from, st.n)
	if withMask {
		st.feeds["attention_mask"] = st.cols(1, st.feedMk, st.mask, 0, st.n)
	}
	if withPos {
		st.feeds["position_ids"] = st.cols(2, st.feedPs, st.pos, from, st.n)
	}
	usePast := m.layout == WithPast || m.layout == Merged || (m.layout == Split && st.cache && !prefill)
	usePast = usePast || m.layout == Shared
	if usePast {
		var buf *tensor.Tensor
		if !st.cache && m.layout == Shared {
			// Buffers for this step's tokens only, nothing valid in them.
			buf = tensor.Zeros(m.pastDT, st.batch, m.heads, st.n, m.hd)
		}
		for i, name := range st.pnames {
			switch {
			case st.cache:
				st.feeds[name] = st.past[i]
			case buf != nil:
				st.feeds[name] = buf
			default:
				st.feeds[name] = st.empty
			}
		}
	}
	if st.cache && m.layout == Shared {
		// The presents come back in the donated buffers: the cache is
		// written in place, and a failed step leaves its valid rows.
		if st.donate == nil {
			st.donate = runtime.WithDonated(ctx, st.pnames...)
		}
		ctx = st.donate
	}
	if st.logits != nil && st.cache && !prefill {
		if st.bind == nil {
			st.bind = runtime.WithOutputs(ctx, map[string]*tensor.Tensor{"logits": st.logits})
		}
		ctx = st.bind
	}
	if m.layout == Merged {
		st.feeds["use_cache_branch"] = st.branch[0]
		if st.cache && !prefill {
			st.feeds["use_cache_branch"] = st.branch[1]
		}
	}
	if st.out == nil {
		st.out = map[string]*tensor.Tensor{}
	}
	if err := s.RunInto(ctx, st.feeds, st.out); err != nil {
		return nil, err
	}
	out := st.out
	if st.cache {
		for i, name := range st.onames {
			p, ok := out[name]
			if !ok {
				return nil, fmt.Errorf("generate: the model returned no %s output", name)
			}
			want := st.n
			if m.layout == Shared {
				want = st.maxLen
			}
			if sh := p.Shape(); len(sh) != 4 || sh[2] != want {
				return nil, fmt.Errorf("generate: %s has shape %v, want %d positions on axis 2", name, sh, want)
			}
			st.past[i] = p
		}
	}
	logits := out["logits"]
	if logits == nil || logits.DType() != tensor.Float32 || logits.Rank() != 3 || logits.Shape()[0] != st.batch {
		return nil, fmt.Errorf("generate: logits must be float32 (batch %d, sequence, vocab); got %v", st.batch, logits)
	}
	if st.cache && st.logits == nil {
		st.logits = tensor.Zeros(tensor.Float32, st.batch, 1, logits.Shape()[2])
	}
	return logits, nil
}

// push appends one token per row; position continues each row's count.
func (st *step) push(next []int) {
	L := st.maxLen
	for b, id := range next {
		i := b*L + st.n
		st.ids[i], st.mask[i] = int64(id), 1
		st.pos[i] = 0
		for j := st.n - 1; j >= 0; j-- {
			if st.mask[b*L+j] == 1 {
				st.pos[i] = st.pos[b*L+j] + 1
				break
			}
		}
	}
	st.n++
}
