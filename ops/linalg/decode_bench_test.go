package linalg

import (
	"slices"
	"testing"
	"time"
)

// decodeWeights is a GPT-2-small-shaped stack of packed weights: per
// layer the QKV, projection, FC1 and FC2 products, and the tied LM head
// (transB).
type decodeWeights struct {
	layers [][4]*PackedB
	head   *PackedB
}

func newDecodeWeights(layers int) *decodeWeights {
	fill := func(n int) []float32 {
		w := make([]float32, n)
		for i := range w {
			w[i] = float32(i%13-6) * 0.01
		}
		return w
	}
	d := &decodeWeights{}
	for range layers {
		d.layers = append(d.layers, [4]*PackedB{
			PackB(false, 768, 2304, fill(768*2304), 2304),
			PackB(false, 768, 768, fill(768*768), 768),
			PackB(false, 768, 3072, fill(768*3072), 3072),
			PackB(false, 3072, 768, fill(3072*768), 768),
		})
	}
	d.head = PackB(true, 768, 50257, fill(768*50257), 768)
	return d
}

func (d *decodeWeights) bytes() int {
	return 4 * (len(d.layers)*(768*2304+768*768+2*768*3072) + 768*50257)
}

// token runs one decoding step's products, one row each, on pool.
func (d *decodeWeights) token(pool *Pool, x, y []float32) {
	for _, l := range d.layers {
		for _, pb := range l {
			SgemmPacked(false, 1, 1, x[:pb.k], pb.k, pb, 0, y[:pb.n], pb.n, Epilogue{}, pool)
		}
	}
	SgemmPacked(false, 1, 1, x[:768], 768, d.head, 0, y[:50257], 50257, Epilogue{}, pool)
}

// BenchmarkDecodeGEMVs runs the matrix-vector products of a GPT-2-small
// decoding step (4 layers and the LM head, 267 MB of weights) on one and on
// two threads, alternating within each iteration, and reports the median
// GB/s of each and the median of the per-iteration ratios 2t/1t.
func BenchmarkDecodeGEMVs(b *testing.B) {
	d := newDecodeWeights(4)
	x, y := make([]float32, 3072), make([]float32, 50257)
	for i := range x {
		x[i] = 0.001 * float32(i%7)
	}
	pools := []*Pool{nil, NewPool(2)}
	defer pools[1].Close()
	var rates [2][]float64
	var ratios []float64
	for b.Loop() {
		for i, p := range pools {
			t0 := time.Now()
			d.token(p, x, y)
			rates[i] = append(rates[i], float64(d.bytes())/time.Since(t0).Seconds()/1e9)
		}
		ratios = append(ratios, rates[1][len(rates[1])-1]/rates[0][len(rates[0])-1])
	}
	med := func(r []float64) float64 {
		slices.Sort(r)
		return (r[(len(r)-1)/2] + r[len(r)/2]) / 2
	}
	b.ReportMetric(med(rates[0]), "1t-GB/s")
	b.ReportMetric(med(rates[1]), "2t-GB/s")
	b.ReportMetric(med(ratios), "2t/1t")
}
