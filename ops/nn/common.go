package nn

import (
	"fmt"
	"sync"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// widen returns t with float16/bfloat16 elements converted to float32; other
// dtypes (and nil) are returned unchanged. Half-precision kernels compute in
// float32 and round once at the end (narrow).
func widen(c *ops.Ctx, t *tensor.Tensor) (*tensor.Tensor, error) {
	if t == nil {
		return nil, nil
	}
	switch t.DType() {
	case tensor.Float16:
		return widenHalf[tensor.Float16Bits](c, t)
	case tensor.BFloat16:
		return widenHalf[tensor.BFloat16Bits](c, t)
	}
	return t, nil
}

func widenHalf[H interface {
	tensor.Float16Bits | tensor.BFloat16Bits
	Float32() float32
}](c *ops.Ctx, t *tensor.Tensor) (*tensor.Tensor, error) {
	out, err := c.New(tensor.Float32, t.Shape()...)
	if err != nil {
		return nil, err
	}
	dst := tensor.Data[float32](out)
	for i, v := range tensor.Data[H](t) {
		dst[i] = v.Float32()
	}
	return out, nil
}

// widenAll widens every tensor of in (see widen).
func widenAll(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	out := make([]*tensor.Tensor, len(in))
	for i, t := range in {
		w, err := widen(c, t)
		if err != nil {
			return nil, err
		}
		out[i] = w
	}
	return out, nil
}

// narrow rounds a float32 result back to d when d is float16 or bfloat16
// (ties to even); otherwise t is returned unchanged.
func narrow(c *ops.Ctx, t *tensor.Tensor, d tensor.DType) (*tensor.Tensor, error) {
	if t == nil || t.DType() != tensor.Float32 || (d != tensor.Float16 && d != tensor.BFloat16) {
		return t, nil
	}
	src := tensor.Data[float32](t)
	out, err := c.New(d, t.Shape()...)
	if err != nil {
		return nil, err
	}
	if d == tensor.Float16 {
		dst := tensor.Data[tensor.Float16Bits](out)
		for i, v := range src {
			dst[i] = tensor.Float16FromFloat32(v)
		}
	} else {
		dst := tensor.Data[tensor.BFloat16Bits](out)
		for i, v := range src {
			dst[i] = tensor.BFloat16FromFloat32(v)
		}
	}
	return out, nil
}

// widened runs a kernel on in with float16/bfloat16 inputs widened to
// float32 and rounds its result back to in[0]'s dtype: the shared frame of
// every single-output kernel in this package.
func widened(c *ops.Ctx, in []*tensor.Tensor, run func(w []*tensor.Tensor) (*tensor.Tensor, error)) ([]*tensor.Tensor, error) {
	dt := in[0].DType()
	w, err := widenAll(c, in)
	if err != nil {
		return nil, err
	}
	y, err := run(w)
	if err != nil {
		return nil, err
	}
	y, err = narrow(c, y, dt)
	return c.Result(y), err
}

// unsupported is the error for an input dtype a kernel does not handle.
func unsupported(d tensor.DType, supported string) error {
	return fmt.Errorf("dtype %v not supported (%s); insert a Cast", d, supported)
}

const floatTypes = "float16/32/64, bfloat16"

// sameDType checks that every non-nil input has the dtype of in[0].
func sameDType(in []*tensor.Tensor, names ...string) error {
	for i := 1; i < len(in) && i < len(names); i++ {
		if in[i] != nil && in[i].DType() != in[0].DType() {
			return fmt.Errorf("%s is %v but %s is %v; insert a Cast so they match", names[i], in[i].DType(), names[0], in[0].DType())
		}
	}
	return nil
}

// isFloatKernel reports whether d is one of the float dtypes the float
// kernels handle (float16 and bfloat16 through float32).
func isFloatKernel(d tensor.DType) bool {
	switch d {
	case tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16:
		return true
	}
	return false
}

// parallelFor splits [0, n) into at most threads contiguous chunks and runs
// f on each concurrently; with one thread (or n < 2) it calls f(0, n) inline.
func parallelFor(threads, n int, f func(lo, hi int)) {
	if threads > n {
		threads = n
	}
	if threads <= 1 {
		if n > 0 {
			f(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + threads - 1) / threads
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}

// threadsOf returns the usable intra-op parallelism of c (at least 1).
func threadsOf(c *ops.Ctx) int {
	if c == nil || c.Threads < 1 {
		return 1
	}
	return c.Threads
}

// prod returns the product of dims.
func prod(dims []int) int {
	p := 1
	for _, d := range dims {
		p *= d
	}
	return p
}

// toInts converts an int64 attribute list to ints.
func toInts(v []int64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

// dimsOf returns the statically known dims of t, or ok=false when the rank
// is unknown. Unknown dims are -1.
func dimsOf(t tensor.Type) (dims []int64, ok bool) {
	if !t.HasShape {
		return nil, false
	}
	dims = make([]int64, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = -1
		if d.Known() {
			dims[i] = d.Size
		}
	}
	return dims, true
}

// typeOf builds a tensor Type from dims (-1 = unknown).
func typeOf(d tensor.DType, dims []int64) tensor.Type {
	t := tensor.Type{Kind: tensor.KindTensor, DType: d, HasShape: true, Shape: make([]tensor.Dim, len(dims))}
	for i, s := range dims {
		t.Shape[i] = tensor.Dim{Size: s}
		if s < 0 {
			t.Shape[i] = tensor.Dim{Size: -1}
		}
	}
	return t
}

// firstError keeps the first error reported by concurrent workers.
type firstError struct {
	mu  sync.Mutex
	err error
}

func (e *firstError) set(err error) {
	e.mu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.mu.Unlock()
}

func (e *firstError) get() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// optional returns in[i], or nil when the optional input i is absent.
func optional(in []*tensor.Tensor, i int) *tensor.Tensor {
	if i < len(in) {
		return in[i]
	}
	return nil
}

// Scratch buffers (im2col columns) are recycled across runs: a CNN
// allocates one per Conv per inference otherwise.
var scratch32, scratch64 sync.Pool

// getScratch returns a slice of n elements with unspecified contents.
func getScratch[T tensor.Number](n int) []T {
	var p *sync.Pool
	switch any(*new(T)).(type) {
	case float32:
		p = &scratch32
	case float64:
		p = &scratch64
	default:
		return make([]T, n)
	}
	if v, ok := p.Get().(*[]T); ok && cap(*v) >= n {
		return (*v)[:n]
	}
	return make([]T, n)
}

// putScratch hands a buffer from getScratch back for reuse.
func putScratch[T tensor.Number](s []T) {
	switch any(s).(type) {
	case []float32:
		scratch32.Put(&s)
	case []float64:
		scratch64.Put(&s)
	}
}
