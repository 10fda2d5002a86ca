package linalg

//go:noescape
func sgemvPanel48AVX512(kc int, x, panel, y []float32)

func init() { avx512Kernel.gemvPanel = sgemvPanel48AVX512 }
