package quant

import (
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

func benchRun(b *testing.B, k *ops.Kernel, in ...*tensor.Tensor) {
	c := &ops.Ctx{Threads: 1}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Run(c, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQLinearMatMulBert is one BERT-base projection: (128, 768) @ (768, 768).
func BenchmarkQLinearMatMulBert(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	o := qlinearMatMulOps[len(qlinearMatMulOps)-1]
	k, _ := o.Compile(&ops.Node{OpType: o.Type})
	benchRun(b, k, randInts(rng, tensor.Uint8, 128, 768), tensor.Scalar[float32](0.02), tensor.Scalar[uint8](128),
		randInts(rng, tensor.Int8, 768, 768), tensor.Scalar[float32](0.01), tensor.Scalar[int8](0),
		tensor.Scalar[float32](0.1), tensor.Scalar[uint8](128))
}

// BenchmarkMatMulIntegerBert is (128, 768) @ (768, 3072) with per-column weight zero points.
func BenchmarkMatMulIntegerBert(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	o := matMulIntegerOps[0]
	k, _ := o.Compile(&ops.Node{OpType: o.Type})
	benchRun(b, k, randInts(rng, tensor.Uint8, 128, 768), randInts(rng, tensor.Int8, 768, 3072),
		tensor.Scalar[uint8](128), randInts(rng, tensor.Int8, 3072))
}

// BenchmarkDequantizeLinearPerAxis768x3072 dequantizes a BERT FFN weight per output channel.
func BenchmarkDequantizeLinearPerAxis768x3072(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 3))
	o := dequantizeLinearOps[len(dequantizeLinearOps)-1]
	k, _ := o.Compile(&ops.Node{OpType: o.Type, Attrs: []ops.Attr{iattr("axis", 1)}})
	s := tensor.Zeros(tensor.Float32, 3072)
	for i := range tensor.Data[float32](s) {
		tensor.Data[float32](s)[i] = 0.01
	}
	benchRun(b, k, randInts(rng, tensor.Int8, 768, 3072), s, tensor.Zeros(tensor.Int8, 3072))
}

// BenchmarkQuantizeLinear768x3072 quantizes a (768, 3072) activation per tensor.
func BenchmarkQuantizeLinear768x3072(b *testing.B) {
	o := quantizeLinearOps[len(quantizeLinearOps)-1]
	k, _ := o.Compile(&ops.Node{OpType: o.Type})
	x := tensor.Zeros(tensor.Float32, 768, 3072)
	for i := range tensor.Data[float32](x) {
		tensor.Data[float32](x)[i] = float32(i%1000) * 0.1
	}
	benchRun(b, k, x, tensor.Scalar[float32](0.3), tensor.Scalar[uint8](3))
}

// BenchmarkQLinearConvResNet3x3 is a ResNet stage-1 3x3 convolution: (1, 64, 56, 56) * (64, 64, 3, 3).
func BenchmarkQLinearConvResNet3x3(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 4))
	o := qlinearConvOps[0]
	k, _ := o.Compile(&ops.Node{OpType: o.Type, Attrs: []ops.Attr{{Name: "pads", Type: ops.AttrInts, Ints: []int64{1, 1, 1, 1}}}})
	benchRun(b, k, randInts(rng, tensor.Uint8, 1, 64, 56, 56), tensor.Scalar[float32](0.02), tensor.Scalar[uint8](128),
		randInts(rng, tensor.Int8, 64, 64, 3, 3), tensor.Scalar[float32](0.01), tensor.Scalar[int8](0),
		tensor.Scalar[float32](0.1), tensor.Scalar[uint8](128))
}
