package vecmath

import "testing"

// BenchmarkExpSub256 is the exponentials of one softmax tile row.
func BenchmarkExpSub256(b *testing.B) {
	x := make([]float32, 256)
	for j := range x {
		x[j] = float32(-j) / 16
	}
	buf := make([]float32, 256)
	b.SetBytes(256 * 4)
	for b.Loop() {
		copy(buf, x)
		ExpSub(buf, 1, 0)
	}
}
