package shape

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

func transposeOps() []*ops.Op {
	return ops.Join(
		ops.Versions("", "Transpose", "Transpose: y[i_perm[0], ..., i_perm[r-1]] = x[i_0, ..., i_r-1], y.shape[k] = x.shape[perm[k]] (perm defaults to reversed axes).",
			[]int{1, 13, 21, 23, 24, 25}, inferTranspose, compileTranspose),
		// DepthToSpace-28 only widens the type list (every dtype already moves).
		ops.Versions("", "DepthToSpace", "DepthToSpace: (N, C, H, W) -> (N, C/b², H*b, W*b), moving channel blocks into space (mode DCR or CRD).",
			[]int{1, 11, 13, 28}, inferBlocks(true), compileDepthToSpace),
		// SpaceToDepth-28 adds the mode attribute (DCR, the only order before, or CRD).
		ops.Versions("", "SpaceToDepth", "SpaceToDepth: (N, C, H, W) -> (N, C*b², H/b, W/b), moving b×b spatial blocks into channels (mode DCR, or CRD from opset 28).",
			[]int{1, 13, 28}, inferBlocks(false), compileSpaceToDepth),
	)
}

// transposePerm validates perm (nil means reversed axes) for a rank.
func transposePerm(perm []int64, rank int) ([]int, error) {
	p := make([]int, rank)
	if perm == nil {
		for i := range p {
			p[i] = rank - 1 - i
		}
		return p, nil
	}
	if len(perm) != rank {
		return nil, fmt.Errorf("perm %v has %d entries, the input has rank %d", perm, len(perm), rank)
	}
	return normAxes(perm, rank)
}

// permute returns x viewed as shape `in`, with its axes permuted by perm.
func permute(c *ctx, x *tensor.Tensor, in []int, perm []int) (*tensor.Tensor, error) {
	st := tensor.Strides(in)
	shape := make([]int, len(perm))
	strides := make([]int, len(perm))
	for i, p := range perm {
		shape[i] = in[p]
		strides[i] = st[p]
	}
	return stridedCopy(c, x, shape, 0, strides)
}

func compileTranspose(n *ops.Node) (*ops.Kernel, error) {
	perm := n.Ints("perm", nil)
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		p, err := transposePerm(perm, in[0].Rank())
		if err != nil {
			return nil, err
		}
		return result{c}.one(permute(c, in[0], in[0].Shape(), p))
	}}, nil
}

func inferTranspose(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("input 0 missing")
	}
	t := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType}
	if !in[0].HasShape {
		return []tensor.Type{t}, nil
	}
	p, err := transposePerm(n.Ints("perm", nil), len(in[0].Shape))
	if err != nil {
		return nil, err
	}
	shape := make([]tensor.Dim, len(p))
	for i, a := range p {
		shape[i] = in[0].Shape[a]
	}
	return []tensor.Type{shapeType(in[0].DType, shape)}, nil
}

// blockInput checks the (N, C, H, W) input of DepthToSpace/SpaceToDepth.
func blockInput(in []*tensor.Tensor, b int64) ([]int, error) {
	if err := ops.Want(in, 1, 1); err != nil {
		return nil, err
	}
	s := in[0].Shape()
	if len(s) != 4 {
		return nil, fmt.Errorf("input must be 4-D (N, C, H, W), got shape %v", s)
	}
	if b <= 0 || b > maxDim {
		return nil, fmt.Errorf("blocksize %d must be positive", b)
	}
	return s, nil
}

// blockMode reads the mode attribute of DepthToSpace/SpaceToDepth: DCR
// (depth-column-row, the default) or CRD (column-row-depth).
func blockMode(n *ops.Node) (string, error) {
	mode := n.String("mode", "DCR")
	if err := n.Err(); err != nil {
		return "", err
	}
	if mode != "DCR" && mode != "CRD" {
		return "", fmt.Errorf("mode %q must be DCR or CRD", mode)
	}
	return mode, nil
}

func compileDepthToSpace(n *ops.Node) (*ops.Kernel, error) {
	b := n.Int("blocksize", 0)
	mode, err := blockMode(n)
	if err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		s, err := blockInput(in, b)
		if err != nil {
			return nil, err
		}
		bs := int(b)
		N, C, H, W := s[0], s[1], s[2], s[3]
		if C%(bs*bs) != 0 {
			return nil, fmt.Errorf("channels %d are not divisible by blocksize² = %d", C, bs*bs)
		}
		var y *tensor.Tensor
		if mode == "DCR" {
			// x viewed as (N, b, b, C/b², H, W) -> (N, C/b², H, b, W, b)
			y, err = permute(c, in[0], []int{N, bs, bs, C / (bs * bs), H, W}, []int{0, 3, 4, 1, 5, 2})
		} else {
			// x viewed as (N, C/b², b, b, H, W) -> (N, C/b², H, b, W, b)
			y, err = permute(c, in[0], []int{N, C / (bs * bs), bs, bs, H, W}, []int{0, 1, 4, 2, 5, 3})
		}
		if err != nil {
			return nil, err
		}
		return result{c}.one(view(y, []int{N, C / (bs * bs), H * bs, W * bs}))
	}}, nil
}

func compileSpaceToDepth(n *ops.Node) (*ops.Kernel, error) {
	b := n.Int("blocksize", 0)
	mode := "DCR"
	if n.Opset >= 28 {
		var err error
		if mode, err = blockMode(n); err != nil {
			return nil, err
		}
	} else if err := n.Err(); err != nil {
		return nil, err
	}
	// x viewed as (N, C, H/b, b, W/b, b) -> (N, b, b, C, H/b, W/b) (DCR)
	// or (N, C, b, b, H/b, W/b) (CRD), the inverse of DepthToSpace's order.
	perm := []int{0, 3, 5, 1, 2, 4}
	if mode == "CRD" {
		perm = []int{0, 1, 3, 5, 2, 4}
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		s, err := blockInput(in, b)
		if err != nil {
			return nil, err
		}
		bs := int(b)
		N, C, H, W := s[0], s[1], s[2], s[3]
		if H%bs != 0 || W%bs != 0 {
			return nil, fmt.Errorf("spatial size %dx%d is not divisible by blocksize %d", H, W, bs)
		}
		y, err := permute(c, in[0], []int{N, C, H / bs, bs, W / bs, bs}, perm)
		if err != nil {
			return nil, err
		}
		return result{c}.one(view(y, []int{N, C * bs * bs, H / bs, W / bs}))
	}}, nil
}
