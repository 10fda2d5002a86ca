#include "textflag.h"

// The exponential of Z1 in place (see the package doc), with Z20..Z30 and
// Z19 holding the broadcast coefficients; Z2..Z4 are clobbered. The clamp
// keeps NaN (the second source of VMAXPS/VMINPS), n = round(x log2 e),
// r = x - n ln2hi - n ln2lo, y = p(r) r^2 + r + 1, then y 2^n.
#define EXP512 \
	VMAXPS       Z1, Z20, Z1  \
	VMINPS       Z1, Z21, Z1  \
	VMULPS       Z22, Z1, Z2  \
	VRNDSCALEPS  $0, Z2, Z2   \
	VFNMADD231PS Z23, Z2, Z1  \
	VFNMADD231PS Z24, Z2, Z1  \
	VMOVAPS      Z25, Z3      \
	VFMADD213PS  Z26, Z1, Z3  \
	VFMADD213PS  Z27, Z1, Z3  \
	VFMADD213PS  Z28, Z1, Z3  \
	VFMADD213PS  Z29, Z1, Z3  \
	VFMADD213PS  Z30, Z1, Z3  \
	VMULPS       Z1, Z1, Z4   \
	VFMADD213PS  Z1, Z4, Z3   \
	VADDPS       Z19, Z3, Z3  \
	VSCALEFPS    Z2, Z3, Z1

// func expSubAVX512(x []float32, a, m float32, coef *[12]float32) float32
// x[j] = exp(a x[j] - m) for every j (a masked tail), returning their sum.
TEXT ·expSubAVX512(SB), NOSPLIT, $0-44
	MOVQ         x_base+0(FP), DI
	MOVQ         x_len+8(FP), CX
	VBROADCASTSS a+24(FP), Z18
	VBROADCASTSS m+28(FP), Z31
	MOVQ         coef+32(FP), R9
	VBROADCASTSS 0(R9), Z20
	VBROADCASTSS 4(R9), Z21
	VBROADCASTSS 8(R9), Z22
	VBROADCASTSS 12(R9), Z23
	VBROADCASTSS 16(R9), Z24
	VBROADCASTSS 20(R9), Z25
	VBROADCASTSS 24(R9), Z26
	VBROADCASTSS 28(R9), Z27
	VBROADCASTSS 32(R9), Z28
	VBROADCASTSS 36(R9), Z29
	VBROADCASTSS 40(R9), Z30
	VBROADCASTSS 44(R9), Z19
	VPXORD       Z0, Z0, Z0

es512loop:
	CMPQ    CX, $16
	JLT     es512tail
	VMOVUPS      (DI), Z1
	VFMSUB213PS  Z31, Z18, Z1
	EXP512
	VMOVUPS Z1, (DI)
	VADDPS  Z1, Z0, Z0
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     es512loop

es512tail:
	TESTQ     CX, CX
	JZ        es512done
	MOVL      $1, AX
	SHLL      CX, AX
	DECL      AX
	KMOVW     AX, K1
	VMOVUPS.Z   (DI), K1, Z1
	VFMSUB213PS Z31, Z18, Z1
	EXP512
	VMOVUPS   Z1, K1, (DI)
	VADDPS    Z1, Z0, K1, Z0

es512done:
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	VHADDPS       X0, X0, X0
	VHADDPS       X0, X0, X0
	VMOVSS        X0, ret+40(FP)
	VZEROUPPER
	RET

// func maxAVX512(x []float32) float32
// The largest of x[:len(x)&^15] (NaNs skipped), -Inf for none.
TEXT ·maxAVX512(SB), NOSPLIT, $0-28
	MOVQ         x_base+0(FP), DI
	MOVQ         x_len+8(FP), CX
	SHRQ         $4, CX
	MOVL         $0xff800000, AX
	MOVL         AX, X0
	VBROADCASTSS X0, Z0
	TESTQ        CX, CX
	JZ           mx512done

mx512loop:
	VMOVUPS (DI), Z1
	VMAXPS  Z0, Z1, Z0 // a NaN in Z1 yields the second source, Z0
	ADDQ    $64, DI
	DECQ    CX
	JNZ     mx512loop

mx512done:
	VEXTRACTF64X4 $1, Z0, Y1
	VMAXPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VMAXPS        X1, X0, X0
	VPERMILPS     $0x4e, X0, X1
	VMAXPS        X1, X0, X0
	VPERMILPS     $0xb1, X0, X1
	VMAXPS        X1, X0, X0
	VMOVSS        X0, ret+24(FP)
	VZEROUPPER
	RET

// func scaleAVX512(x []float32, a float32)
// x[j] *= a for j < len(x)&^15.
TEXT ·scaleAVX512(SB), NOSPLIT, $0-28
	MOVQ         x_base+0(FP), DI
	MOVQ         x_len+8(FP), CX
	SHRQ         $4, CX
	JZ           sc512done
	VBROADCASTSS a+24(FP), Z1

sc512loop:
	VMULPS  (DI), Z1, Z0
	VMOVUPS Z0, (DI)
	ADDQ    $64, DI
	DECQ    CX
	JNZ     sc512loop

sc512done:
	VZEROUPPER
	RET

// func expSubAVX2(x []float32, a, m float32, coef *[12]float32) float32
// x[j] = exp(a x[j] - m) for j < len(x)&^7, returning their sum. 2^n is two
// exponent-field factors, 2^(n>>1) and 2^(n - n>>1), both normal for the
// clamped n in [-150, 128].
TEXT ·expSubAVX2(SB), NOSPLIT, $0-44
	MOVQ         x_base+0(FP), DI
	MOVQ         x_len+8(FP), CX
	SHRQ         $3, CX
	VXORPS       Y0, Y0, Y0
	JZ           es2done
	VBROADCASTSS m+28(FP), Y15
	MOVQ         coef+32(FP), R9
	VBROADCASTSS 0(R9), Y14
	VBROADCASTSS 4(R9), Y13
	VBROADCASTSS 8(R9), Y12
	VBROADCASTSS 12(R9), Y11
	VBROADCASTSS 16(R9), Y10
	VBROADCASTSS 20(R9), Y9
	VBROADCASTSS 44(R9), Y8
	MOVL         $127, AX
	MOVL         AX, X7
	VPBROADCASTD X7, Y7

es2loop:
	VMOVUPS      (DI), Y1
	VBROADCASTSS a+24(FP), Y2
	VFMSUB213PS  Y15, Y2, Y1
	VMAXPS       Y1, Y14, Y1
	VMINPS       Y1, Y13, Y1
	VMULPS       Y12, Y1, Y2
	VROUNDPS     $0, Y2, Y2
	VFNMADD231PS Y11, Y2, Y1
	VFNMADD231PS Y10, Y2, Y1
	VMOVAPS      Y9, Y3
	VBROADCASTSS 24(R9), Y4
	VFMADD213PS  Y4, Y1, Y3
	VBROADCASTSS 28(R9), Y4
	VFMADD213PS  Y4, Y1, Y3
	VBROADCASTSS 32(R9), Y4
	VFMADD213PS  Y4, Y1, Y3
	VBROADCASTSS 36(R9), Y4
	VFMADD213PS  Y4, Y1, Y3
	VBROADCASTSS 40(R9), Y4
	VFMADD213PS  Y4, Y1, Y3
	VMULPS       Y1, Y1, Y4
	VFMADD213PS  Y1, Y4, Y3
	VADDPS       Y8, Y3, Y3
	VCVTPS2DQ    Y2, Y5
	VPSRAD       $1, Y5, Y6
	VPSUBD       Y6, Y5, Y5
	VPADDD       Y7, Y6, Y6
	VPADDD       Y7, Y5, Y5
	VPSLLD       $23, Y6, Y6
	VPSLLD       $23, Y5, Y5
	VMULPS       Y6, Y3, Y3
	VMULPS       Y5, Y3, Y3
	VMOVUPS      Y3, (DI)
	VADDPS       Y3, Y0, Y0
	ADDQ         $32, DI
	DECQ         CX
	JNZ          es2loop

es2done:
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VMOVSS       X0, ret+40(FP)
	VZEROUPPER
	RET

// func maxAVX2(x []float32) float32
// The largest of x[:len(x)&^7] (NaNs skipped), -Inf for none.
TEXT ·maxAVX2(SB), NOSPLIT, $0-28
	MOVQ         x_base+0(FP), DI
	MOVQ         x_len+8(FP), CX
	SHRQ         $3, CX
	MOVL         $0xff800000, AX
	MOVL         AX, X0
	VBROADCASTSS X0, Y0
	TESTQ        CX, CX
	JZ           mx2done

mx2loop:
	VMOVUPS (DI), Y1
	VMAXPS  Y0, Y1, Y0
	ADDQ    $32, DI
	DECQ    CX
	JNZ     mx2loop

mx2done:
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0x4e, X0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0xb1, X0, X1
	VMAXPS       X1, X0, X0
	VMOVSS       X0, ret+24(FP)
	VZEROUPPER
	RET

// func scaleAVX2(x []float32, a float32)
// x[j] *= a for j < len(x)&^7.
TEXT ·scaleAVX2(SB), NOSPLIT, $0-28
	MOVQ         x_base+0(FP), DI
	MOVQ         x_len+8(FP), CX
	SHRQ         $3, CX
	JZ           sc2done
	VBROADCASTSS a+24(FP), Y1

sc2loop:
	VMULPS  (DI), Y1, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	DECQ    CX
	JNZ     sc2loop

sc2done:
	VZEROUPPER
	RET

// func scaleAddAVX512(x []float32, a float32, y []float32)
// x[j] = a x[j] + y[j] for j < len(x)&^15.
TEXT ·scaleAddAVX512(SB), NOSPLIT, $0-56
	MOVQ         x_base+0(FP), DI
	MOVQ         x_len+8(FP), CX
	MOVQ         y_base+32(FP), SI
	SHRQ         $4, CX
	JZ           sa512done
	VBROADCASTSS a+24(FP), Z1

sa512loop:
	VMOVUPS     (DI), Z0
	VFMADD213PS (SI), Z1, Z0
	VMOVUPS     Z0, (DI)
	ADDQ        $64, DI
	ADDQ        $64, SI
	DECQ        CX
	JNZ         sa512loop

sa512done:
	VZEROUPPER
	RET

// func scaleAddAVX2(x []float32, a float32, y []float32)
// x[j] = a x[j] + y[j] for j < len(x)&^7.
TEXT ·scaleAddAVX2(SB), NOSPLIT, $0-56
	MOVQ         x_base+0(FP), DI
	MOVQ         x_len+8(FP), CX
	MOVQ         y_base+32(FP), SI
	SHRQ         $3, CX
	JZ           sa2done
	VBROADCASTSS a+24(FP), Y1

sa2loop:
	VMOVUPS     (DI), Y0
	VFMADD213PS (SI), Y1, Y0
	VMOVUPS     Y0, (DI)
	ADDQ        $32, DI
	ADDQ        $32, SI
	DECQ        CX
	JNZ         sa2loop

sa2done:
	VZEROUPPER
	RET
