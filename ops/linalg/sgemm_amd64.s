#include "textflag.h"

#define ZERO4Z(a, b, c, d) \
	VPXORD a, a, a \
	VPXORD b, b, b \
	VPXORD c, c, c \
	VPXORD d, d, d

#define ZERO4Y(a, b, c, d) \
	VXORPS a, a, a \
	VXORPS b, b, b \
	VXORPS c, c, c \
	VXORPS d, d, d

// Micro-kernels: C[mr x nr] = A·B (+ beta·C when load != 0) for one register
// tile. a is a packed A panel (kc steps of mr values), b a packed B panel (kc
// steps of nr values), c the tile's top-left element with row stride ldc
// (elements). kc >= 1.
//
// func sgemmKernelAVX2(kc int, a, b, c []float32, ldc int, beta float32, load int)
// func sgemmKernelAVX512(kc int, a, b, c []float32, ldc int, beta float32, load int)

// AVX2/FMA 6 x 16: accumulators Y0..Y11 (row r in Y(2r), Y(2r+1)), B in
// Y12, Y13, broadcasts of A in Y14, Y15.
#define FMA6x16ROW(off, bc, r0, r1) \
	VBROADCASTSS off(SI), bc \
	VFMADD231PS  Y12, bc, r0 \
	VFMADD231PS  Y13, bc, r1

#define FMA6x16STEP(aoff, boff) \
	VMOVUPS boff(DI), Y12 \
	VMOVUPS boff+32(DI), Y13 \
	FMA6x16ROW(aoff+0, Y14, Y0, Y1) \
	FMA6x16ROW(aoff+4, Y15, Y2, Y3) \
	FMA6x16ROW(aoff+8, Y14, Y4, Y5) \
	FMA6x16ROW(aoff+12, Y15, Y6, Y7) \
	FMA6x16ROW(aoff+16, Y14, Y8, Y9) \
	FMA6x16ROW(aoff+20, Y15, Y10, Y11)

// Two-register rows of C at DX (the second off bytes in), then DX += ldc:
// store, or C = acc + bt·C (bt holds beta).
#define STORE2(r0, r1, off) \
	VMOVUPS r0, (DX) \
	VMOVUPS r1, off(DX) \
	ADDQ    R8, DX

#define LOADSTORE2(bt, r0, r1, off) \
	VFMADD231PS (DX), bt, r0 \
	VFMADD231PS off(DX), bt, r1 \
	VMOVUPS     r0, (DX) \
	VMOVUPS     r1, off(DX) \
	ADDQ        R8, DX

TEXT ·sgemmKernelAVX2(SB), NOSPLIT, $0-104
	MOVQ kc+0(FP), CX
	MOVQ a_base+8(FP), SI
	MOVQ b_base+32(FP), DI
	MOVQ c_base+56(FP), DX
	MOVQ ldc+80(FP), R8
	SHLQ $2, R8

	ZERO4Y(Y0, Y1, Y2, Y3)
	ZERO4Y(Y4, Y5, Y6, Y7)
	ZERO4Y(Y8, Y9, Y10, Y11)

	CMPQ CX, $4
	JLT  avx2tail

avx2loop4:
	FMA6x16STEP(0, 0)
	FMA6x16STEP(24, 64)
	FMA6x16STEP(48, 128)
	FMA6x16STEP(72, 192)
	ADDQ $96, SI
	ADDQ $256, DI
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  avx2loop4

avx2tail:
	TESTQ CX, CX
	JZ    avx2store

avx2loop1:
	FMA6x16STEP(0, 0)
	ADDQ $24, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  avx2loop1

avx2store:
	MOVQ  load+96(FP), AX
	TESTQ AX, AX
	JNZ   avx2load
	STORE2(Y0, Y1, 32)
	STORE2(Y2, Y3, 32)
	STORE2(Y4, Y5, 32)
	STORE2(Y6, Y7, 32)
	STORE2(Y8, Y9, 32)
	STORE2(Y10, Y11, 32)
	VZEROUPPER
	RET

avx2load:
	VBROADCASTSS beta+88(FP), Y14
	LOADSTORE2(Y14, Y0, Y1, 32)
	LOADSTORE2(Y14, Y2, Y3, 32)
	LOADSTORE2(Y14, Y4, Y5, 32)
	LOADSTORE2(Y14, Y6, Y7, 32)
	LOADSTORE2(Y14, Y8, Y9, 32)
	LOADSTORE2(Y14, Y10, Y11, 32)
	VZEROUPPER
	RET

// AVX-512 8 x 48: accumulators Z0..Z23 (row r in Z(3r)..Z(3r+2)), B in
// Z24..Z26, broadcasts of A in Z27, Z28.
#define FMA8x48ROW(off, bc, r0, r1, r2) \
	VBROADCASTSS off(SI), bc \
	VFMADD231PS  Z24, bc, r0 \
	VFMADD231PS  Z25, bc, r1 \
	VFMADD231PS  Z26, bc, r2

#define FMA8x48STEP(aoff, boff) \
	VMOVUPS boff(DI), Z24 \
	VMOVUPS boff+64(DI), Z25 \
	VMOVUPS boff+128(DI), Z26 \
	FMA8x48ROW(aoff+0, Z27, Z0, Z1, Z2) \
	FMA8x48ROW(aoff+4, Z28, Z3, Z4, Z5) \
	FMA8x48ROW(aoff+8, Z27, Z6, Z7, Z8) \
	FMA8x48ROW(aoff+12, Z28, Z9, Z10, Z11) \
	FMA8x48ROW(aoff+16, Z27, Z12, Z13, Z14) \
	FMA8x48ROW(aoff+20, Z28, Z15, Z16, Z17) \
	FMA8x48ROW(aoff+24, Z27, Z18, Z19, Z20) \
	FMA8x48ROW(aoff+28, Z28, Z21, Z22, Z23)

#define STORE3Z(r0, r1, r2) \
	VMOVUPS r0, (DX) \
	VMOVUPS r1, 64(DX) \
	VMOVUPS r2, 128(DX) \
	ADDQ    R8, DX

#define LOADSTORE3Z(r0, r1, r2) \
	VFMADD231PS (DX), Z27, r0 \
	VFMADD231PS 64(DX), Z27, r1 \
	VFMADD231PS 128(DX), Z27, r2 \
	VMOVUPS     r0, (DX) \
	VMOVUPS     r1, 64(DX) \
	VMOVUPS     r2, 128(DX) \
	ADDQ        R8, DX

TEXT ·sgemmKernelAVX512(SB), NOSPLIT, $0-104
	MOVQ kc+0(FP), CX
	MOVQ a_base+8(FP), SI
	MOVQ b_base+32(FP), DI
	MOVQ c_base+56(FP), DX
	MOVQ ldc+80(FP), R8
	SHLQ $2, R8

	ZERO4Z(Z0, Z1, Z2, Z3)
	ZERO4Z(Z4, Z5, Z6, Z7)
	ZERO4Z(Z8, Z9, Z10, Z11)
	ZERO4Z(Z12, Z13, Z14, Z15)
	ZERO4Z(Z16, Z17, Z18, Z19)
	ZERO4Z(Z20, Z21, Z22, Z23)

	CMPQ CX, $4
	JLT  avx512tail

avx512loop4:
	FMA8x48STEP(0, 0)
	FMA8x48STEP(32, 192)
	FMA8x48STEP(64, 384)
	FMA8x48STEP(96, 576)
	ADDQ $128, SI
	ADDQ $768, DI
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  avx512loop4

avx512tail:
	TESTQ CX, CX
	JZ    avx512store

avx512loop1:
	FMA8x48STEP(0, 0)
	ADDQ $32, SI
	ADDQ $192, DI
	DECQ CX
	JNZ  avx512loop1

avx512store:
	MOVQ  load+96(FP), AX
	TESTQ AX, AX
	JNZ   avx512load
	STORE3Z(Z0, Z1, Z2)
	STORE3Z(Z3, Z4, Z5)
	STORE3Z(Z6, Z7, Z8)
	STORE3Z(Z9, Z10, Z11)
	STORE3Z(Z12, Z13, Z14)
	STORE3Z(Z15, Z16, Z17)
	STORE3Z(Z18, Z19, Z20)
	STORE3Z(Z21, Z22, Z23)
	VZEROUPPER
	RET

avx512load:
	VBROADCASTSS beta+88(FP), Z27
	LOADSTORE3Z(Z0, Z1, Z2)
	LOADSTORE3Z(Z3, Z4, Z5)
	LOADSTORE3Z(Z6, Z7, Z8)
	LOADSTORE3Z(Z9, Z10, Z11)
	LOADSTORE3Z(Z12, Z13, Z14)
	LOADSTORE3Z(Z15, Z16, Z17)
	LOADSTORE3Z(Z18, Z19, Z20)
	LOADSTORE3Z(Z21, Z22, Z23)
	VZEROUPPER
	RET

// GEMV kernels for one row of op(A) against an unpacked row-major B.
//
// func sgemvKernelAVX512(k int, x, b []float32, ldb int, y []float32)
// y[0:128] = Σ_p x[p]·b[p·ldb : p·ldb+128], k >= 1.
TEXT ·sgemvKernelAVX512(SB), NOSPLIT, $0-88
	MOVQ k+0(FP), CX
	MOVQ x_base+8(FP), SI
	MOVQ b_base+32(FP), DI
	MOVQ ldb+56(FP), R8
	SHLQ $2, R8
	MOVQ y_base+64(FP), DX
	ZERO4Z(Z0, Z1, Z2, Z3)
	ZERO4Z(Z4, Z5, Z6, Z7)

gemv512loop:
	VBROADCASTSS (SI), Z8
	VFMADD231PS  (DI), Z8, Z0
	VFMADD231PS  64(DI), Z8, Z1
	VFMADD231PS  128(DI), Z8, Z2
	VFMADD231PS  192(DI), Z8, Z3
	VFMADD231PS  256(DI), Z8, Z4
	VFMADD231PS  320(DI), Z8, Z5
	VFMADD231PS  384(DI), Z8, Z6
	VFMADD231PS  448(DI), Z8, Z7
	ADDQ         $4, SI
	ADDQ         R8, DI
	DECQ         CX
	JNZ          gemv512loop

	VMOVUPS Z0, (DX)
	VMOVUPS Z1, 64(DX)
	VMOVUPS Z2, 128(DX)
	VMOVUPS Z3, 192(DX)
	VMOVUPS Z4, 256(DX)
	VMOVUPS Z5, 320(DX)
	VMOVUPS Z6, 384(DX)
	VMOVUPS Z7, 448(DX)
	VZEROUPPER
	RET

// func sgemv16KernelAVX512(k int, x, b []float32, ldb int, y []float32)
// y[0:16] = Σ_p x[p]·b[p·ldb : p·ldb+16], k >= 1.
TEXT ·sgemv16KernelAVX512(SB), NOSPLIT, $0-88
	MOVQ   k+0(FP), CX
	MOVQ   x_base+8(FP), SI
	MOVQ   b_base+32(FP), DI
	MOVQ   ldb+56(FP), R8
	SHLQ   $2, R8
	MOVQ   y_base+64(FP), DX
	VPXORD Z0, Z0, Z0

gemv16loop:
	VBROADCASTSS (SI), Z8
	VFMADD231PS  (DI), Z8, Z0
	ADDQ         $4, SI
	ADDQ         R8, DI
	DECQ         CX
	JNZ          gemv16loop

	VMOVUPS Z0, (DX)
	VZEROUPPER
	RET

// func sdotKernelAVX512(k int, x, y []float32) float32
// Σ_p x[p]·y[p] over p < k, k a positive multiple of 64.
TEXT ·sdotKernelAVX512(SB), NOSPLIT, $0-60
	MOVQ   k+0(FP), CX
	MOVQ   x_base+8(FP), SI
	MOVQ   y_base+32(FP), DI
	SHRQ   $6, CX
	ZERO4Z(Z0, Z1, Z2, Z3)

dot512loop:
	VMOVUPS     (SI), Z4
	VMOVUPS     64(SI), Z5
	VMOVUPS     128(SI), Z6
	VMOVUPS     192(SI), Z7
	VFMADD231PS (DI), Z4, Z0
	VFMADD231PS 64(DI), Z5, Z1
	VFMADD231PS 128(DI), Z6, Z2
	VFMADD231PS 192(DI), Z7, Z3
	ADDQ        $256, SI
	ADDQ        $256, DI
	DECQ        CX
	JNZ         dot512loop

	VADDPS        Z1, Z0, Z0
	VADDPS        Z3, Z2, Z2
	VADDPS        Z2, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	VHADDPS       X0, X0, X0
	VHADDPS       X0, X0, X0
	VMOVSS        X0, ret+56(FP)
	VZEROUPPER
	RET

// func epilogueAVX512(dst, x, bias []float32, rb float32, act int, coef *[33]float32)
// dst[j] = act(x[j] + bias[j] + rb) for every j < len(x) (dst may be x;
// len(dst) >= len(x)), no bias when len(bias) is 0; act is an Activation,
// coef the epilogueCoef table. The last partial vector is loaded and
// stored under a mask, so every element takes the same instructions.
TEXT ·epilogueAVX512(SB), NOSPLIT, $0-96
	MOVQ         dst_base+0(FP), R11
	MOVQ         x_base+24(FP), DI
	MOVQ         x_len+32(FP), CX
	TESTQ        CX, CX
	JZ           epidone
	MOVQ         bias_base+48(FP), SI
	MOVQ         bias_len+56(FP), BX
	VBROADCASTSS rb+72(FP), Z30
	MOVQ         act+80(FP), AX
	MOVQ         coef+88(FP), R9
	VPXORD       Z31, Z31, Z31

epiloop:
	// K1 selects min(CX, 16) lanes.
	MOVL    $0xffff, R10
	CMPQ    CX, $16
	JAE     epimask
	MOVL    $1, R10
	SHLL    CX, R10
	DECL    R10

epimask:
	KMOVW   R10, K1
	VMOVUPS.Z (DI), K1, Z0
	TESTQ   BX, BX
	JZ      epiact
	VMOVUPS.Z (SI), K1, Z5
	VADDPS  Z5, Z0, Z0
	ADDQ    $64, SI

epiact:
	VADDPS Z30, Z0, Z0
	CMPQ AX, $1
	JEQ  epirelu
	CMPQ AX, $2
	JEQ  epigelu
	CMPQ AX, $3
	JEQ  epigelutanh
	JMP  epistore

epirelu:
	VMAXPS Z0, Z31, Z0
	JMP    epistore

epigelu:
	// z = clamp(x/√2, -4, 4); erf(z) = z·p(z²)/q(z²)
	VMULPS.BCST      0(R9), Z0, Z1
	VMINPS.BCST      4(R9), Z1, Z1
	VMAXPS.BCST      8(R9), Z1, Z1
	VMULPS           Z1, Z1, Z2
	VBROADCASTSS     12(R9), Z3
	VFMADD213PS.BCST 16(R9), Z2, Z3
	VFMADD213PS.BCST 20(R9), Z2, Z3
	VFMADD213PS.BCST 24(R9), Z2, Z3
	VFMADD213PS.BCST 28(R9), Z2, Z3
	VFMADD213PS.BCST 32(R9), Z2, Z3
	VFMADD213PS.BCST 36(R9), Z2, Z3
	VMULPS           Z1, Z3, Z3
	VBROADCASTSS     40(R9), Z4
	VFMADD213PS.BCST 44(R9), Z2, Z4
	VFMADD213PS.BCST 48(R9), Z2, Z4
	VFMADD213PS.BCST 52(R9), Z2, Z4
	VFMADD213PS.BCST 56(R9), Z2, Z4
	VDIVPS           Z4, Z3, Z3
	JMP              epihalf

epigelutanh:
	// u = clamp(x·(s + s·0.044715·x²), -9, 9); tanh(u) = u·p(u²)/q(u²)
	VMULPS           Z0, Z0, Z1
	VBROADCASTSS     68(R9), Z2
	VFMADD213PS.BCST 64(R9), Z1, Z2
	VMULPS           Z0, Z2, Z1
	VMINPS.BCST      72(R9), Z1, Z1
	VMAXPS.BCST      76(R9), Z1, Z1
	VMULPS           Z1, Z1, Z2
	VBROADCASTSS     80(R9), Z3
	VFMADD213PS.BCST 84(R9), Z2, Z3
	VFMADD213PS.BCST 88(R9), Z2, Z3
	VFMADD213PS.BCST 92(R9), Z2, Z3
	VFMADD213PS.BCST 96(R9), Z2, Z3
	VFMADD213PS.BCST 100(R9), Z2, Z3
	VFMADD213PS.BCST 104(R9), Z2, Z3
	VMULPS           Z1, Z3, Z3
	VBROADCASTSS     108(R9), Z4
	VFMADD213PS.BCST 112(R9), Z2, Z4
	VFMADD213PS.BCST 116(R9), Z2, Z4
	VFMADD213PS.BCST 120(R9), Z2, Z4
	VDIVPS           Z4, Z3, Z3
	VMINPS.BCST      124(R9), Z3, Z3
	VMAXPS.BCST      128(R9), Z3, Z3

epihalf:
	// x·(0.5 + 0.5·t)
	VBROADCASTSS 60(R9), Z4
	VFMADD213PS  Z4, Z4, Z3
	VMULPS       Z3, Z0, Z0

epistore:
	VMOVUPS Z0, K1, (R11)
	ADDQ    $64, DI
	ADDQ    $64, R11
	SUBQ    $16, CX
	JG      epiloop
	VZEROUPPER

epidone:
	RET

// func transpose8AVX(blocks int, src []float32, lds int, dst []float32, ldd int)
// dst[p·ldd + i] = src[i·lds + p] for i < 8, p < 8·blocks; blocks >= 1.
// Each 8 x 8 block is transposed in registers (unpack, shuffle, lane swap).
TEXT ·transpose8AVX(SB), NOSPLIT, $0-72
	MOVQ blocks+0(FP), CX
	MOVQ src_base+8(FP), SI
	MOVQ lds+32(FP), R8
	MOVQ dst_base+40(FP), DI
	MOVQ ldd+64(FP), R11
	SHLQ $2, R8
	SHLQ $2, R11
	LEAQ (R8)(R8*2), R9
	LEAQ (R11)(R11*2), R12

tr8loop:
	LEAQ    (SI)(R8*4), R10
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (SI)(R9*1), Y3
	VMOVUPS (R10), Y4
	VMOVUPS (R10)(R8*1), Y5
	VMOVUPS (R10)(R8*2), Y6
	VMOVUPS (R10)(R9*1), Y7

	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15

	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7

	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15

	LEAQ    (DI)(R11*4), R13
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, (DI)(R11*1)
	VMOVUPS Y10, (DI)(R11*2)
	VMOVUPS Y11, (DI)(R12*1)
	VMOVUPS Y12, (R13)
	VMOVUPS Y13, (R13)(R11*1)
	VMOVUPS Y14, (R13)(R11*2)
	VMOVUPS Y15, (R13)(R12*1)

	ADDQ $32, SI
	LEAQ (R13)(R11*4), DI
	DECQ CX
	JNZ  tr8loop
	VZEROUPPER
	RET

// func sgemvKernelAVX2(k int, x, b []float32, ldb int, y []float32)
// y[0:64] = Σ_p x[p]·b[p·ldb : p·ldb+64], k >= 1.
TEXT ·sgemvKernelAVX2(SB), NOSPLIT, $0-88
	MOVQ   k+0(FP), CX
	MOVQ   x_base+8(FP), SI
	MOVQ   b_base+32(FP), DI
	MOVQ   ldb+56(FP), R8
	SHLQ   $2, R8
	MOVQ   y_base+64(FP), DX
	ZERO4Y(Y0, Y1, Y2, Y3)
	ZERO4Y(Y4, Y5, Y6, Y7)

gemv2loop:
	VBROADCASTSS (SI), Y8
	VFMADD231PS  (DI), Y8, Y0
	VFMADD231PS  32(DI), Y8, Y1
	VFMADD231PS  64(DI), Y8, Y2
	VFMADD231PS  96(DI), Y8, Y3
	VFMADD231PS  128(DI), Y8, Y4
	VFMADD231PS  160(DI), Y8, Y5
	VFMADD231PS  192(DI), Y8, Y6
	VFMADD231PS  224(DI), Y8, Y7
	ADDQ         $4, SI
	ADDQ         R8, DI
	DECQ         CX
	JNZ          gemv2loop

	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	VMOVUPS Y3, 96(DX)
	VMOVUPS Y4, 128(DX)
	VMOVUPS Y5, 160(DX)
	VMOVUPS Y6, 192(DX)
	VMOVUPS Y7, 224(DX)
	VZEROUPPER
	RET

// func sgemv16KernelAVX2(k int, x, b []float32, ldb int, y []float32)
// y[0:16] = Σ_p x[p]·b[p·ldb : p·ldb+16], k >= 1.
TEXT ·sgemv16KernelAVX2(SB), NOSPLIT, $0-88
	MOVQ   k+0(FP), CX
	MOVQ   x_base+8(FP), SI
	MOVQ   b_base+32(FP), DI
	MOVQ   ldb+56(FP), R8
	SHLQ   $2, R8
	MOVQ   y_base+64(FP), DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

gemv2x16loop:
	VBROADCASTSS (SI), Y8
	VFMADD231PS  (DI), Y8, Y0
	VFMADD231PS  32(DI), Y8, Y1
	ADDQ         $4, SI
	ADDQ         R8, DI
	DECQ         CX
	JNZ          gemv2x16loop

	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VZEROUPPER
	RET

// func sdotKernelAVX2(k int, x, y []float32) float32
// Σ_p x[p]·y[p] over p < k, k a positive multiple of 64.
TEXT ·sdotKernelAVX2(SB), NOSPLIT, $0-60
	MOVQ   k+0(FP), CX
	MOVQ   x_base+8(FP), SI
	MOVQ   y_base+32(FP), DI
	SHRQ   $5, CX
	ZERO4Y(Y0, Y1, Y2, Y3)

dot2loop:
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $128, DI
	DECQ        CX
	JNZ         dot2loop

	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VMOVSS       X0, ret+56(FP)
	VZEROUPPER
	RET

// func packB48AVX512(kc, panels int, src []float32, ldb int, dst []float32)
// dst[q·kc·48 + p·48 + j] = src[p·ldb + q·48 + j] for p < kc, q < panels,
// j < 48: kc rows of B into 48-column panels, reading each row in order.
// kc, panels >= 1.
TEXT ·packB48AVX512(SB), NOSPLIT, $0-72
	MOVQ  kc+0(FP), CX
	MOVQ  panels+8(FP), BX
	MOVQ  src_base+16(FP), SI
	MOVQ  ldb+40(FP), R8
	SHLQ  $2, R8
	MOVQ  dst_base+48(FP), DI
	IMUL3Q $192, CX, R9

packrow:
	MOVQ SI, R10
	MOVQ DI, R11
	MOVQ BX, DX

packpanel:
	VMOVUPS (R10), Z0
	VMOVUPS 64(R10), Z1
	VMOVUPS 128(R10), Z2
	VMOVUPS Z0, (R11)
	VMOVUPS Z1, 64(R11)
	VMOVUPS Z2, 128(R11)
	ADDQ    $192, R10
	ADDQ    R9, R11
	DECQ    DX
	JNZ     packpanel

	ADDQ R8, SI
	ADDQ $192, DI
	DECQ CX
	JNZ  packrow
	VZEROUPPER
	RET

// Narrow AVX-512 kernels for the last, partial column panel: 8 x 16 and
// 8 x 32 tiles computed from the same packed 48-column B panels (B advances
// 192 bytes per k step), so a 64-column product does not compute 96.
//
// func sgemmKernelAVX512x16(kc int, a, b, c []float32, ldc int, beta float32, load int)
// func sgemmKernelAVX512x32(kc int, a, b, c []float32, ldc int, beta float32, load int)
#define FMA8x16ROW(off, bc, r0) \
	VBROADCASTSS off(SI), bc \
	VFMADD231PS  Z24, bc, r0

#define STORE1Z(r) \
	VMOVUPS r, (DX) \
	ADDQ    R8, DX

#define LOADSTORE1Z(r) \
	VFMADD231PS (DX), Z27, r \
	VMOVUPS     r, (DX) \
	ADDQ        R8, DX

#define FMA8x32ROW(off, bc, r0, r1) \
	VBROADCASTSS off(SI), bc \
	VFMADD231PS  Z24, bc, r0 \
	VFMADD231PS  Z25, bc, r1

TEXT ·sgemmKernelAVX512x16(SB), NOSPLIT, $0-104
	MOVQ kc+0(FP), CX
	MOVQ a_base+8(FP), SI
	MOVQ b_base+32(FP), DI
	MOVQ c_base+56(FP), DX
	MOVQ ldc+80(FP), R8
	SHLQ $2, R8
	ZERO4Z(Z0, Z1, Z2, Z3)
	ZERO4Z(Z4, Z5, Z6, Z7)

x16loop:
	VMOVUPS (DI), Z24
	FMA8x16ROW(0, Z27, Z0)
	FMA8x16ROW(4, Z28, Z1)
	FMA8x16ROW(8, Z27, Z2)
	FMA8x16ROW(12, Z28, Z3)
	FMA8x16ROW(16, Z27, Z4)
	FMA8x16ROW(20, Z28, Z5)
	FMA8x16ROW(24, Z27, Z6)
	FMA8x16ROW(28, Z28, Z7)
	ADDQ $32, SI
	ADDQ $192, DI
	DECQ CX
	JNZ  x16loop

	MOVQ  load+96(FP), AX
	TESTQ AX, AX
	JNZ   x16load
	STORE1Z(Z0)
	STORE1Z(Z1)
	STORE1Z(Z2)
	STORE1Z(Z3)
	STORE1Z(Z4)
	STORE1Z(Z5)
	STORE1Z(Z6)
	STORE1Z(Z7)
	VZEROUPPER
	RET

x16load:
	VBROADCASTSS beta+88(FP), Z27
	LOADSTORE1Z(Z0)
	LOADSTORE1Z(Z1)
	LOADSTORE1Z(Z2)
	LOADSTORE1Z(Z3)
	LOADSTORE1Z(Z4)
	LOADSTORE1Z(Z5)
	LOADSTORE1Z(Z6)
	LOADSTORE1Z(Z7)
	VZEROUPPER
	RET

TEXT ·sgemmKernelAVX512x32(SB), NOSPLIT, $0-104
	MOVQ kc+0(FP), CX
	MOVQ a_base+8(FP), SI
	MOVQ b_base+32(FP), DI
	MOVQ c_base+56(FP), DX
	MOVQ ldc+80(FP), R8
	SHLQ $2, R8
	ZERO4Z(Z0, Z1, Z2, Z3)
	ZERO4Z(Z4, Z5, Z6, Z7)
	ZERO4Z(Z8, Z9, Z10, Z11)
	ZERO4Z(Z12, Z13, Z14, Z15)

x32loop:
	VMOVUPS (DI), Z24
	VMOVUPS 64(DI), Z25
	FMA8x32ROW(0, Z27, Z0, Z1)
	FMA8x32ROW(4, Z28, Z2, Z3)
	FMA8x32ROW(8, Z27, Z4, Z5)
	FMA8x32ROW(12, Z28, Z6, Z7)
	FMA8x32ROW(16, Z27, Z8, Z9)
	FMA8x32ROW(20, Z28, Z10, Z11)
	FMA8x32ROW(24, Z27, Z12, Z13)
	FMA8x32ROW(28, Z28, Z14, Z15)
	ADDQ $32, SI
	ADDQ $192, DI
	DECQ CX
	JNZ  x32loop

	MOVQ  load+96(FP), AX
	TESTQ AX, AX
	JNZ   x32load
	STORE2(Z0, Z1, 64)
	STORE2(Z2, Z3, 64)
	STORE2(Z4, Z5, 64)
	STORE2(Z6, Z7, 64)
	STORE2(Z8, Z9, 64)
	STORE2(Z10, Z11, 64)
	STORE2(Z12, Z13, 64)
	STORE2(Z14, Z15, 64)
	VZEROUPPER
	RET

x32load:
	VBROADCASTSS beta+88(FP), Z27
	LOADSTORE2(Z27, Z0, Z1, 64)
	LOADSTORE2(Z27, Z2, Z3, 64)
	LOADSTORE2(Z27, Z4, Z5, 64)
	LOADSTORE2(Z27, Z6, Z7, 64)
	LOADSTORE2(Z27, Z8, Z9, 64)
	LOADSTORE2(Z27, Z10, Z11, 64)
	LOADSTORE2(Z27, Z12, Z13, 64)
	LOADSTORE2(Z27, Z14, Z15, 64)
	VZEROUPPER
	RET
