package ml

import (
	"fmt"
	"math"
	"slices"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// TreeEnsembleRegressor (ai.onnx.ml 1, 3): Y[n, t] = post_transform(
// base_values[t] + aggregate over trees of the target_weights of the leaf
// that row X[n, :] reaches, for target t); without a post transform a
// target no leaf reached is 0, as in ONNX Runtime. Nodes are named by (tree id, node
// id); a tree's root is its first node in the lists; nodes_modes is BRANCH_LEQ,
// BRANCH_LT, BRANCH_GTE, BRANCH_GT, BRANCH_EQ, BRANCH_NEQ or LEAF.
var treeEnsembleRegressorOps = ops.Versions(Domain, "TreeEnsembleRegressor", "TreeEnsembleRegressor: Y[n, t] = post_transform(base_values[t] + aggregate over trees of leaf target_weights)",
	[]int{1, 3}, inferDTypes(tensor.Float32), compileTreeRegressor)

// TreeEnsembleClassifier (ai.onnx.ml 1, 3): Z[n, k] = post_transform(
// base_values[k] + sum over trees of the class_weights of the leaf reached,
// for class k); Y[n] = the label of the largest Z[n, k] among the classes
// scored. Two labels with every weight for one class follow ONNX Runtime:
// the label is class 1 when that score s > 0.5 (all weights >= 0) or
// s > 0; for class 0, Z = [1-s, s] (all weights >= 0) or [-s, s], [σ(-s),
// σ(s)] with LOGISTIC, [probit(s), 0] with PROBIT; for class 1, Z is the
// transform of [0, s]. Without a transform, classes no leaf scored (and no
// base value) are 0.
var treeEnsembleClassifierOps = ops.Versions(Domain, "TreeEnsembleClassifier", "TreeEnsembleClassifier: Z = post_transform(base_values + sum of leaf class_weights), Y = label of argmax Z",
	[]int{1, 3}, inferClassifier("classlabels_int64s"), compileTreeClassifier)

// floatsOrTensor reads the float list attribute name or, when absent, its
// name_as_tensor variant (opset 3) as float64.
func floatsOrTensor(n *ops.Node, name string) ([]float64, error) {
	if t, err := floatAttr(n, name+"_as_tensor"); err != nil || t != nil {
		return t, err
	}
	f := n.Floats(name, nil)
	out := make([]float64, len(f))
	for i, v := range f {
		out[i] = float64(v)
	}
	return out, n.Err()
}

var legacyModes = map[string]uint8{"BRANCH_LEQ": modeLEQ, "BRANCH_LT": modeLT, "BRANCH_GTE": modeGTE,
	"BRANCH_GT": modeGT, "BRANCH_EQ": modeEQ, "BRANCH_NEQ": modeNEQ, "BRANCH_MEMBER": modeMember}

// legacyForest builds a forest from the nodes_* attributes of the older
// tree ops and the leaf entries named by prefix ("target" or "class"):
// prefix_treeids, prefix_nodeids, prefix_ids and prefix_weights.
func legacyForest(n *ops.Node, prefix string, nTargets int) (*forest, error) {
	treeIDs, nodeIDs := n.Ints("nodes_treeids", nil), n.Ints("nodes_nodeids", nil)
	features := n.Ints("nodes_featureids", nil)
	modes := n.Strings("nodes_modes", nil)
	trueIDs, falseIDs := n.Ints("nodes_truenodeids", nil), n.Ints("nodes_falsenodeids", nil)
	missing := n.Ints("nodes_missing_value_tracks_true", nil)
	eTrees, eNodes, eIDs := n.Ints(prefix+"_treeids", nil), n.Ints(prefix+"_nodeids", nil), n.Ints(prefix+"_ids", nil)
	if err := n.Err(); err != nil {
		return nil, err
	}
	values, err := floatsOrTensor(n, "nodes_values")
	if err != nil {
		return nil, err
	}
	weights, err := floatsOrTensor(n, prefix+"_weights")
	if err != nil {
		return nil, err
	}
	nn := len(nodeIDs)
	lists := map[string]int{"nodes_treeids": len(treeIDs), "nodes_featureids": len(features), "nodes_modes": len(modes)}
	for name, l := range map[string]int{"nodes_values": len(values), "nodes_truenodeids": len(trueIDs), "nodes_falsenodeids": len(falseIDs), "nodes_missing_value_tracks_true": len(missing)} {
		if l > 0 {
			lists[name] = l
		}
	}
	if err := sameLen(nn, "nodes_nodeids", lists); err != nil {
		return nil, err
	}
	if err := sameLen(len(eIDs), prefix+"_ids", map[string]int{prefix + "_treeids": len(eTrees), prefix + "_nodeids": len(eNodes), prefix + "_weights": len(weights)}); err != nil {
		return nil, err
	}
	type key struct{ tree, node int64 }
	index := make(map[key]int, nn)
	fo := &forest{nTargets: nTargets}
	// pos[i] is node i's place in fo.nodes, or ^leaf.
	pos := make([]int, nn)
	var rootOf []int64 // tree ids in ascending order
	firstOf := map[int64]int{}
	for i := range nodeIDs {
		k := key{treeIDs[i], nodeIDs[i]}
		if _, dup := index[k]; dup {
			return nil, fmt.Errorf("node %d of tree %d is listed twice (nodes_nodeids[%d])", k.node, k.tree, i)
		}
		index[k] = i
		if _, ok := firstOf[k.tree]; !ok {
			firstOf[k.tree] = i
			rootOf = append(rootOf, k.tree)
		}
		if modes[i] == "LEAF" {
			pos[i] = ^len(fo.leaves)
			fo.leaves = append(fo.leaves, leaf{})
			continue
		}
		m, ok := legacyModes[modes[i]]
		if !ok || m == modeMember {
			return nil, fmt.Errorf("attribute nodes_modes[%d] is %q, want LEAF or BRANCH_LEQ, BRANCH_LT, BRANCH_GTE, BRANCH_GT, BRANCH_EQ, BRANCH_NEQ", i, modes[i])
		}
		if features[i] < 0 || features[i] > math.MaxInt32 {
			return nil, fmt.Errorf("attribute nodes_featureids[%d] is %d, want a feature index >= 0", i, features[i])
		}
		if len(values) == 0 || len(trueIDs) == 0 || len(falseIDs) == 0 {
			return nil, fmt.Errorf("branch nodes need nodes_values, nodes_truenodeids and nodes_falsenodeids")
		}
		pos[i] = len(fo.nodes)
		fo.nodes = append(fo.nodes, fnode{feature: int(features[i]), mode: m, value: values[i], missingTrue: len(missing) > 0 && missing[i] != 0})
	}
	child := func(i int, id int64, attr string) (int, error) {
		j, ok := index[key{treeIDs[i], id}]
		if !ok {
			return 0, fmt.Errorf("attribute %s[%d] is %d, tree %d has no such node", attr, i, id, treeIDs[i])
		}
		return pos[j], nil
	}
	for i := range nodeIDs {
		if pos[i] < 0 {
			continue
		}
		nd := &fo.nodes[pos[i]]
		if nd.t, err = child(i, trueIDs[i], "nodes_truenodeids"); err != nil {
			return nil, err
		}
		if nd.f, err = child(i, falseIDs[i], "nodes_falsenodeids"); err != nil {
			return nil, err
		}
	}
	slices.Sort(rootOf)
	for _, t := range rootOf {
		fo.roots = append(fo.roots, pos[firstOf[t]])
	}
	// Group the leaf entries by leaf, keeping their order.
	leafOf := make([]int, len(eIDs))
	counts := make([]int, len(fo.leaves)+1)
	for e := range eIDs {
		j, ok := index[key{eTrees[e], eNodes[e]}]
		if !ok || pos[j] >= 0 {
			return nil, fmt.Errorf("%s entry %d names node %d of tree %d, which is not a leaf", prefix, e, eNodes[e], eTrees[e])
		}
		if eIDs[e] < 0 || eIDs[e] >= int64(nTargets) {
			return nil, fmt.Errorf("attribute %s_ids[%d] is %d, out of range [0, %d)", prefix, e, eIDs[e], nTargets)
		}
		leafOf[e] = ^pos[j]
		counts[leafOf[e]+1]++
	}
	for l := range fo.leaves {
		counts[l+1] += counts[l]
		fo.leaves[l] = leaf{counts[l], counts[l]}
	}
	fo.targets = make([]int, len(eIDs))
	fo.weights = make([]float64, len(eIDs))
	for e, l := range leafOf {
		k := fo.leaves[l].hi
		fo.targets[k], fo.weights[k] = int(eIDs[e]), weights[e]
		fo.leaves[l].hi++
	}
	return fo, fo.check()
}

// legacyCommon reads post_transform and base_values (one per target, or none).
func legacyCommon(n *ops.Node, nTargets int) (post int, base []float64, err error) {
	if post, err = parsePost(n.String("post_transform", "NONE")); err != nil {
		return 0, nil, err
	}
	if base, err = floatsOrTensor(n, "base_values"); err != nil {
		return 0, nil, err
	}
	if len(base) != 0 && len(base) != nTargets {
		return 0, nil, fmt.Errorf("attribute base_values has %d values, want %d (one per target or class)", len(base), nTargets)
	}
	return post, base, nil
}

type treeRegressor struct {
	fo   *forest
	agg  int
	post int
	base []float64
}

func compileTreeRegressor(n *ops.Node) (*ops.Kernel, error) {
	nTargets := n.Int("n_targets", 1)
	aggName := n.String("aggregate_function", "SUM")
	if err := n.Err(); err != nil {
		return nil, err
	}
	if nTargets < 1 || nTargets > 1<<24 {
		return nil, fmt.Errorf("attribute n_targets is %d, want >= 1", nTargets)
	}
	p := &treeRegressor{}
	var err error
	if p.agg, err = parseAgg(aggName); err != nil {
		return nil, err
	}
	if p.post, p.base, err = legacyCommon(n, int(nTargets)); err != nil {
		return nil, err
	}
	if p.fo, err = legacyForest(n, "target", int(nTargets)); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		scores, has, rows, err := p.fo.score(c, in, p.agg, p.base)
		if err != nil {
			return nil, err
		}
		zeroUnscored(p.post, scores, has)
		postTransform(p.post, scores, p.fo.nTargets)
		y, err := storeFloat32(c, scores, rows, p.fo.nTargets)
		return []*tensor.Tensor{y}, err
	}}, nil
}

// score checks the single input X and returns base + the aggregated leaf
// weights and whether any leaf gave each target a weight, rows x nTargets.
func (fo *forest) score(c *ops.Ctx, in []*tensor.Tensor, agg int, base []float64) ([]float64, []bool, int, error) {
	if err := ops.Want(in, 1, 1); err != nil {
		return nil, nil, 0, err
	}
	x, rows, cols, err := featureRows(in[0], fo.maxFeature)
	if err != nil {
		return nil, nil, 0, err
	}
	if _, err := c.New(tensor.Float32, rows, fo.nTargets); err != nil {
		return nil, nil, 0, err // the size check only; scores are computed in float64
	}
	scores := make([]float64, rows*fo.nTargets)
	has := make([]bool, rows*fo.nTargets)
	if err := fo.predict(x, rows, cols, agg, scores, has, c.Check); err != nil {
		return nil, nil, 0, err
	}
	if len(base) > 0 {
		for r := 0; r < rows; r++ {
			row := scores[r*fo.nTargets : (r+1)*fo.nTargets]
			for t, b := range base {
				row[t] += b
			}
		}
	}
	return scores, has, rows, nil
}

// zeroUnscored sets the scores of targets no leaf reached to 0 (base value
// or not), as ONNX Runtime writes them when there is no post transform.
func zeroUnscored(post int, scores []float64, has []bool) {
	if post != postNone {
		return
	}
	for i, h := range has {
		if !h {
			scores[i] = 0
		}
	}
}

// storeFloat32 returns v as a float32 tensor of the given shape.
func storeFloat32(c *ops.Ctx, v []float64, shape ...int) (*tensor.Tensor, error) {
	out, err := c.New(tensor.Float32, shape...)
	if err != nil {
		return nil, err
	}
	d := tensor.Data[float32](out)
	for i, x := range v {
		d[i] = float32(x)
	}
	return out, nil
}

type treeClassifier struct {
	fo     *forest
	post   int
	base   []float64
	binary binaryMode // binNone unless two labels and every weight is for one class
	class  int        // the class of every weight in the binary case
	labels labels
}

func compileTreeClassifier(n *ops.Node) (*ops.Kernel, error) {
	lb, err := readLabels(n)
	if err != nil {
		return nil, err
	}
	p := &treeClassifier{labels: lb}
	nClasses := lb.len()
	if nClasses == 2 && len(n.Floats("base_values", nil)) == 1 {
		// One base value for two classes belongs to class 0's score.
		p.post, p.base, err = legacyCommon(n, 1)
		p.base = append(p.base, 0)
	} else {
		p.post, p.base, err = legacyCommon(n, nClasses)
	}
	if err != nil {
		return nil, err
	}
	if p.fo, err = legacyForest(n, "class", nClasses); err != nil {
		return nil, err
	}
	ids := n.Ints("class_ids", nil)
	if nClasses == 2 && len(ids) > 0 && !slices.ContainsFunc(ids, func(id int64) bool { return id != ids[0] }) {
		p.binary, p.class = binTreeMixed, int(ids[0])
		if !slices.ContainsFunc(p.fo.weights, func(w float64) bool { return w < 0 }) {
			p.binary = binTreePositive
		}
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		scores, has, rows, err := p.fo.score(c, in, aggSum, p.base)
		if err != nil {
			return nil, err
		}
		width := p.fo.nTargets
		var s []float64 // the binary case's single score per row
		if p.binary != binNone {
			s = make([]float64, rows)
			for r := range s {
				s[r] = scores[r*width+p.class]
			}
			if p.class == 0 {
				return p.labels.binary(c, s, p.post, p.binary)
			}
		}
		if len(p.base) > 0 && p.binary == binNone {
			for i := range has {
				has[i] = true // base values score every class
			}
		}
		zeroUnscored(p.post, scores, has)
		postTransform(p.post, scores, width)
		if p.binary != binNone {
			// Weights for class 1 only: the two columns are transformed as
			// they are, the label follows the binary rule.
			return p.labels.withScores(c, binaryLabels(s, p.binary), scores, rows, width)
		}
		return p.labels.outputs(c, scores, has, rows, width)
	}}, nil
}

// binaryMode says how a classifier with two labels and one score per row
// labels the row and lays out its two scores (as ONNX Runtime does).
type binaryMode int

const (
	binNone         binaryMode = iota
	binLinear                  // label s > 0; Z = [1-p, p], p the transformed score
	binTreePositive            // all weights >= 0: label s > 0.5; Z = [1-p, p]
	binTreeMixed               // label s > 0; Z = [-s, s], or [σ(-s), σ(s)] with LOGISTIC
)

// binaryLabels labels single scores: class 1 when s > 0.5 (all weights
// positive) or s > 0, else class 0.
func binaryLabels(s []float64, mode binaryMode) []int {
	th := 0.0
	if mode == binTreePositive {
		th = 0.5
	}
	best := make([]int, len(s))
	for r, v := range s {
		// Compared in float32 as ONNX Runtime sums float weights: a sum like
		// 0.2 + 0.3 must not land above 0.5.
		if float64(float32(v)) > th {
			best[r] = 1
		}
	}
	return best
}

// binary labels single scores s (one per row) and expands them to two
// columns by mode; PROBIT trees give [probit(s), 0].
func (l labels) binary(c *ops.Ctx, s []float64, post int, mode binaryMode) ([]*tensor.Tensor, error) {
	best := binaryLabels(s, mode)
	z := make([]float64, 2*len(s))
	for r, v := range s {
		p := v
		switch {
		case post == postProbit && mode != binLinear:
			z[2*r] = probit(v)
			continue
		case post == postProbit:
			p = probit(v)
		case post == postLogistic:
			p = logistic(v)
		}
		if mode == binTreeMixed && post != postLogistic {
			z[2*r], z[2*r+1] = -p, p
		} else {
			z[2*r], z[2*r+1] = 1-p, p
		}
	}
	return l.withScores(c, best, z, len(s), 2)
}

// labels are a classifier's class labels, int64 or string.
type labels struct {
	ints []int64
	strs []string
}

func readLabels(n *ops.Node) (labels, error) {
	l := labels{ints: n.Ints("classlabels_int64s", nil), strs: n.Strings("classlabels_strings", nil)}
	if err := n.Err(); err != nil {
		return l, err
	}
	if n.Has("classlabels_int64s") == n.Has("classlabels_strings") || l.len() == 0 {
		return l, fmt.Errorf("exactly one of classlabels_int64s and classlabels_strings is required, non-empty")
	}
	return l, nil
}

func (l labels) len() int { return max(len(l.ints), len(l.strs)) }

// outputs returns the labels of the row-wise argmax of scores (rows x
// width), among the classes that got a score where has (rows x width) is
// not nil, and the scores as float32.
func (l labels) outputs(c *ops.Ctx, scores []float64, has []bool, rows, width int) ([]*tensor.Tensor, error) {
	best := make([]int, rows)
	for r := range best {
		row := scores[r*width : (r+1)*width]
		k0 := -1
		for k, v := range row {
			if has != nil && !has[r*width+k] {
				continue
			}
			if k0 < 0 || v > row[k0] {
				k0 = k
			}
		}
		best[r] = max(k0, 0)
	}
	return l.withScores(c, best, scores, rows, width)
}

// withScores returns the labels of classes best (-1: none, labelled 0 or
// "") and the scores (rows x width) as float32.
func (l labels) withScores(c *ops.Ctx, best []int, scores []float64, rows, width int) ([]*tensor.Tensor, error) {
	var y *tensor.Tensor
	var err error
	if l.strs != nil {
		y, err = labelTensor(c, l.strs, best)
	} else {
		y, err = labelTensor(c, l.ints, best)
	}
	if err != nil {
		return nil, err
	}
	z, err := storeFloat32(c, scores, rows, width)
	return []*tensor.Tensor{y, z}, err
}

func labelTensor[T int64 | string](c *ops.Ctx, names []T, best []int) (*tensor.Tensor, error) {
	y, err := c.New(tensor.DTypeOf[T](), len(best))
	if err != nil {
		return nil, err
	}
	d := tensor.Data[T](y)
	for r, k := range best {
		if k >= 0 && k < len(names) {
			d[r] = names[k]
		}
	}
	return y, nil
}
