package elementwise

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"
	"unsafe"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Add, Sub, Mul and Div granted an operand's memory (ops.Ctx.Reusable)
// write the output there, bit-identical to the allocating run; operands
// not granted (or of another size than the output) are left alone.
func TestInPlaceArithmetic(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	f32 := func(shape ...int) *tensor.Tensor {
		n, _ := tensor.NumElements(shape)
		d := make([]float32, n)
		for i := range d {
			d[i] = r.Float32()*4 - 2
		}
		return tensor.Must(shape, d)
	}
	i64 := func(shape ...int) *tensor.Tensor {
		n, _ := tensor.NumElements(shape)
		d := make([]int64, n)
		for i := range d {
			d[i] = int64(r.IntN(50)) + 1
		}
		return tensor.Must(shape, d)
	}
	cases := []struct {
		name  string
		a, b  func() *tensor.Tensor
		grant int // operand granted
		reuse bool
	}{
		{"same shape, a", func() *tensor.Tensor { return f32(3, 5) }, func() *tensor.Tensor { return f32(3, 5) }, 0, true},
		{"same shape, b", func() *tensor.Tensor { return f32(3, 5) }, func() *tensor.Tensor { return f32(3, 5) }, 1, true},
		{"b broadcast rows, a", func() *tensor.Tensor { return f32(4, 6) }, func() *tensor.Tensor { return f32(6) }, 0, true},
		{"a broadcast rows, b", func() *tensor.Tensor { return f32(6) }, func() *tensor.Tensor { return f32(4, 6) }, 1, true},
		{"scalar b, a", func() *tensor.Tensor { return f32(7) }, func() *tensor.Tensor { return f32() }, 0, true},
		{"lower rank a, a", func() *tensor.Tensor { return f32(6) }, func() *tensor.Tensor { return f32(1, 6) }, 0, true},
		{"a smaller than the output", func() *tensor.Tensor { return f32(6) }, func() *tensor.Tensor { return f32(4, 6) }, 0, false},
		{"int64, a", func() *tensor.Tensor { return i64(5, 3) }, func() *tensor.Tensor { return i64(5, 1) }, 0, true},
	}
	for _, op := range []string{"Add", "Sub", "Mul", "Div"} {
		k, err := compile(t, op, 14, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			a, b := c.a(), c.b()
			want, err := k.Run(&ops.Ctx{}, []*tensor.Tensor{a, b})
			if err != nil {
				t.Fatal(err)
			}
			in := []*tensor.Tensor{a.Clone(), b.Clone()}
			other := in[1-c.grant].Clone()
			got, err := k.Run(&ops.Ctx{Reuse: []ops.Reuse{{T: in[c.grant], Whole: true}}}, in)
			if err != nil {
				t.Fatal(err)
			}
			if !tensor.SameShape(got[0].Shape(), want[0].Shape()) || !equalBits(got[0], want[0]) {
				t.Errorf("%s %s: in place %v, allocating %v", op, c.name, got[0], want[0])
			}
			// Integer Div runs the generic path, which always allocates.
			reuse := c.reuse && (op != "Div" || a.DType().IsFloat())
			if shared := sameData(got[0], in[c.grant]); shared != reuse {
				t.Errorf("%s %s: output in the granted operand %v, want %v", op, c.name, shared, reuse)
			}
			if !equalBits(in[1-c.grant], other) {
				t.Errorf("%s %s: the operand not granted changed", op, c.name)
			}
			// An extend-only grant (a donated feed) is no licence to overwrite.
			in = []*tensor.Tensor{a.Clone(), b.Clone()}
			got, err = k.Run(&ops.Ctx{Reuse: []ops.Reuse{{T: in[c.grant]}}}, in)
			if err != nil {
				t.Fatal(err)
			}
			if sameData(got[0], in[c.grant]) {
				t.Errorf("%s %s: wrote over an operand granted only for extension", op, c.name)
			}
		}
	}
}

func sameData(a, b *tensor.Tensor) bool {
	return a.Len() > 0 && b.Len() > 0 && &bytesOf(a)[0] == &bytesOf(b)[0]
}

// bytesOf is t's data as bytes.
func bytesOf(t *tensor.Tensor) []byte {
	v := reflect.ValueOf(t.Raw())
	if v.Len() == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(v.UnsafePointer()), v.Len()*int(v.Type().Elem().Size()))
}

func equalBits(a, b *tensor.Tensor) bool { return bytes.Equal(bytesOf(a), bytesOf(b)) }
