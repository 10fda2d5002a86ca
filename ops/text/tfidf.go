package text

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// TfIdfVectorizer counts, for each row of X ([C] or [B, C] of int32, int64
// or string tokens), the occurrences of the pool's n-grams with lengths in
// [min_gram_length, max_gram_length], where the tokens of an n-gram may be
// skip_distance apart for skip_distance = 1 .. max_skip_count+1 (unigrams
// are counted once). Pool n-gram k (in pool order) counts into
// Y[row, ngram_indexes[k]]; Y (float32, [output] or [B, output], output =
// max(ngram_indexes)+1) is then
//
//	TF:    count
//	IDF:   count > 0 ? weights[j] : 0   (1 without weights)
//	TFIDF: count * weights[j]           (count without weights)
var tfIdfOps = ops.Versions("", "TfIdfVectorizer", "TfIdfVectorizer: Y[b, ngram_indexes[k]] = TF/IDF/TFIDF weighting of the count of pool n-gram k (with skips) in row b of X",
	[]int{9}, inferTfIdf, compileTfIdf)

func inferTfIdf(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	return []tensor.Type{{Kind: tensor.KindTensor, DType: tensor.Float32}}, nil
}

// trieNode is one token of the pool's n-gram trie: id is the 1-based pool
// n-gram that ends here (0: none), next the continuations.
type trieNode struct {
	id   int
	next map[int64]int32
}

type tfIdf struct {
	mode             string
	minGram, maxGram int
	maxSkip          int
	indexes          []int64 // ngram_indexes
	outSize          int
	weights          []float32
	vocab            map[string]int64 // string tokens to the ids the trie holds; nil for int pools
	trie             []trieNode       // trie[0] is the root
}

func compileTfIdf(n *ops.Node) (*ops.Kernel, error) {
	p := &tfIdf{
		mode:    n.String("mode", ""),
		minGram: int(n.Int("min_gram_length", 0)),
		maxGram: int(n.Int("max_gram_length", 0)),
		maxSkip: int(n.Int("max_skip_count", 0)),
		indexes: n.Ints("ngram_indexes", nil),
		weights: n.Floats("weights", nil),
	}
	counts := n.Ints("ngram_counts", nil)
	poolInts := n.Ints("pool_int64s", nil)
	poolStrings := n.Strings("pool_strings", nil)
	if err := n.Err(); err != nil {
		return nil, err
	}
	switch p.mode {
	case "TF", "IDF", "TFIDF":
	default:
		return nil, fmt.Errorf("attribute mode is %q, want TF, IDF or TFIDF", p.mode)
	}
	if p.minGram < 1 || p.maxGram < p.minGram || p.maxGram > 1<<20 {
		return nil, fmt.Errorf("min_gram_length %d and max_gram_length %d: want 1 <= min <= max", p.minGram, p.maxGram)
	}
	if p.maxSkip < 0 || p.maxSkip > 1<<20 {
		return nil, fmt.Errorf("attribute max_skip_count is %d, want >= 0", p.maxSkip)
	}
	if n.Has("pool_int64s") == n.Has("pool_strings") {
		return nil, fmt.Errorf("exactly one of pool_int64s and pool_strings is required")
	}
	pool := poolInts
	if n.Has("pool_strings") {
		p.vocab = map[string]int64{}
		pool = make([]int64, len(poolStrings))
		for i, s := range poolStrings {
			id, ok := p.vocab[s]
			if !ok {
				id = int64(len(p.vocab))
				p.vocab[s] = id
			}
			pool[i] = id
		}
	}
	for _, v := range p.indexes {
		if v < 0 || v >= 1<<40 {
			return nil, fmt.Errorf("attribute ngram_indexes holds %d, want a non-negative output index", v)
		}
		p.outSize = max(p.outSize, int(v)+1)
	}
	if len(p.weights) > 0 && len(p.weights) < p.outSize {
		return nil, fmt.Errorf("attribute weights has %d values, want one per output column (%d)", len(p.weights), p.outSize)
	}
	if err := p.build(pool, counts); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: p.run}, nil
}

// build fills the trie with the pool's n-grams: ngram_counts[i] is where
// the (i+1)-grams start in pool. N-gram ids count every pool n-gram, also
// those of lengths outside [min, max] that the trie leaves out.
func (p *tfIdf) build(pool, counts []int64) error {
	p.trie = []trieNode{{}}
	id := 1
	for i, start := range counts {
		end := int64(len(pool))
		if i+1 < len(counts) {
			end = counts[i+1]
		}
		if start < 0 || start > end || end > int64(len(pool)) {
			return fmt.Errorf("attribute ngram_counts %v is not a non-decreasing list of offsets into the pool (%d items)", counts, len(pool))
		}
		size := i + 1
		grams := int(end-start) / size
		if size < p.minGram || size > p.maxGram {
			id += grams
			continue
		}
		for g := 0; g < grams; g++ {
			if id-1 >= len(p.indexes) {
				return fmt.Errorf("attribute ngram_indexes has %d entries, the pool holds at least %d n-grams", len(p.indexes), id)
			}
			cur := int32(0)
			for _, tok := range pool[int(start)+g*size : int(start)+(g+1)*size] {
				nx, ok := p.trie[cur].next[tok]
				if !ok {
					if p.trie[cur].next == nil {
						p.trie[cur].next = map[int64]int32{}
					}
					nx = int32(len(p.trie))
					p.trie[cur].next[tok] = nx
					p.trie = append(p.trie, trieNode{})
				}
				cur = nx
			}
			p.trie[cur].id = id
			id++
		}
	}
	return nil
}

// tokens returns X's elements as trie tokens (strings outside the pool
// become -1, which no n-gram holds).
func (p *tfIdf) tokens(x *tensor.Tensor) ([]int64, error) {
	switch x.DType() {
	case tensor.String:
		if p.vocab == nil {
			return nil, fmt.Errorf("input X is string but the pool is pool_int64s")
		}
		s := tensor.Data[string](x)
		out := make([]int64, len(s))
		for i, v := range s {
			id, ok := p.vocab[v]
			if !ok {
				id = -1
			}
			out[i] = id
		}
		return out, nil
	case tensor.Int64, tensor.Int32:
		if p.vocab != nil {
			return nil, fmt.Errorf("input X is %v but the pool is pool_strings", x.DType())
		}
		return ops.Ints64(x)
	}
	return nil, fmt.Errorf("input X is %v, want string, int32 or int64", x.DType())
}

func (p *tfIdf) run(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := ops.Want(in, 1, 1); err != nil {
		return nil, err
	}
	x := in[0]
	rows, cols := 1, x.Len()
	outShape := []int{p.outSize}
	switch x.Rank() {
	case 0, 1:
	case 2:
		rows, cols = x.Shape()[0], x.Shape()[1]
		outShape = []int{rows, p.outSize}
	default:
		return nil, fmt.Errorf("input X has shape %v, want [C] or [B, C]", x.Shape())
	}
	toks, err := p.tokens(x)
	if err != nil {
		return nil, err
	}
	out, err := c.New(tensor.Float32, outShape...)
	if err != nil {
		return nil, err
	}
	y := tensor.Data[float32](out)
	for r := 0; r < rows; r++ {
		if err := c.Check(); err != nil {
			return nil, err
		}
		p.count(toks[r*cols:(r+1)*cols], y[r*p.outSize:(r+1)*p.outSize])
	}
	p.weigh(y)
	return []*tensor.Tensor{out}, nil
}

// count adds the n-gram counts of one row of tokens into y.
func (p *tfIdf) count(row []int64, y []float32) {
	minGram := p.minGram
	for skip := 1; skip <= p.maxSkip+1; skip++ {
		if minGram > 1 && skip*(minGram-1) >= len(row) {
			return // no longer skip fits a whole n-gram in the row
		}
		for start := 0; start+skip*(minGram-1) < len(row); start++ {
			cur := int32(0)
			for size, j := 1, start; size <= p.maxGram && j < len(row); size, j = size+1, j+skip {
				nx, ok := p.trie[cur].next[row[j]]
				if !ok {
					break
				}
				if id := p.trie[nx].id; size >= minGram && id != 0 {
					y[p.indexes[id-1]]++
				}
				cur = nx
			}
		}
		// Unigrams do not depend on the skip distance: count them once.
		if minGram == 1 {
			minGram = 2
			if minGram > p.maxGram {
				return
			}
		}
	}
}

// weigh turns counts into the mode's weighting in place.
func (p *tfIdf) weigh(y []float32) {
	for i, f := range y {
		w := float32(1)
		if len(p.weights) > 0 {
			w = p.weights[i%p.outSize]
		}
		switch p.mode {
		case "IDF":
			if f > 0 {
				y[i] = w
			}
		case "TFIDF":
			y[i] = f * w
		}
	}
}
