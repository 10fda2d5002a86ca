package tensor

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
)

// Tensor is a dense, row-major array of one dtype. The zero-dimensional
// tensor (shape []) is a scalar and holds one element.
//
// A Tensor's data is a typed Go slice ([]float32, []Float16Bits, []string, ...)
// whose length is the product of the shape. Tensors are not safe for
// concurrent mutation; kernels never mutate their inputs.
type Tensor struct {
	dtype DType
	shape []int
	data  any
}

// MaxElements bounds the element count of one tensor created from untrusted
// sizes (2^40); callers with tighter limits check before calling New.
const MaxElements = 1 << 40

// ErrShape is wrapped by errors about impossible or inconsistent shapes.
var ErrShape = errors.New("invalid shape")

// NumElements returns the product of shape, or an error when a dimension is
// negative or the product overflows MaxElements.
func NumElements(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			// Errors format a copy, so that shape does not escape: a
			// caller's shape can stay on its stack.
			return 0, fmt.Errorf("%w: negative dimension %d in %v", ErrShape, d, slices.Clone(shape))
		}
		if d != 0 && n > MaxElements/d {
			return 0, fmt.Errorf("%w: %v has more than 2^40 elements", ErrShape, slices.Clone(shape))
		}
		n *= d
	}
	return n, nil
}

// New allocates a zero-filled tensor of dtype d and the given shape.
func New(d DType, shape ...int) (*Tensor, error) {
	n, err := NumElements(shape)
	if err != nil {
		return nil, err
	}
	data, err := makeSlice(d, n, n)
	if err != nil {
		return nil, err
	}
	return &Tensor{dtype: d, shape: append([]int{}, shape...), data: data}, nil
}

// Zeros is New for shapes known to be valid (internal invariant); it panics otherwise.
func Zeros(d DType, shape ...int) *Tensor {
	t, err := New(d, shape...)
	if err != nil {
		panic(err)
	}
	return t
}

// From wraps data (not copied) as a tensor of the given shape.
// It fails when len(data) is not the product of shape.
func From[T Elem](shape []int, data []T) (*Tensor, error) {
	n, err := NumElements(shape)
	if err != nil {
		return nil, err
	}
	if len(data) != n {
		return nil, fmt.Errorf("%w: %d elements for shape %v (want %d)", ErrShape, len(data), shape, n)
	}
	return &Tensor{dtype: DTypeOf[T](), shape: append([]int{}, shape...), data: data}, nil
}

// Must wraps data like From and panics on a length mismatch; for tests and
// for code whose shapes are correct by construction.
func Must[T Elem](shape []int, data []T) *Tensor {
	t, err := From(shape, data)
	if err != nil {
		panic(err)
	}
	return t
}

// Scalar returns a rank-0 tensor holding v.
func Scalar[T Elem](v T) *Tensor {
	return &Tensor{dtype: DTypeOf[T](), shape: []int{}, data: []T{v}}
}

// FromRaw wraps a typed slice produced by makeSlice-compatible code (for
// example a decoder) whose element type must match d.
func FromRaw(d DType, shape []int, data any) (*Tensor, error) {
	t := &Tensor{dtype: d, shape: append([]int{}, shape...), data: data}
	want, err := NumElements(shape)
	if err != nil {
		return nil, err
	}
	probe, err := makeSlice(d, 0, 0)
	if err != nil {
		return nil, err
	}
	if fmt.Sprintf("%T", probe) != fmt.Sprintf("%T", data) {
		return nil, fmt.Errorf("tensor: data is %T, dtype %v wants %T", data, d, probe)
	}
	if got := t.Len(); got != want {
		return nil, fmt.Errorf("%w: %d elements for shape %v (want %d)", ErrShape, got, shape, want)
	}
	return t, nil
}

// Data returns the tensor's backing slice. It panics when T does not match
// the tensor's dtype: that is a bug in the caller, not bad input.
func Data[T Elem](t *Tensor) []T {
	d, ok := t.data.([]T)
	if !ok {
		panic(fmt.Sprintf("tensor: Data[%T] on %v tensor", *new(T), t.dtype))
	}
	return d
}

// DType returns the element type.
func (t *Tensor) DType() DType { return t.dtype }

// Shape returns the dimensions. The caller must not modify the slice.
func (t *Tensor) Shape() []int { return t.shape }

// Rank returns len(Shape()).
func (t *Tensor) Rank() int { return len(t.shape) }

// Raw returns the backing typed slice as an any.
func (t *Tensor) Raw() any { return t.data }

// Len returns the number of elements.
func (t *Tensor) Len() int {
	switch d := t.data.(type) {
	case []float32:
		return len(d)
	case []float64:
		return len(d)
	case []int64:
		return len(d)
	case []int32:
		return len(d)
	case []bool:
		return len(d)
	case []string:
		return len(d)
	}
	n := 1
	for _, s := range t.shape {
		n *= s
	}
	return n
}

// Reshape returns a tensor sharing t's data with a new shape of equal size.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	n, err := NumElements(shape)
	if err != nil {
		return nil, err
	}
	if n != t.Len() {
		return nil, fmt.Errorf("%w: cannot reshape %v (%d elements) to %v", ErrShape, t.shape, t.Len(), slices.Clone(shape))
	}
	return &Tensor{dtype: t.dtype, shape: append([]int{}, shape...), data: t.data}, nil
}

// Reuse gives t the shape shape (of t's element count) in place, for an
// allocator that recycles the headers of tensors no one holds any more: t
// must be one that no live value, caller or kernel still uses. The slice
// a former Shape call returned is rewritten in place when it has the room
// (nothing should hold it: code keeping a shape across runs copies it).
func (t *Tensor) Reuse(shape []int) error {
	if SameShape(t.shape, shape) {
		return nil
	}
	n, err := NumElements(shape)
	if err != nil {
		return err
	}
	if n != t.Len() {
		return fmt.Errorf("%w: cannot reshape %v (%d elements) to %v", ErrShape, t.shape, t.Len(), slices.Clone(shape))
	}
	t.setShape(shape)
	return nil
}

// NewCap is New over the first elements of a zero-filled backing array of
// capacity elements (at least the product of shape), which Refit may later
// give other shapes up to that size.
func NewCap(d DType, capacity int, shape ...int) (*Tensor, error) {
	t := &Tensor{}
	if err := t.Remake(d, capacity, shape); err != nil {
		return nil, err
	}
	return t, nil
}

// Remake gives t, a header no one holds any more (see Reuse), a new
// zero-filled backing array of capacity elements of dtype d and the given
// shape over its first elements, as NewCap makes them.
func (t *Tensor) Remake(d DType, capacity int, shape []int) error {
	n, err := NumElements(shape)
	if err != nil {
		return err
	}
	if capacity < n || capacity > MaxElements {
		return fmt.Errorf("%w: capacity %d for shape %v (%d elements)", ErrShape, capacity, slices.Clone(shape), n)
	}
	data, err := makeSlice(d, n, capacity)
	if err != nil {
		return err
	}
	t.dtype, t.data = d, data
	t.setShape(shape)
	return nil
}

// Refit is Reuse for a shape of another element count: t's data becomes
// the first elements of its backing array, whose capacity must hold them
// (NewCap). Like Reuse it is for an allocator recycling the headers and
// arrays of tensors no one holds any more; views made earlier keep their
// data and shape.
func (t *Tensor) Refit(shape []int) error {
	n, err := NumElements(shape)
	if err != nil {
		return err
	}
	if n == t.Len() {
		return t.Reuse(shape)
	}
	var ok bool
	switch d := t.data.(type) {
	case []float32:
		t.data, ok = refit(d, n)
	case []int64:
		t.data, ok = refit(d, n)
	case []bool:
		t.data, ok = refit(d, n)
	case []int32:
		t.data, ok = refit(d, n)
	case []float64:
		t.data, ok = refit(d, n)
	case []Float16Bits:
		t.data, ok = refit(d, n)
	default:
		v := reflect.ValueOf(t.data)
		if ok = v.Kind() == reflect.Slice && n <= v.Cap(); ok {
			t.data = v.Slice(0, n).Interface()
		}
	}
	if !ok {
		return fmt.Errorf("%w: cannot refit %v to %v: %d elements, more than the backing array holds", ErrShape, t.shape, slices.Clone(shape), n)
	}
	t.setShape(shape)
	return nil
}

// refit returns d's first n elements (as data), or d and false when its
// capacity is short.
func refit[T any](d []T, n int) (any, bool) {
	if n > cap(d) {
		return d, false
	}
	return d[:n], true
}

// SetView makes t a view of x: x's dtype and data with the given shape, of
// x's element count. Like Reuse it is for an allocator recycling the
// headers of tensors no one holds any more.
func (t *Tensor) SetView(x *Tensor, shape []int) error {
	n, err := NumElements(shape)
	if err != nil {
		return err
	}
	if n != x.Len() {
		return fmt.Errorf("%w: cannot reshape %v (%d elements) to %v", ErrShape, x.shape, x.Len(), slices.Clone(shape))
	}
	t.dtype, t.data = x.dtype, x.data
	if !SameShape(t.shape, shape) || t.shape == nil {
		t.setShape(shape)
	}
	return nil
}

// setShape gives t the shape, in its shape slice when that has the room
// (for the allocator methods Reuse, Refit and SetView: see Reuse).
func (t *Tensor) setShape(shape []int) {
	if t.shape != nil && cap(t.shape) >= len(shape) {
		t.shape = append(t.shape[:0], shape...)
		return
	}
	t.shape = append([]int{}, shape...)
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	c := Zeros(t.dtype, t.shape...)
	copyAny(c.data, t.data)
	return c
}

// Equal reports whether a and b have the same dtype, shape and elements
// (NaN equals NaN, bitwise for the non-native float types).
func Equal(a, b *Tensor) bool {
	if a.dtype != b.dtype || !SameShape(a.shape, b.shape) {
		return false
	}
	switch x := a.data.(type) {
	case []float32:
		y := b.data.([]float32)
		for i := range x {
			if x[i] != y[i] && !(x[i] != x[i] && y[i] != y[i]) {
				return false
			}
		}
		return true
	case []float64:
		y := b.data.([]float64)
		for i := range x {
			if x[i] != y[i] && !(math.IsNaN(x[i]) && math.IsNaN(y[i])) {
				return false
			}
		}
		return true
	}
	return fmt.Sprint(a.data) == fmt.Sprint(b.data)
}

// SameShape reports whether two shapes are identical.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// String formats a short description: dtype, shape and up to 8 elements.
func (t *Tensor) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v%v", t.dtype, t.shape)
	s := fmt.Sprint(t.data)
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	b.WriteString(s)
	return b.String()
}

func copyAny(dst, src any) {
	switch d := dst.(type) {
	case []float32:
		copy(d, src.([]float32))
	case []float64:
		copy(d, src.([]float64))
	case []int8:
		copy(d, src.([]int8))
	case []int16:
		copy(d, src.([]int16))
	case []int32:
		copy(d, src.([]int32))
	case []int64:
		copy(d, src.([]int64))
	case []uint8:
		copy(d, src.([]uint8))
	case []uint16:
		copy(d, src.([]uint16))
	case []uint32:
		copy(d, src.([]uint32))
	case []uint64:
		copy(d, src.([]uint64))
	case []bool:
		copy(d, src.([]bool))
	case []string:
		copy(d, src.([]string))
	case []complex64:
		copy(d, src.([]complex64))
	case []complex128:
		copy(d, src.([]complex128))
	case []Float16Bits:
		copy(d, src.([]Float16Bits))
	case []BFloat16Bits:
		copy(d, src.([]BFloat16Bits))
	case []F8E4M3FN:
		copy(d, src.([]F8E4M3FN))
	case []F8E4M3FNUZ:
		copy(d, src.([]F8E4M3FNUZ))
	case []F8E5M2:
		copy(d, src.([]F8E5M2))
	case []F8E5M2FNUZ:
		copy(d, src.([]F8E5M2FNUZ))
	case []F8E8M0:
		copy(d, src.([]F8E8M0))
	case []F4E2M1:
		copy(d, src.([]F4E2M1))
	case []U4:
		copy(d, src.([]U4))
	case []I4:
		copy(d, src.([]I4))
	case []U2:
		copy(d, src.([]U2))
	case []I2:
		copy(d, src.([]I2))
	default:
		panic(fmt.Sprintf("tensor: copy of %T", dst))
	}
}

// SetFrom copies element j of src into element i of dst; both must have the same dtype.
func SetFrom(dst *Tensor, i int, src *Tensor, j int) error {
	if dst.dtype != src.dtype {
		return fmt.Errorf("tensor: SetFrom %v from %v", dst.dtype, src.dtype)
	}
	switch d := dst.data.(type) {
	case []float32:
		d[i] = src.data.([]float32)[j]
	case []float64:
		d[i] = src.data.([]float64)[j]
	case []int64:
		d[i] = src.data.([]int64)[j]
	case []int32:
		d[i] = src.data.([]int32)[j]
	case []string:
		d[i] = src.data.([]string)[j]
	case []bool:
		d[i] = src.data.([]bool)[j]
	default:
		// Every remaining dtype is at most 16 bytes; go through a 1-element copy.
		copyAny(sliceAt(dst.data, i), sliceAt(src.data, j))
	}
	return nil
}

func sliceAt(data any, i int) any {
	switch d := data.(type) {
	case []int8:
		return d[i : i+1]
	case []int16:
		return d[i : i+1]
	case []uint8:
		return d[i : i+1]
	case []uint16:
		return d[i : i+1]
	case []uint32:
		return d[i : i+1]
	case []uint64:
		return d[i : i+1]
	case []complex64:
		return d[i : i+1]
	case []complex128:
		return d[i : i+1]
	case []Float16Bits:
		return d[i : i+1]
	case []BFloat16Bits:
		return d[i : i+1]
	case []F8E4M3FN:
		return d[i : i+1]
	case []F8E4M3FNUZ:
		return d[i : i+1]
	case []F8E5M2:
		return d[i : i+1]
	case []F8E5M2FNUZ:
		return d[i : i+1]
	case []F8E8M0:
		return d[i : i+1]
	case []F4E2M1:
		return d[i : i+1]
	case []U4:
		return d[i : i+1]
	case []I4:
		return d[i : i+1]
	case []U2:
		return d[i : i+1]
	case []I2:
		return d[i : i+1]
	}
	panic(fmt.Sprintf("tensor: sliceAt %T", data))
}
