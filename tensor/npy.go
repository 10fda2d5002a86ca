package tensor

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

// NumPy .npy files: a magic string, a format version, a header (a Python dict
// literal giving dtype, memory order and shape) and the raw elements.
// https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html

const (
	npyMagic = "\x93NUMPY"
	// npyMaxHeader bounds the header length a file may claim; numpy itself
	// refuses headers over 10000 bytes by default.
	npyMaxHeader = 1 << 20
	// npyMaxStringWidth bounds the width of a 'U'/'S' dtype, so one element
	// cannot claim gigabytes.
	npyMaxStringWidth = 1 << 24
	// npyMaxRank is numpy's limit on dimensions (NPY_MAXDIMS).
	npyMaxRank = 64
)

// ErrNPY is wrapped by every error about a malformed or unsupported .npy file.
var ErrNPY = errors.New("npy")

func npyErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrNPY}, args...)...)
}

// npyDescr is a decoded dtype descriptor such as '<f4' or '>U7'.
type npyDescr struct {
	dtype    DType
	order    binary.ByteOrder
	kind     byte // 'f', 'i', 'u', 'b', 'c', 'U', 'S'
	itemsize int  // bytes per element in the file
}

// ReadNPY reads one array in NumPy's .npy format (versions 1.0, 2.0 and 3.0).
// Supported dtypes: float16/32/64 (f2 f4 f8), signed and unsigned integers of
// 1 to 8 bytes, bool (b1), complex64/128 (c8 c16), and fixed-width strings
// (U unicode and S bytes, read as string tensors with trailing NULs removed),
// in either byte order. Fortran-ordered arrays are transposed to row-major.
//
// The file is untrusted: the header's shape is checked against the bytes
// actually present before the tensor is allocated, so a header claiming 10^12
// elements followed by 10 bytes is an error, not an allocation. Object arrays
// (pickles) and structured dtypes are rejected.
func ReadNPY(r io.Reader) (*Tensor, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, npyErrorf("reading magic: %v (not a .npy file?)", err)
	}
	if string(pre[:6]) != npyMagic {
		return nil, npyErrorf("bad magic %q; not a .npy file", pre[:6])
	}
	major, minor := pre[6], pre[7]
	var hlen int
	switch major {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, npyErrorf("reading header length: %v", err)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, npyErrorf("reading header length: %v", err)
		}
		n := binary.LittleEndian.Uint32(b[:])
		if n > npyMaxHeader {
			return nil, npyErrorf("header of %d bytes exceeds the %d-byte limit", n, npyMaxHeader)
		}
		hlen = int(n)
	default:
		return nil, npyErrorf("format version %d.%d not supported (want 1.0, 2.0 or 3.0)", major, minor)
	}
	header, err := io.ReadAll(io.LimitReader(r, int64(hlen)))
	if err != nil {
		return nil, npyErrorf("reading header: %v", err)
	}
	if len(header) < hlen {
		return nil, npyErrorf("header truncated: %d of %d bytes present", len(header), hlen)
	}
	if major < 3 {
		// Versions 1 and 2 use latin-1; every valid header is ASCII.
		for _, c := range header {
			if c >= 0x80 {
				return nil, npyErrorf("non-ASCII byte 0x%02x in a version %d header", c, major)
			}
		}
	} else if !utf8.Valid(header) {
		return nil, npyErrorf("version 3 header is not valid UTF-8")
	}
	descr, fortran, shape, err := parseNPYHeader(string(header))
	if err != nil {
		return nil, err
	}
	count, err := NumElements(shape)
	if err != nil {
		return nil, npyErrorf("shape %v: %v", shape, err)
	}
	if count > 0 && descr.itemsize > math.MaxInt64/count {
		return nil, npyErrorf("shape %v of %d-byte elements overflows", shape, descr.itemsize)
	}
	need := int64(count) * int64(descr.itemsize)
	// ReadAll grows its buffer only as bytes arrive, so what is allocated is
	// bounded by what is present, not by what the header claims.
	data, err := io.ReadAll(io.LimitReader(r, need))
	if err != nil {
		return nil, npyErrorf("reading data: %v", err)
	}
	if int64(len(data)) < need {
		return nil, npyErrorf("data truncated: shape %v of %s needs %d bytes, %d present",
			shape, descr.dtype, need, len(data))
	}
	if fortran && len(shape) > 1 {
		data = npyFortranToC(data, shape, descr.itemsize)
	}
	t, err := New(descr.dtype, shape...)
	if err != nil {
		return nil, npyErrorf("%v", err)
	}
	if err := decodeNPY(t, data, descr); err != nil {
		return nil, err
	}
	return t, nil
}

// decodeNPY fills t (of descr's dtype) from the file's element bytes.
func decodeNPY(t *Tensor, data []byte, d npyDescr) error {
	switch x := t.data.(type) {
	case []Float16Bits:
		for i := range x {
			x[i] = Float16Bits(d.order.Uint16(data[2*i:]))
		}
	case []string:
		w := d.itemsize
		for i := range x {
			item := data[i*w : (i+1)*w]
			if d.kind == 'S' {
				x[i] = string(bytes.TrimRight(item, "\x00"))
				continue
			}
			x[i] = npyDecodeUTF32(item, d.order)
		}
	default:
		// Fixed-size numeric, bool and complex slices.
		if _, err := binary.Decode(data, d.order, t.data); err != nil {
			return npyErrorf("decoding %s data: %v", d.dtype, err)
		}
	}
	return nil
}

// npyDecodeUTF32 decodes one fixed-width numpy unicode element, dropping the
// trailing NUL padding. Invalid code points become U+FFFD.
func npyDecodeUTF32(item []byte, order binary.ByteOrder) string {
	n := len(item) / 4
	for n > 0 && order.Uint32(item[4*(n-1):]) == 0 {
		n--
	}
	var b strings.Builder
	b.Grow(n)
	for i := 0; i < n; i++ {
		c := order.Uint32(item[4*i:])
		if c > utf8.MaxRune {
			c = utf8.RuneError
		}
		b.WriteRune(rune(c))
	}
	return b.String()
}

// npyFortranToC reorders column-major elements (each size bytes) into row-major
// order for the given shape.
func npyFortranToC(data []byte, shape []int, size int) []byte {
	out := make([]byte, len(data))
	if len(out) == 0 {
		return out
	}
	rank := len(shape)
	// fstride[k] is the column-major stride of axis k, in elements.
	fstride := make([]int, rank)
	s := 1
	for k := 0; k < rank; k++ {
		fstride[k] = s
		s *= shape[k]
	}
	idx := make([]int, rank)
	src := 0
	for dst := 0; dst < len(out); dst += size {
		copy(out[dst:dst+size], data[src*size:(src+1)*size])
		// Advance the row-major odometer, tracking the column-major offset.
		for k := rank - 1; k >= 0; k-- {
			idx[k]++
			src += fstride[k]
			if idx[k] < shape[k] {
				break
			}
			src -= idx[k] * fstride[k]
			idx[k] = 0
		}
	}
	return out
}

// parseNPYHeader parses the header dict, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }.
func parseNPYHeader(h string) (d npyDescr, fortran bool, shape []int, err error) {
	p := &npyLit{s: h}
	seen := map[string]bool{}
	p.space()
	if !p.eat('{') {
		return d, false, nil, npyErrorf("header does not start with '{': %q", npyClip(h))
	}
	for {
		p.space()
		if p.eat('}') {
			break
		}
		key, err := p.str()
		if err != nil {
			return d, false, nil, npyErrorf("header key: %v in %q", err, npyClip(h))
		}
		p.space()
		if !p.eat(':') {
			return d, false, nil, npyErrorf("header: missing ':' after %q", key)
		}
		p.space()
		if seen[key] {
			return d, false, nil, npyErrorf("header: key %q given twice", key)
		}
		seen[key] = true
		switch key {
		case "descr":
			if p.peek() == '[' {
				return d, false, nil, npyErrorf("structured dtypes are not supported; save each field as its own array")
			}
			s, err := p.str()
			if err != nil {
				return d, false, nil, npyErrorf("descr: %v", err)
			}
			if d, err = parseNPYDescr(s); err != nil {
				return d, false, nil, err
			}
		case "fortran_order":
			switch {
			case p.word("True"):
				fortran = true
			case p.word("False"):
				fortran = false
			default:
				return d, false, nil, npyErrorf("fortran_order is not True or False in %q", npyClip(h))
			}
		case "shape":
			if shape, err = p.intTuple(); err != nil {
				return d, false, nil, npyErrorf("shape: %v in %q", err, npyClip(h))
			}
		default:
			return d, false, nil, npyErrorf("unexpected header key %q", key)
		}
		p.space()
		if p.eat('}') {
			break
		}
		if !p.eat(',') {
			return d, false, nil, npyErrorf("header: expected ',' or '}' at offset %d of %q", p.i, npyClip(h))
		}
	}
	p.space()
	if p.i != len(p.s) {
		return d, false, nil, npyErrorf("trailing bytes after the header dict")
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return d, false, nil, npyErrorf("header lacks %q", k)
		}
	}
	return d, fortran, shape, nil
}

func npyClip(s string) string {
	if len(s) > 100 {
		return s[:97] + "..."
	}
	return s
}

// parseNPYDescr decodes a dtype string like '<f4', '|b1', '>i8' or '<U12'.
func parseNPYDescr(s string) (npyDescr, error) {
	d := npyDescr{order: binary.LittleEndian}
	rest := s
	if rest != "" {
		switch rest[0] {
		case '<', '|', '=':
			rest = rest[1:]
		case '>':
			d.order = binary.BigEndian
			rest = rest[1:]
		}
	}
	if strings.HasPrefix(rest, "O") {
		return d, npyErrorf("object arrays (dtype %q) are pickles and are not read; save a numeric or string array", s)
	}
	if len(rest) < 2 {
		return d, npyErrorf("dtype %q not supported", s)
	}
	d.kind = rest[0]
	n, err := strconv.Atoi(rest[1:])
	if err != nil || n <= 0 {
		return d, npyErrorf("dtype %q not supported", s)
	}
	d.itemsize = n
	switch {
	case d.kind == 'f' && n == 2:
		d.dtype = Float16
	case d.kind == 'f' && n == 4:
		d.dtype = Float32
	case d.kind == 'f' && n == 8:
		d.dtype = Float64
	case d.kind == 'i' && n == 1:
		d.dtype = Int8
	case d.kind == 'i' && n == 2:
		d.dtype = Int16
	case d.kind == 'i' && n == 4:
		d.dtype = Int32
	case d.kind == 'i' && n == 8:
		d.dtype = Int64
	case d.kind == 'u' && n == 1:
		d.dtype = Uint8
	case d.kind == 'u' && n == 2:
		d.dtype = Uint16
	case d.kind == 'u' && n == 4:
		d.dtype = Uint32
	case d.kind == 'u' && n == 8:
		d.dtype = Uint64
	case d.kind == 'b' && n == 1:
		d.dtype = Bool
	case d.kind == 'c' && n == 8:
		d.dtype = Complex64
	case d.kind == 'c' && n == 16:
		d.dtype = Complex128
	case d.kind == 'U' && n <= npyMaxStringWidth:
		d.dtype = String
		d.itemsize = 4 * n
	case (d.kind == 'S' || d.kind == 'a') && n <= npyMaxStringWidth:
		d.kind = 'S'
		d.dtype = String
	default:
		return d, npyErrorf("dtype %q not supported (want f2 f4 f8, i1-i8, u1-u8, b1, c8 c16, U or S)", s)
	}
	return d, nil
}

// npyLit scans the small subset of Python literal syntax .npy headers use.
type npyLit struct {
	s string
	i int
}

func (p *npyLit) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *npyLit) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *npyLit) eat(c byte) bool {
	if p.peek() == c {
		p.i++
		return true
	}
	return false
}

func (p *npyLit) word(w string) bool {
	if strings.HasPrefix(p.s[p.i:], w) {
		p.i += len(w)
		return true
	}
	return false
}

// str reads a quoted string without escapes (none occur in valid headers).
func (p *npyLit) str() (string, error) {
	q := p.peek()
	if q != '\'' && q != '"' {
		return "", fmt.Errorf("expected a quoted string at offset %d", p.i)
	}
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", fmt.Errorf("unterminated string at offset %d", p.i)
	}
	s := p.s[p.i+1 : p.i+1+end]
	if strings.ContainsRune(s, '\\') {
		return "", fmt.Errorf("escapes in string %q not supported", s)
	}
	p.i += end + 2
	return s, nil
}

// intTuple reads (), (3,), (2, 3) or (2L, 3L) as written by Python 2.
func (p *npyLit) intTuple() ([]int, error) {
	if !p.eat('(') {
		return nil, fmt.Errorf("expected '(' at offset %d", p.i)
	}
	shape := []int{}
	for {
		p.space()
		if p.eat(')') {
			return shape, nil
		}
		start := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		if start == p.i {
			return nil, fmt.Errorf("expected a non-negative integer at offset %d", p.i)
		}
		v, err := strconv.ParseInt(p.s[start:p.i], 10, 64)
		if err != nil || v > MaxElements {
			return nil, fmt.Errorf("dimension %s too large", p.s[start:p.i])
		}
		shape = append(shape, int(v))
		if len(shape) > npyMaxRank {
			return nil, fmt.Errorf("more than %d dimensions", npyMaxRank)
		}
		p.eat('L')
		p.space()
		if p.eat(')') {
			return shape, nil
		}
		if !p.eat(',') {
			return nil, fmt.Errorf("expected ',' or ')' at offset %d", p.i)
		}
	}
}

// WriteNPY writes t in NumPy's .npy format: version 1.0, little-endian,
// row-major, byte for byte what numpy.save writes for the same array. Strings are written as numpy unicode
// ('<U' of the longest string's length in code points). bfloat16, float8 and
// the sub-byte types have no numpy dtype: WriteNPY fails on them, and the
// caller should Cast to float32 (or a wider integer) first.
func WriteNPY(w io.Writer, t *Tensor) error {
	descr, width, err := npyDescrOf(t)
	if err != nil {
		return err
	}
	if t.Rank() > npyMaxRank {
		return npyErrorf("rank %d exceeds the %d dimensions numpy arrays can have", t.Rank(), npyMaxRank)
	}
	var shape strings.Builder
	shape.WriteByte('(')
	for i, d := range t.shape {
		if i > 0 {
			shape.WriteString(", ")
		}
		shape.WriteString(strconv.Itoa(d))
	}
	if len(t.shape) == 1 {
		shape.WriteByte(',')
	}
	shape.WriteByte(')')
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape.String())
	// Pad with spaces so the data starts at a multiple of 64 bytes, ending
	// the header with a newline, as numpy does.
	// With at most 64 dimensions the header always fits version 1.0's
	// 16-bit length.
	total := len(npyMagic) + 4 + len(dict) + 1
	pad := (64 - total%64) % 64
	hlen := len(dict) + pad + 1

	bw := bufio.NewWriterSize(w, 1<<16)
	bw.WriteString(npyMagic)
	bw.Write([]byte{1, 0})
	binary.Write(bw, binary.LittleEndian, uint16(hlen))
	bw.WriteString(dict)
	bw.WriteString(strings.Repeat(" ", pad))
	bw.WriteByte('\n')
	if err := encodeNPY(bw, t, width); err != nil {
		return err
	}
	return bw.Flush()
}

// npyDescrOf returns the dtype string for t and, for strings, the width in
// code points.
func npyDescrOf(t *Tensor) (string, int, error) {
	switch t.dtype {
	case Float16:
		return "<f2", 0, nil
	case Float32:
		return "<f4", 0, nil
	case Float64:
		return "<f8", 0, nil
	case Int8:
		return "|i1", 0, nil
	case Int16:
		return "<i2", 0, nil
	case Int32:
		return "<i4", 0, nil
	case Int64:
		return "<i8", 0, nil
	case Uint8:
		return "|u1", 0, nil
	case Uint16:
		return "<u2", 0, nil
	case Uint32:
		return "<u4", 0, nil
	case Uint64:
		return "<u8", 0, nil
	case Bool:
		return "|b1", 0, nil
	case Complex64:
		return "<c8", 0, nil
	case Complex128:
		return "<c16", 0, nil
	case String:
		width := 1 // numpy has no zero-width unicode arrays
		for _, s := range t.data.([]string) {
			width = max(width, utf8.RuneCountInString(s))
		}
		if width > npyMaxStringWidth {
			return "", 0, npyErrorf("a string of %d code points is too long for a .npy unicode array", width)
		}
		return "<U" + strconv.Itoa(width), width, nil
	case BFloat16:
		return "", 0, npyErrorf("bfloat16 has no numpy dtype; Cast the tensor to float32 before saving it as .npy")
	}
	return "", 0, npyErrorf("%v has no numpy dtype; Cast the tensor to a standard type (float32, int32, ...) before saving it as .npy", t.dtype)
}

// encodeNPY writes the elements little-endian in chunks, so a large tensor
// is not duplicated in memory.
func encodeNPY(w io.Writer, t *Tensor, width int) error {
	const chunk = 1 << 14
	var buf []byte
	n := t.Len()
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		buf = buf[:0]
		switch x := t.data.(type) {
		case []Float16Bits:
			for _, v := range x[lo:hi] {
				buf = binary.LittleEndian.AppendUint16(buf, uint16(v))
			}
		case []string:
			for _, s := range x[lo:hi] {
				k := 0
				for _, r := range s {
					buf = binary.LittleEndian.AppendUint32(buf, uint32(r))
					k++
				}
				for ; k < width; k++ {
					buf = binary.LittleEndian.AppendUint32(buf, 0)
				}
			}
		default:
			var err error
			if buf, err = binary.Append(buf, binary.LittleEndian, npySliceRange(t.data, lo, hi)); err != nil {
				return npyErrorf("encoding %v: %v", t.dtype, err)
			}
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// npySliceRange returns data[lo:hi] for the fixed-size slice types binary
// encodes directly.
func npySliceRange(data any, lo, hi int) any {
	switch d := data.(type) {
	case []float32:
		return d[lo:hi]
	case []float64:
		return d[lo:hi]
	case []int8:
		return d[lo:hi]
	case []int16:
		return d[lo:hi]
	case []int32:
		return d[lo:hi]
	case []int64:
		return d[lo:hi]
	case []uint8:
		return d[lo:hi]
	case []uint16:
		return d[lo:hi]
	case []uint32:
		return d[lo:hi]
	case []uint64:
		return d[lo:hi]
	case []bool:
		return d[lo:hi]
	case []complex64:
		return d[lo:hi]
	case []complex128:
		return d[lo:hi]
	}
	panic(fmt.Sprintf("tensor: npySliceRange of %T", data))
}

// LoadNPY reads a .npy file.
func LoadNPY(path string) (*Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := ReadNPY(bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// SaveNPY writes t to a .npy file, replacing it.
func SaveNPY(path string, t *Tensor) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := WriteNPY(f, t); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}
