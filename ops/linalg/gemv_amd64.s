#include "textflag.h"

// func sgemvPanel48AVX512(kc int, x, panel, y []float32)
// y[0:48] += Σ_p x[p]·panel[p·48 : p·48+48] for p < kc in order, kc >= 1:
// one packed 48-column panel (see PackedB), read front to back.
TEXT ·sgemvPanel48AVX512(SB), NOSPLIT, $0-80
	MOVQ    kc+0(FP), CX
	MOVQ    x_base+8(FP), SI
	MOVQ    panel_base+32(FP), DI
	MOVQ    y_base+56(FP), DX
	VMOVUPS (DX), Z0
	VMOVUPS 64(DX), Z1
	VMOVUPS 128(DX), Z2

panel48loop:
	VBROADCASTSS (SI), Z8
	VFMADD231PS  (DI), Z8, Z0
	VFMADD231PS  64(DI), Z8, Z1
	VFMADD231PS  128(DI), Z8, Z2
	ADDQ         $4, SI
	ADDQ         $192, DI
	DECQ         CX
	JNZ          panel48loop

	VMOVUPS Z0, (DX)
	VMOVUPS Z1, 64(DX)
	VMOVUPS Z2, 128(DX)
	VZEROUPPER
	RET
