package tensor

import "math"

// Float16FromFloat32 rounds f to the nearest half-precision value (ties to even).
func Float16FromFloat32(f float32) Float16Bits {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	man := b & 0x7fffff
	switch {
	case exp == 0xff: // Inf or NaN
		if man != 0 {
			return Float16Bits(sign | 0x7e00 | uint16(man>>13))
		}
		return Float16Bits(sign | 0x7c00)
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return Float16Bits(sign | 0x7c00)
	}
	if e <= 0 {
		if e < -10 {
			return Float16Bits(sign)
		}
		man |= 0x800000
		shift := uint32(14 - e)
		half := uint32(1) << (shift - 1)
		rest := man & ((1 << shift) - 1)
		r := man >> shift
		if rest > half || (rest == half && r&1 == 1) {
			r++
		}
		return Float16Bits(sign | uint16(r))
	}
	r := uint32(e)<<10 | man>>13
	rest := man & 0x1fff
	if rest > 0x1000 || (rest == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, which is the correct rounding
	}
	return Float16Bits(sign | uint16(r))
}

// Float32 widens h exactly.
func (h Float16Bits) Float32() float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp == 0:
		if man == 0 {
			return math.Float32frombits(sign)
		}
		f := float32(man) / 1024 / 16384 // man * 2^-24
		if sign != 0 {
			return -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
}

// BFloat16FromFloat32 rounds f to the nearest bfloat16 (ties to even); NaN stays NaN.
func BFloat16FromFloat32(f float32) BFloat16Bits {
	b := math.Float32bits(f)
	if f != f {
		return BFloat16Bits(b>>16 | 0x40)
	}
	r := b + 0x7fff + (b>>16)&1
	return BFloat16Bits(r >> 16)
}

// Float32 widens b exactly.
func (b BFloat16Bits) Float32() float32 { return math.Float32frombits(uint32(b) << 16) }
