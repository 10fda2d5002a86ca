package ml

import (
	"fmt"
	"math"
	"sort"
)

// Branch modes of a tree node (TreeEnsemble-5 numbering).
const (
	modeLEQ uint8 = iota
	modeLT
	modeGTE
	modeGT
	modeEQ
	modeNEQ
	modeMember
)

// fnode is one decision node of a flattened forest. A child >= 0 is a node
// index, a child < 0 is the leaf ^child.
type fnode struct {
	feature     int
	mode        uint8
	missingTrue bool
	value       float64
	set         []float64 // sorted members for modeMember
	t, f        int
}

// leaf is a range of (target, weight) pairs in forest.targets/weights.
type leaf struct{ lo, hi int }

// forest is a validated tree ensemble: every child, root, target and leaf
// index is in range and no node is reachable from itself, so evaluation
// needs no checks but the feature count of X.
type forest struct {
	nodes      []fnode
	leaves     []leaf
	targets    []int
	weights    []float64
	roots      []int // node index, or ^leaf for a tree that is a single leaf
	nTargets   int
	maxFeature int // -1 when no node reads a feature
}

// check validates the forest (what, e.g. "nodes_truenodeids", names the
// attributes in errors) and records the largest feature index.
func (fo *forest) check() error {
	fo.maxFeature = -1
	for i, nd := range fo.nodes {
		if nd.feature < 0 {
			return fmt.Errorf("node %d reads feature %d; feature ids must be >= 0", i, nd.feature)
		}
		fo.maxFeature = max(fo.maxFeature, nd.feature)
		for _, ch := range []int{nd.t, nd.f} {
			if ch >= len(fo.nodes) || ch < 0 && ^ch >= len(fo.leaves) {
				return fmt.Errorf("node %d branches to %s, out of range", i, fo.childName(ch))
			}
		}
	}
	for _, l := range fo.leaves {
		for _, t := range fo.targets[l.lo:l.hi] {
			if t < 0 || t >= fo.nTargets {
				return fmt.Errorf("leaf target id %d out of range [0, %d) (n_targets)", t, fo.nTargets)
			}
		}
	}
	// Depth-first from every root: a node met again while on the path is a cycle.
	const (
		unseen = iota
		onPath
		done
	)
	state := make([]uint8, len(fo.nodes))
	type frame struct{ node, next int }
	for _, r := range fo.roots {
		if r < 0 {
			if ^r >= len(fo.leaves) {
				return fmt.Errorf("tree root is leaf %d, out of range", ^r)
			}
			continue
		}
		if r >= len(fo.nodes) {
			return fmt.Errorf("tree root %d out of range [0, %d)", r, len(fo.nodes))
		}
		if state[r] == done {
			continue
		}
		stack := []frame{{r, 0}}
		state[r] = onPath
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.next == 2 {
				state[top.node] = done
				stack = stack[:len(stack)-1]
				continue
			}
			ch := fo.nodes[top.node].t
			if top.next == 1 {
				ch = fo.nodes[top.node].f
			}
			top.next++
			if ch < 0 || state[ch] == done {
				continue
			}
			if state[ch] == onPath {
				return fmt.Errorf("node %d is reachable from itself; the trees must not have cycles", ch)
			}
			state[ch] = onPath
			stack = append(stack, frame{ch, 0})
		}
	}
	return nil
}

func (fo *forest) childName(ch int) string {
	if ch < 0 {
		return fmt.Sprintf("leaf %d (of %d)", ^ch, len(fo.leaves))
	}
	return fmt.Sprintf("node %d (of %d)", ch, len(fo.nodes))
}

// leafOf walks one tree for the feature row x and returns the leaf reached.
func (fo *forest) leafOf(root int, x []float64) int {
	i := root
	for i >= 0 {
		nd := &fo.nodes[i]
		v := nd.value
		xv := x[nd.feature]
		var yes bool
		switch nd.mode {
		case modeLEQ:
			yes = xv <= v
		case modeLT:
			yes = xv < v
		case modeGTE:
			yes = xv >= v
		case modeGT:
			yes = xv > v
		case modeEQ:
			yes = xv == v
		case modeNEQ:
			yes = xv != v
		case modeMember:
			yes = contains(nd.set, xv)
		}
		if yes || nd.missingTrue && math.IsNaN(xv) {
			i = nd.t
		} else {
			i = nd.f
		}
	}
	return ^i
}

// contains reports whether the sorted set holds v.
func contains(set []float64, v float64) bool {
	i := sort.SearchFloat64s(set, v)
	return i < len(set) && set[i] == v
}

// Aggregations of the trees' leaf weights per target.
const (
	aggAverage = iota
	aggSum
	aggMin
	aggMax
)

// predict fills scores (rows x nTargets) with the aggregate of every tree's
// leaf weights for each row of x (rows x cols), and has (when not nil) with
// whether any leaf gave the target a weight.
func (fo *forest) predict(x []float64, rows, cols int, agg int, scores []float64, has []bool, check func() error) error {
	seen := make([]bool, fo.nTargets)
	for r := 0; r < rows; r++ {
		if r%256 == 255 {
			if err := check(); err != nil {
				return err
			}
		}
		row := x[r*cols : (r+1)*cols]
		out := scores[r*fo.nTargets : (r+1)*fo.nTargets]
		clear(seen)
		for _, root := range fo.roots {
			l := fo.leaves[fo.leafOf(root, row)]
			for k := l.lo; k < l.hi; k++ {
				t, w := fo.targets[k], fo.weights[k]
				switch {
				case !seen[t] || agg == aggSum || agg == aggAverage:
					if seen[t] {
						w += out[t]
					}
					out[t] = w
				case agg == aggMin:
					out[t] = min(out[t], w)
				case agg == aggMax:
					out[t] = max(out[t], w)
				}
				seen[t] = true
			}
		}
		if has != nil {
			copy(has[r*fo.nTargets:], seen)
		}
		if agg == aggAverage && len(fo.roots) > 0 {
			for t := range out {
				out[t] /= float64(len(fo.roots))
			}
		}
	}
	return nil
}

// Post transforms of the aggregated scores.
const (
	postNone = iota
	postSoftmax
	postLogistic
	postSoftmaxZero
	postProbit
)

// postTransform applies the transform to each row of n scores in place.
func postTransform(mode int, scores []float64, n int) {
	if n == 0 {
		return
	}
	for r := 0; r+n <= len(scores); r += n {
		row := scores[r : r+n]
		switch mode {
		case postSoftmax, postSoftmaxZero:
			softmax(row, mode == postSoftmaxZero)
		case postLogistic:
			for i, v := range row {
				row[i] = logistic(v)
			}
		case postProbit:
			for i, v := range row {
				row[i] = probit(v)
			}
		}
	}
}

func logistic(v float64) float64 {
	if v >= 0 {
		return 1 / (1 + math.Exp(-v))
	}
	e := math.Exp(v)
	return e / (1 + e)
}

// softmax normalizes row in place. With zero set (SOFTMAX_ZERO), entries
// within 1e-7 of zero stay (almost) zero and a row of zeros becomes 0.5
// everywhere, as in ONNX Runtime.
func softmax(row []float64, zero bool) {
	m := math.Inf(-1)
	for _, v := range row {
		m = max(m, v)
	}
	s := 0.0
	for i, v := range row {
		if zero && math.Abs(v) <= 1e-7 {
			row[i] = v * math.Exp(-m)
		} else {
			row[i] = math.Exp(v - m)
		}
		s += row[i]
	}
	for i := range row {
		if s == 0 {
			row[i] = 0.5
		} else {
			row[i] /= s
		}
	}
}

// parsePost maps a post_transform name (the older ops) to its code.
func parsePost(s string) (int, error) {
	switch s {
	case "NONE":
		return postNone, nil
	case "SOFTMAX":
		return postSoftmax, nil
	case "LOGISTIC":
		return postLogistic, nil
	case "SOFTMAX_ZERO":
		return postSoftmaxZero, nil
	case "PROBIT":
		return postProbit, nil
	}
	return 0, fmt.Errorf("attribute post_transform is %q, want NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO or PROBIT", s)
}

// parseAgg maps an aggregate_function name (the older ops) to its code.
func parseAgg(s string) (int, error) {
	switch s {
	case "AVERAGE":
		return aggAverage, nil
	case "SUM":
		return aggSum, nil
	case "MIN":
		return aggMin, nil
	case "MAX":
		return aggMax, nil
	}
	return 0, fmt.Errorf("attribute aggregate_function is %q, want AVERAGE, SUM, MIN or MAX", s)
}
