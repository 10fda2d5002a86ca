package tokenizer

import "unicode"

// Extended grapheme clusters (Unicode UAX #29), as far as the Precompiled
// normalizer needs them: it maps clusters shorter than 6 bytes whole, so
// what matters is which marks, joiners and prepended characters attach to
// one- and two-byte characters. The rules for Hangul syllables, regional
// indicator pairs and emoji ZWJ sequences are followed too; Indic conjunct
// clusters (GB9c) are not, as they only join characters of 3 bytes or more.

type gcbClass uint8

const (
	gcbOther gcbClass = iota
	gcbCR
	gcbLF
	gcbControl
	gcbExtend
	gcbZWJ
	gcbRI
	gcbPrepend
	gcbSpacingMark
	gcbL
	gcbV
	gcbT
	gcbLV
	gcbLVT
)

// prepend holds the Prepend characters (prepended concatenation marks and
// characters preceding a repha).
var prepend = &unicode.RangeTable{
	R16: []unicode.Range16{{0x0600, 0x0605, 1}, {0x06DD, 0x06DD, 1}, {0x070F, 0x070F, 1}, {0x0890, 0x0891, 1},
		{0x08E2, 0x08E2, 1}, {0x0D4E, 0x0D4E, 1}},
	R32: []unicode.Range32{{0x110BD, 0x110BD, 1}, {0x110CD, 0x110CD, 1}, {0x111C2, 0x111C3, 1}, {0x1193F, 0x1193F, 1},
		{0x11941, 0x11941, 1}, {0x11A3A, 0x11A3A, 1}, {0x11A84, 0x11A89, 1}, {0x11D46, 0x11D46, 1}, {0x11F02, 0x11F02, 1}},
}

// notSpacingMark holds the Mc characters that are not SpacingMark.
var notSpacingMark = &unicode.RangeTable{
	R16: []unicode.Range16{{0x102B, 0x102C, 1}, {0x1038, 0x1038, 1}, {0x1062, 0x1064, 1}, {0x1067, 0x106D, 1},
		{0x1083, 0x1083, 1}, {0x1087, 0x108C, 1}, {0x108F, 0x108F, 1}, {0x109A, 0x109C, 1}, {0x1A61, 0x1A61, 1},
		{0x1A63, 0x1A64, 1}, {0xAA7B, 0xAA7B, 1}, {0xAA7D, 0xAA7D, 1}},
	R32: []unicode.Range32{{0x11720, 0x11721, 1}},
}

// extPict approximates Extended_Pictographic: the emoji blocks and the
// older symbols emoji use.
var extPict = &unicode.RangeTable{
	R16: []unicode.Range16{{0x00A9, 0x00A9, 1}, {0x00AE, 0x00AE, 1}, {0x203C, 0x203C, 1}, {0x2049, 0x2049, 1},
		{0x2122, 0x2122, 1}, {0x2139, 0x2139, 1}, {0x2194, 0x2199, 1}, {0x21A9, 0x21AA, 1}, {0x231A, 0x231B, 1},
		{0x2328, 0x2328, 1}, {0x2388, 0x2388, 1}, {0x23CF, 0x23CF, 1}, {0x23E9, 0x23F3, 1}, {0x23F8, 0x23FA, 1},
		{0x24C2, 0x24C2, 1}, {0x25AA, 0x25AB, 1}, {0x25B6, 0x25B6, 1}, {0x25C0, 0x25C0, 1}, {0x25FB, 0x25FE, 1},
		{0x2600, 0x2605, 1}, {0x2607, 0x2612, 1}, {0x2614, 0x2685, 1}, {0x2690, 0x2705, 1}, {0x2708, 0x2712, 1},
		{0x2714, 0x2714, 1}, {0x2716, 0x2716, 1}, {0x271D, 0x271D, 1}, {0x2721, 0x2721, 1}, {0x2728, 0x2728, 1},
		{0x2733, 0x2734, 1}, {0x2744, 0x2744, 1}, {0x2747, 0x2747, 1}, {0x274C, 0x274C, 1}, {0x274E, 0x274E, 1},
		{0x2753, 0x2755, 1}, {0x2757, 0x2757, 1}, {0x2763, 0x2767, 1}, {0x2795, 0x2797, 1}, {0x27A1, 0x27A1, 1},
		{0x27B0, 0x27B0, 1}, {0x27BF, 0x27BF, 1}, {0x2934, 0x2935, 1}, {0x2B05, 0x2B07, 1}, {0x2B1B, 0x2B1C, 1},
		{0x2B50, 0x2B50, 1}, {0x2B55, 0x2B55, 1}, {0x3030, 0x3030, 1}, {0x303D, 0x303D, 1}, {0x3297, 0x3297, 1},
		{0x3299, 0x3299, 1}},
	R32: []unicode.Range32{{0x1F000, 0x1F0FF, 1}, {0x1F10D, 0x1F10F, 1}, {0x1F12F, 0x1F12F, 1}, {0x1F16C, 0x1F171, 1},
		{0x1F17E, 0x1F17F, 1}, {0x1F18E, 0x1F18E, 1}, {0x1F191, 0x1F19A, 1}, {0x1F1AD, 0x1F1E5, 1}, {0x1F201, 0x1F20F, 1},
		{0x1F21A, 0x1F21A, 1}, {0x1F22F, 0x1F22F, 1}, {0x1F232, 0x1F23A, 1}, {0x1F23C, 0x1F23F, 1}, {0x1F249, 0x1F3FA, 1},
		{0x1F400, 0x1F53D, 1}, {0x1F546, 0x1F64F, 1}, {0x1F680, 0x1F6FF, 1}, {0x1F774, 0x1F77F, 1}, {0x1F7D5, 0x1F7FF, 1},
		{0x1F80C, 0x1F80F, 1}, {0x1F848, 0x1F84F, 1}, {0x1F85A, 0x1F85F, 1}, {0x1F888, 0x1F88F, 1}, {0x1F8AE, 0x1F8FF, 1},
		{0x1F90C, 0x1F93A, 1}, {0x1F93C, 0x1F945, 1}, {0x1F947, 0x1FAFF, 1}, {0x1FC00, 0x1FFFD, 1}},
}

func graphemeClass(r rune) gcbClass {
	switch {
	case r == '\r':
		return gcbCR
	case r == '\n':
		return gcbLF
	case r == 0x200D:
		return gcbZWJ
	case r < 0x20 || r == 0x7F:
		return gcbControl
	case r < 0x300 && r != 0xAD && !(r >= 0x80 && r < 0xA0):
		return gcbOther
	case r >= 0x1F1E6 && r <= 0x1F1FF:
		return gcbRI
	case r >= 0x1F3FB && r <= 0x1F3FF, r == 0x200C:
		return gcbExtend
	case r >= 0x1100 && r <= 0x115F, r >= 0xA960 && r <= 0xA97C:
		return gcbL
	case r >= 0x1160 && r <= 0x11A7, r >= 0xD7B0 && r <= 0xD7C6:
		return gcbV
	case r >= 0x11A8 && r <= 0x11FF, r >= 0xD7CB && r <= 0xD7FB:
		return gcbT
	case r >= 0xAC00 && r <= 0xD7A3:
		if (r-0xAC00)%28 == 0 {
			return gcbLV
		}
		return gcbLVT
	case unicode.Is(prepend, r):
		return gcbPrepend
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Other_Grapheme_Extend):
		return gcbExtend
	case r == 0x0E33 || r == 0x0EB3:
		return gcbSpacingMark
	case unicode.Is(unicode.Mc, r) && !unicode.Is(notSpacingMark, r):
		return gcbSpacingMark
	case unicode.In(r, unicode.Cc, unicode.Zl, unicode.Zp, unicode.Cf):
		return gcbControl
	}
	return gcbOther
}

// graphemeEnd returns the end of the extended grapheme cluster of rs that
// starts at i.
func graphemeEnd(rs []rune, i int) int {
	prev := graphemeClass(rs[i])
	pict := prev == gcbOther && unicode.Is(extPict, rs[i]) // ExtPict Extend* so far
	pictZWJ := false                                       // ... followed by ZWJ
	ri := 0                                                // regional indicators in a row
	if prev == gcbRI {
		ri = 1
	}
	j := i + 1
	for ; j < len(rs); j++ {
		cur := graphemeClass(rs[j])
		if !joins(prev, cur, pictZWJ && unicode.Is(extPict, rs[j]), ri) {
			break
		}
		switch {
		case cur == gcbExtend && pict:
		case cur == gcbZWJ && pict:
			pictZWJ = true
		case cur == gcbOther && pictZWJ:
			pictZWJ = false // ExtPict ZWJ ExtPict: the chain may go on
		default:
			pict, pictZWJ = false, false
		}
		if cur == gcbRI {
			ri++
		}
		prev = cur
	}
	return j
}

// joins reports whether no boundary falls between characters of classes a
// and b (rules GB3 to GB13).
func joins(a, b gcbClass, emojiChain bool, ri int) bool {
	switch {
	case a == gcbCR && b == gcbLF:
		return true
	case a == gcbCR || a == gcbLF || a == gcbControl, b == gcbCR || b == gcbLF || b == gcbControl:
		return false
	case a == gcbL && (b == gcbL || b == gcbV || b == gcbLV || b == gcbLVT),
		(a == gcbLV || a == gcbV) && (b == gcbV || b == gcbT),
		(a == gcbLVT || a == gcbT) && b == gcbT:
		return true
	case b == gcbExtend || b == gcbZWJ || b == gcbSpacingMark || a == gcbPrepend:
		return true
	case a == gcbZWJ && emojiChain:
		return true
	case a == gcbRI && b == gcbRI:
		return ri%2 == 1
	}
	return false
}
