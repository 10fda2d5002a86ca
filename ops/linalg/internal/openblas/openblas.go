//go:build openblas

package openblas

// Package openblas, built only with -tags openblas, wraps OpenBLAS's cblas_sgemm so
// the benchmarks can compare against it in the same run. gort itself never
// depends on OpenBLAS.

// #cgo LDFLAGS: -lopenblas
// #include <cblas.h>
import "C"

import "unsafe"

// Sgemm is cblas_sgemm(CblasRowMajor, ...) on threads OpenBLAS
// threads.
func Sgemm(threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	C.openblas_set_num_threads(C.int(threads))
	ta, tb := C.CblasNoTrans, C.CblasNoTrans
	if transA {
		ta = C.CblasTrans
	}
	if transB {
		tb = C.CblasTrans
	}
	C.cblas_sgemm(C.CblasRowMajor, uint32(ta), uint32(tb), C.blasint(m), C.blasint(n), C.blasint(k), C.float(alpha),
		(*C.float)(unsafe.Pointer(&a[0])), C.blasint(lda), (*C.float)(unsafe.Pointer(&b[0])), C.blasint(ldb), C.float(beta),
		(*C.float)(unsafe.Pointer(&c[0])), C.blasint(ldc))
}

// Config is OpenBLAS's build description (its kernel target).
func Config() string { return C.GoString(C.openblas_get_config()) }
