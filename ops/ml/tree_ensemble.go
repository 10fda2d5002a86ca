package ml

import (
	"fmt"
	"math"
	"sort"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/tensor"
)

// TreeEnsemble (ai.onnx.ml 5): Y[n, t] = post_transform(aggregate over
// trees of the weights of the leaves that row X[n, :] reaches with target
// t). Node i tests X[n, nodes_featureids[i]] against nodes_splits[i] with
// nodes_modes[i] (0 <=, 1 <, 2 >=, 3 >, 4 ==, 5 !=, 6 set membership, the
// sets listed in membership_values in node order and ended by NaN) and goes
// to nodes_truenodeids[i] (a leaf when nodes_trueleafs[i]) when the test
// holds or the value is NaN and nodes_missing_value_tracks_true[i] is set,
// else to the false branch.
var treeEnsembleOps = ops.Versions(Domain, "TreeEnsemble", "TreeEnsemble: Y[n, t] = post_transform(aggregate over trees of leaf_weights reached by X[n, :] with target t)",
	[]int{5}, inferLike, compileTreeEnsemble)

// floatAttr reads a tensor attribute of any float dtype as float64 (nil when absent).
func floatAttr(n *ops.Node, name string) ([]float64, error) {
	t := n.Tensor(name)
	if err := n.Err(); err != nil || t == nil {
		return nil, err
	}
	if !t.DType().IsFloat() {
		return nil, fmt.Errorf("attribute %s is a %v tensor, want a float tensor", name, t.DType())
	}
	w, err := tensor.New(tensor.Float64, t.Len())
	if err != nil {
		return nil, err
	}
	r, err := t.Reshape(t.Len())
	if err != nil {
		return nil, err
	}
	if err := tensor.Convert(w, r, false); err != nil {
		return nil, fmt.Errorf("attribute %s: %w", name, err)
	}
	return tensor.Data[float64](w), nil
}

// sameLen checks that every named list has length want.
func sameLen(want int, wantName string, lists map[string]int) error {
	for name, l := range lists {
		if l != want {
			return fmt.Errorf("attribute %s has %d entries, want %d (one per entry of %s)", name, l, want, wantName)
		}
	}
	return nil
}

type treeEnsemble struct {
	fo   forest
	agg  int
	post int
}

func compileTreeEnsemble(n *ops.Node) (*ops.Kernel, error) {
	p := &treeEnsemble{
		agg:  int(n.Int("aggregate_function", aggSum)),
		post: int(n.Int("post_transform", postNone)),
	}
	nTargets := n.Int("n_targets", -1)
	features := n.Ints("nodes_featureids", nil)
	trueIDs, falseIDs := n.Ints("nodes_truenodeids", nil), n.Ints("nodes_falsenodeids", nil)
	trueLeafs, falseLeafs := n.Ints("nodes_trueleafs", nil), n.Ints("nodes_falseleafs", nil)
	missing := n.Ints("nodes_missing_value_tracks_true", nil)
	targetIDs := n.Ints("leaf_targetids", nil)
	roots := n.Ints("tree_roots", nil)
	modesT := n.Tensor("nodes_modes")
	if err := n.Err(); err != nil {
		return nil, err
	}
	splits, err := floatAttr(n, "nodes_splits")
	if err != nil {
		return nil, err
	}
	weights, err := floatAttr(n, "leaf_weights")
	if err != nil {
		return nil, err
	}
	members, err := floatAttr(n, "membership_values")
	if err != nil {
		return nil, err
	}
	if p.agg < aggAverage || p.agg > aggMax {
		return nil, fmt.Errorf("attribute aggregate_function is %d, want 0 (average), 1 (sum), 2 (min) or 3 (max)", p.agg)
	}
	if p.post < postNone || p.post > postProbit {
		return nil, fmt.Errorf("attribute post_transform is %d, want 0..4", p.post)
	}
	if nTargets < 0 || nTargets > 1<<24 {
		return nil, fmt.Errorf("attribute n_targets is %d, want a count >= 0", nTargets)
	}
	if modesT == nil || modesT.DType() != tensor.Uint8 {
		return nil, fmt.Errorf("attribute nodes_modes is required as a uint8 tensor")
	}
	modes := tensor.Data[uint8](modesT)
	nn := len(features)
	lists := map[string]int{"nodes_modes": len(modes), "nodes_splits": len(splits), "nodes_truenodeids": len(trueIDs),
		"nodes_falsenodeids": len(falseIDs), "nodes_trueleafs": len(trueLeafs), "nodes_falseleafs": len(falseLeafs)}
	if missing != nil {
		lists["nodes_missing_value_tracks_true"] = len(missing)
	}
	if err := sameLen(nn, "nodes_featureids", lists); err != nil {
		return nil, err
	}
	if err := sameLen(len(targetIDs), "leaf_targetids", map[string]int{"leaf_weights": len(weights)}); err != nil {
		return nil, err
	}
	fo := &p.fo
	fo.nTargets = int(nTargets)
	fo.weights = weights
	fo.targets = make([]int, len(targetIDs))
	fo.leaves = make([]leaf, len(targetIDs))
	for i, t := range targetIDs {
		if t < 0 || t >= nTargets {
			return nil, fmt.Errorf("attribute leaf_targetids holds %d, out of range [0, %d) (n_targets)", t, nTargets)
		}
		fo.targets[i] = int(t)
		fo.leaves[i] = leaf{i, i + 1}
	}
	fo.nodes = make([]fnode, nn)
	for i := range fo.nodes {
		nd := &fo.nodes[i]
		if modes[i] > modeMember {
			return nil, fmt.Errorf("attribute nodes_modes[%d] is %d, want 0..6", i, modes[i])
		}
		if features[i] < 0 || features[i] > math.MaxInt32 {
			return nil, fmt.Errorf("attribute nodes_featureids[%d] is %d, want a feature index >= 0", i, features[i])
		}
		nd.feature, nd.mode, nd.value = int(features[i]), modes[i], splits[i]
		nd.missingTrue = missing != nil && missing[i] != 0
		if nd.t, err = childIndex(trueIDs[i], trueLeafs[i] != 0, nn, len(targetIDs), "nodes_truenodeids", i); err != nil {
			return nil, err
		}
		if nd.f, err = childIndex(falseIDs[i], falseLeafs[i] != 0, nn, len(targetIDs), "nodes_falsenodeids", i); err != nil {
			return nil, err
		}
		if nd.mode == modeMember {
			// The next NaN-terminated run of membership_values is this node's set.
			end := 0
			for end < len(members) && !math.IsNaN(members[end]) {
				end++
			}
			if end == len(members) && !n.Has("membership_values") {
				return nil, fmt.Errorf("node %d is a set-membership node but attribute membership_values is absent", i)
			}
			nd.set = append([]float64(nil), members[:end]...)
			sort.Float64s(nd.set)
			members = members[min(end+1, len(members)):]
		}
	}
	fo.roots = make([]int, len(roots))
	for i, r := range roots {
		if r < 0 || r >= int64(nn) {
			return nil, fmt.Errorf("attribute tree_roots[%d] is %d, out of range [0, %d)", i, r, nn)
		}
		fo.roots[i] = int(r)
	}
	if err := fo.check(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: p.run}, nil
}

// childIndex encodes a branch target: a node index, or ^leaf for a leaf.
func childIndex(id int64, isLeaf bool, nodes, leaves int, attr string, i int) (int, error) {
	limit := nodes
	if isLeaf {
		limit = leaves
	}
	if id < 0 || id >= int64(limit) {
		what := "node"
		if isLeaf {
			what = "leaf"
		}
		return 0, fmt.Errorf("attribute %s[%d] is %d, out of range [0, %d) for a %s", attr, i, id, limit, what)
	}
	if isLeaf {
		return ^int(id), nil
	}
	return int(id), nil
}

// featureRows reads X ([N, F], or [F] as one row) as float64 rows.
func featureRows(x *tensor.Tensor, maxFeature int) (data []float64, rows, cols int, err error) {
	switch x.Rank() {
	case 1:
		rows, cols = 1, x.Shape()[0]
	case 2:
		rows, cols = x.Shape()[0], x.Shape()[1]
	default:
		return nil, 0, 0, fmt.Errorf("input X has shape %v, want [N, F]", x.Shape())
	}
	if maxFeature >= cols && rows > 0 {
		return nil, 0, 0, fmt.Errorf("the model reads feature %d but X has %d features", maxFeature, cols)
	}
	if floatio.Supported(x.DType()) {
		data, err = floatio.Load[float64](x)
		return data, rows, cols, err
	}
	if !x.DType().IsInt() {
		return nil, 0, 0, fmt.Errorf("input X is %v, want a float or integer tensor", x.DType())
	}
	w, err := tensor.New(tensor.Float64, x.Shape()...)
	if err == nil {
		err = tensor.Convert(w, x, false)
	}
	if err != nil {
		return nil, 0, 0, err
	}
	return tensor.Data[float64](w), rows, cols, nil
}

func (p *treeEnsemble) run(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := ops.Want(in, 1, 1); err != nil {
		return nil, err
	}
	if !floatio.Supported(in[0].DType()) {
		return nil, fmt.Errorf("input X is %v, want float16, float32 or float64", in[0].DType())
	}
	x, rows, cols, err := featureRows(in[0], p.fo.maxFeature)
	if err != nil {
		return nil, err
	}
	out, err := floatio.New[float64](c, in[0].DType(), rows, p.fo.nTargets)
	if err != nil {
		return nil, err
	}
	if err := p.fo.predict(x, rows, cols, p.agg, out.Buf, nil, c.Check); err != nil {
		return nil, err
	}
	postTransform(p.post, out.Buf, p.fo.nTargets)
	return []*tensor.Tensor{out.Done()}, nil
}
