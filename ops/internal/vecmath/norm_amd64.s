#include "textflag.h"

// HSUM64 adds the two 8-lane float64 sums Z10 and Z11 into X10's low lane
// (clobbers Z1).
#define HSUM64 \
	VADDPD        Z11, Z10, Z10 \
	VEXTRACTF64X4 $1, Z10, Y1   \
	VADDPD        Y1, Y10, Y10  \
	VEXTRACTF128  $1, Y10, X1   \
	VADDPD        X1, X10, X10  \
	VPERMILPD     $1, X10, X1   \
	VADDSD        X1, X10, X10

// func sum64AVX512(x []float32) float64
// Σ x[j] in float64 over len(x) (a multiple of 16), two 8-lane sums.
TEXT ·sum64AVX512(SB), NOSPLIT, $0-32
	MOVQ   x_base+0(FP), SI
	MOVQ   x_len+8(FP), CX
	SHRQ   $4, CX
	VXORPD Z10, Z10, Z10
	VXORPD Z11, Z11, Z11
	TESTQ  CX, CX
	JZ     sumdone

sumloop:
	VCVTPS2PD (SI), Z1
	VCVTPS2PD 32(SI), Z2
	VADDPD    Z1, Z10, Z10
	VADDPD    Z2, Z11, Z11
	ADDQ      $64, SI
	DECQ      CX
	JNZ       sumloop

sumdone:
	HSUM64
	VZEROUPPER
	MOVSD         X10, ret+24(FP)
	RET

// func sumSqDev64AVX512(x []float32, m float64) float64
// Σ (x[j] − m)² in float64 over len(x) (a multiple of 16).
TEXT ·sumSqDev64AVX512(SB), NOSPLIT, $0-40
	MOVQ         x_base+0(FP), SI
	MOVQ         x_len+8(FP), CX
	SHRQ         $4, CX
	VBROADCASTSD m+24(FP), Z9
	VXORPD       Z10, Z10, Z10
	VXORPD       Z11, Z11, Z11
	TESTQ        CX, CX
	JZ           sqdone

sqloop:
	VCVTPS2PD   (SI), Z1
	VCVTPS2PD   32(SI), Z2
	VSUBPD      Z9, Z1, Z1
	VSUBPD      Z9, Z2, Z2
	VFMADD231PD Z1, Z1, Z10
	VFMADD231PD Z2, Z2, Z11
	ADDQ        $64, SI
	DECQ        CX
	JNZ         sqloop

sqdone:
	HSUM64
	VZEROUPPER
	MOVSD         X10, ret+32(FP)
	RET

// func affineAVX512(out, x, scale, bias []float32, m, inv float32)
// out[j] = (x[j] − m)·inv·scale[j] + bias[j] over len(x) (a multiple of
// 16), no bias when len(bias) is 0; separate multiplies and adds (no FMA)
// so the rounding is the scalar code's.
TEXT ·affineAVX512(SB), NOSPLIT, $0-104
	MOVQ         out_base+0(FP), DI
	MOVQ         x_base+24(FP), SI
	MOVQ         x_len+32(FP), CX
	MOVQ         scale_base+48(FP), DX
	MOVQ         bias_base+72(FP), BX
	MOVQ         bias_len+80(FP), R8
	VBROADCASTSS m+96(FP), Z8
	VBROADCASTSS inv+100(FP), Z9
	SHRQ         $4, CX
	JZ           afdone

afloop:
	VMOVUPS (SI), Z0
	VSUBPS  Z8, Z0, Z0
	VMULPS  Z9, Z0, Z0
	VMULPS  (DX), Z0, Z0
	TESTQ   R8, R8
	JZ      afstore
	VADDPS  (BX), Z0, Z0
	ADDQ    $64, BX

afstore:
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	ADDQ    $64, DX
	DECQ    CX
	JNZ     afloop
	VZEROUPPER

afdone:
	RET

// func addAVX512(dst, a, b []float32)
// dst[j] = a[j] + b[j] over len(a) (a multiple of 16).
TEXT ·addAVX512(SB), NOSPLIT, $0-72
	MOVQ dst_base+0(FP), DI
	MOVQ a_base+24(FP), SI
	MOVQ a_len+32(FP), CX
	MOVQ b_base+48(FP), DX
	SHRQ $4, CX
	JZ   adddone

addloop:
	VMOVUPS (SI), Z0
	VADDPS  (DX), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, DI
	DECQ    CX
	JNZ     addloop
	VZEROUPPER

adddone:
	RET
