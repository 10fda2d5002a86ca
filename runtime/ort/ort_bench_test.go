//go:build cgo

package ort_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/runtime/ort"
	"github.com/gort-ml/gort/tensor"
)

// benchProviders runs m on the native provider and on ORT, one intra-op
// thread each, so the two numbers of one run can be compared.
func benchProviders(b *testing.B, m *ir.Model, feeds map[string]*tensor.Tensor) {
	needORT(b)
	for _, p := range []struct {
		name string
		prov runtime.Provider
	}{
		{"native", nil},
		{"ort", ort.New(ort.Options{})},
	} {
		b.Run(p.name, func(b *testing.B) {
			s, err := runtime.NewSession(m, runtime.Options{Provider: p.prov, IntraOpThreads: 1})
			if err != nil {
				b.Skip(err)
			}
			defer s.Close()
			ctx := context.Background()
			for b.Loop() {
				if _, err := s.Run(ctx, feeds); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMatMul is y = x·w for square float32 matrices.
func BenchmarkMatMul(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{64, 256, 512} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			m := model(13, []*ir.Node{node("MatMul", []string{"x", "w"}, []string{"y"})},
				[]*ir.ValueInfo{vi("x", tensor.Float32, n, n)}, []*ir.ValueInfo{out("y", tensor.Float32)},
				&ir.Initializer{Name: "w", T: randF32(r, n, n)})
			benchProviders(b, m, map[string]*tensor.Tensor{"x": randF32(r, n, n)})
		})
	}
}

// BenchmarkAddSmall measures per-run overhead: y = a + b on 16 floats.
func BenchmarkAddSmall(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	m := model(14, []*ir.Node{node("Add", []string{"a", "b"}, []string{"y"})},
		[]*ir.ValueInfo{vi("a", tensor.Float32, 16), vi("b", tensor.Float32, 16)}, []*ir.ValueInfo{out("y", tensor.Float32)})
	benchProviders(b, m, map[string]*tensor.Tensor{"a": randF32(r, 16), "b": randF32(r, 16)})
}
