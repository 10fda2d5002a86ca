package ml

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Normalizer: each row of X (N, C) divided by its MAX (largest value), L1
// (sum of |x|) or L2 (Euclidean) norm; rows whose norm is 0 are copied.
var normalizerOps = ops.Versions(Domain, "Normalizer", "Normalizer: Y[n, :] = X[n, :] / norm(X[n, :]) with norm MAX, L1 or L2",
	[]int{1}, inferDTypes(tensor.Float32), compileNormalizer)

func compileNormalizer(n *ops.Node) (*ops.Kernel, error) {
	norm := n.String("norm", "MAX")
	if err := n.Err(); err != nil {
		return nil, err
	}
	if norm != "MAX" && norm != "L1" && norm != "L2" {
		return nil, fmt.Errorf("attribute norm is %q, want MAX, L1 or L2", norm)
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		x, rows, cols, err := featureRows(in[0], -1)
		if err != nil {
			return nil, err
		}
		y := make([]float64, len(x))
		for r := 0; r < rows; r++ {
			xr, yr := x[r*cols:(r+1)*cols], y[r*cols:(r+1)*cols]
			d := 0.0
			switch norm {
			case "MAX":
				d = math.Inf(-1)
				for _, v := range xr {
					d = max(d, v)
				}
			case "L1":
				for _, v := range xr {
					d += math.Abs(v)
				}
			case "L2":
				for _, v := range xr {
					d += v * v
				}
				d = math.Sqrt(d)
			}
			for j, v := range xr {
				if d != 0 {
					v /= d
				}
				yr[j] = v
			}
		}
		out, err := storeFloat32(c, y, in[0].Shape()...)
		return []*tensor.Tensor{out}, err
	}}, nil
}

// perColumn checks a list that is one value for every column or a single
// value for all of them.
func perColumn(name string, v []float64, cols int) error {
	if len(v) != 1 && len(v) != cols {
		return fmt.Errorf("attribute %s has %d values, want 1 or %d (one per feature)", name, len(v), cols)
	}
	return nil
}

// col returns v's value for column j (v holds 1 or cols values).
func col(v []float64, j int) float64 {
	if len(v) == 1 {
		return v[0]
	}
	return v[j]
}

// Scaler: Y = (X - offset) * scale, per feature (last axis) or one value
// for all; Y is float32.
var scalerOps = ops.Versions(Domain, "Scaler", "Scaler: Y[..., j] = (X[..., j] - offset[j]) * scale[j]",
	[]int{1}, inferDTypes(tensor.Float32), compileScaler)

func compileScaler(n *ops.Node) (*ops.Kernel, error) {
	offset, scale := widen(n.Floats("offset", []float32{0})), widen(n.Floats("scale", []float32{1}))
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		x, cols, err := lastAxisRows(in[0])
		if err != nil {
			return nil, err
		}
		if err := perColumn("offset", offset, cols); err != nil {
			return nil, err
		}
		if err := perColumn("scale", scale, cols); err != nil {
			return nil, err
		}
		y := make([]float64, len(x))
		for i, v := range x {
			j := i % cols
			y[i] = (v - col(offset, j)) * col(scale, j)
		}
		out, err := storeFloat32(c, y, in[0].Shape()...)
		return []*tensor.Tensor{out}, err
	}}, nil
}

// lastAxisRows reads a numeric X of any rank >= 1 as float64 with the
// width of its last axis (at least 1).
func lastAxisRows(x *tensor.Tensor) ([]float64, int, error) {
	if x.Rank() == 0 {
		return nil, 0, fmt.Errorf("input X is a scalar, want at least one axis")
	}
	flat, err := x.Reshape(x.Len())
	if err != nil {
		return nil, 0, err
	}
	v, _, _, err := featureRows(flat, -1)
	return v, max(x.Shape()[x.Rank()-1], 1), err
}

// OneHotEncoder: Y[..., k] = 1 where X[...] is the k-th of cats_int64s or
// cats_strings; with zeros = 0 a value in neither fails.
var oneHotEncoderOps = ops.Versions(Domain, "OneHotEncoder", "OneHotEncoder: Y[..., k] = (X[...] == cats[k]), float32",
	[]int{1}, inferDTypes(tensor.Float32), compileOneHotEncoder)

func compileOneHotEncoder(n *ops.Node) (*ops.Kernel, error) {
	catInts, catStrs := n.Ints("cats_int64s", nil), n.Strings("cats_strings", nil)
	zeros := n.Int("zeros", 1)
	if err := n.Err(); err != nil {
		return nil, err
	}
	var keys *tensor.Tensor
	switch {
	case n.Has("cats_int64s") && !n.Has("cats_strings"):
		keys = tensor.Must([]int{len(catInts)}, catInts)
	case n.Has("cats_strings") && !n.Has("cats_int64s"):
		keys = tensor.Must([]int{len(catStrs)}, catStrs)
	default:
		return nil, fmt.Errorf("exactly one of cats_int64s and cats_strings is required")
	}
	idx := make([]int64, keys.Len())
	enc, err := newEncoder(keys, tensor.Must([]int{len(idx)}, idx), tensor.Scalar(int64(-1)))
	if err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		x := in[0]
		if x.DType().IsFloat() && enc.ints != nil {
			// Float inputs are matched as integers.
			w, err := tensor.New(tensor.Int64, x.Shape()...)
			if err == nil {
				err = tensor.Convert(w, x, false)
			}
			if err != nil {
				return nil, err
			}
			x = w
		}
		pos, err := enc.lookup(x)
		if err != nil {
			return nil, err
		}
		nc := keys.Len()
		out, err := c.New(tensor.Float32, append(append([]int{}, x.Shape()...), nc)...)
		if err != nil {
			return nil, err
		}
		y := tensor.Data[float32](out)
		for i, k := range pos {
			if k < 0 {
				if zeros == 0 {
					return nil, fmt.Errorf("element %d of X is not a category and zeros is 0", i)
				}
				continue
			}
			y[i*nc+k] = 1
		}
		return []*tensor.Tensor{out}, nil
	}}, nil
}

// Imputer: Y = X with every element equal to the replaced value (NaN
// matches NaN) set to the imputed value of its feature (last axis).
var imputerOps = ops.Versions(Domain, "Imputer", "Imputer: Y[..., j] = X[..., j] == replaced ? imputed[j] : X[..., j]",
	[]int{1}, ops.InferSameAs(0), compileImputer)

func compileImputer(n *ops.Node) (*ops.Kernel, error) {
	impF, impI := widen(n.Floats("imputed_value_floats", nil)), n.Ints("imputed_value_int64s", nil)
	repF := float64(n.Float("replaced_value_float", 0))
	repI := n.Int("replaced_value_int64", 0)
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		x := in[0]
		if x.Rank() == 0 {
			return nil, fmt.Errorf("input X is a scalar, want at least one axis")
		}
		cols := max(x.Shape()[x.Rank()-1], 1)
		out, err := c.New(x.DType(), x.Shape()...)
		if err != nil {
			return nil, err
		}
		switch x.DType() {
		case tensor.Float32:
			err = impute(tensor.Data[float32](out), tensor.Data[float32](x), cols, impF, repF, "imputed_value_floats")
		case tensor.Float64:
			err = impute(tensor.Data[float64](out), tensor.Data[float64](x), cols, impF, repF, "imputed_value_floats")
		case tensor.Int64:
			err = impute(tensor.Data[int64](out), tensor.Data[int64](x), cols, impI, repI, "imputed_value_int64s")
		case tensor.Int32:
			err = impute(tensor.Data[int32](out), tensor.Data[int32](x), cols, impI, repI, "imputed_value_int64s")
		default:
			err = fmt.Errorf("input X is %v, want float, double, int64 or int32", x.DType())
		}
		if err != nil {
			return nil, err
		}
		return []*tensor.Tensor{out}, nil
	}}, nil
}

func impute[T, V tensor.Number](y, x []T, cols int, imp []V, rep V, name string) error {
	if len(imp) != 1 && len(imp) != cols {
		return fmt.Errorf("attribute %s has %d values, want 1 or %d (one per feature)", name, len(imp), cols)
	}
	repNaN := rep != rep
	for i, v := range x {
		if v == T(rep) || repNaN && v != v {
			j := 0
			if len(imp) > 1 {
				j = i % cols
			}
			v = T(imp[j])
		}
		y[i] = v
	}
	return nil
}

// FeatureVectorizer concatenates the columns of its inputs ((N, C_i) each)
// into Y (N, sum of inputdimensions), float32: input i fills
// inputdimensions[i] columns (cut or padded with zeros).
var featureVectorizerOps = ops.Versions(Domain, "FeatureVectorizer", "FeatureVectorizer: Y[n, :] = concat_i(X_i[n, :inputdimensions[i]]), zero padded",
	[]int{1}, inferDTypes(tensor.Float32), compileFeatureVectorizer)

func compileFeatureVectorizer(n *ops.Node) (*ops.Kernel, error) {
	dims := n.Ints("inputdimensions", nil)
	if err := n.Err(); err != nil {
		return nil, err
	}
	total := 0
	for i, d := range dims {
		if d < 0 || d > 1<<24 {
			return nil, fmt.Errorf("attribute inputdimensions[%d] is %d, want a width >= 0", i, d)
		}
		total += int(d)
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) != len(dims) {
			return nil, fmt.Errorf("%d inputs, inputdimensions has %d entries", len(in), len(dims))
		}
		rows := -1
		var y []float64
		off := 0
		for i, t := range in {
			if t == nil {
				return nil, fmt.Errorf("input %d is required", i)
			}
			x, r, cols, err := featureRows(t, -1)
			if err != nil {
				return nil, fmt.Errorf("input %d: %w", i, err)
			}
			if rows < 0 {
				rows = r
				if _, err := c.New(tensor.Float32, rows, total); err != nil {
					return nil, err
				}
				y = make([]float64, rows*total)
			} else if r != rows {
				return nil, fmt.Errorf("input %d has %d rows, input 0 has %d", i, r, rows)
			}
			w := min(cols, int(dims[i]))
			for row := 0; row < rows; row++ {
				copy(y[row*total+off:row*total+off+w], x[row*cols:row*cols+w])
			}
			off += int(dims[i])
		}
		if rows < 0 {
			rows = 0
		}
		out, err := storeFloat32(c, y, rows, total)
		return []*tensor.Tensor{out}, err
	}}, nil
}

// CategoryMapper maps strings to int64 (cats_strings[i] -> cats_int64s[i])
// or int64 to strings, by the input's dtype, with default_int64 and
// default_string for values not listed.
var categoryMapperOps = ops.Versions(Domain, "CategoryMapper", "CategoryMapper: Y = cats_int64s[i] where X == cats_strings[i] (or the reverse), else the default",
	[]int{1}, inferSwapStringInt, compileCategoryMapper)

func compileCategoryMapper(n *ops.Node) (*ops.Kernel, error) {
	ints, strs := n.Ints("cats_int64s", nil), n.Strings("cats_strings", nil)
	defInt := n.Int("default_int64", -1)
	defStr := n.String("default_string", "_Unused")
	if err := n.Err(); err != nil {
		return nil, err
	}
	k, err := compileBimap(strs, ints, defInt, defStr)
	if err != nil {
		return nil, fmt.Errorf("cats_strings and cats_int64s: %w", err)
	}
	return k, nil
}
