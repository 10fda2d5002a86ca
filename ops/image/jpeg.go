package image

import (
	"errors"
	"fmt"

	"github.com/gort-ml/gort/ops"
)

// A baseline JPEG decoder that reproduces libjpeg's default output (and so
// PIL's, which the ImageDecoder node tests use) bit for bit: libjpeg's
// "ISLOW" integer IDCT, its range limiting, its "fancy" (triangle) chroma
// upsampling and its fixed-point YCbCr conversion. Go's image/jpeg differs in
// all three by ±1-2 on some pixels. Progressive, arithmetic-coded, 12-bit,
// CMYK and Adobe-RGB files fall back to image/jpeg (errJPEGFallback).

var errJPEGFallback = errors.New("jpeg: not a baseline YCbCr/gray image")

// zigzag[k] is the natural (row-major) index of the k-th coefficient in
// zigzag order.
var zigzag = [64]int{
	0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
}

// huffTable decodes one Huffman table: codes of up to 9 bits through look,
// longer ones through the canonical maxcode/valptr tables.
type huffTable struct {
	look    [512]uint16 // (length<<8 | symbol), 0 when the code is longer than 9 bits
	maxcode [17]int32   // largest code of each length, -1 if none
	mincode [17]int32
	valptr  [17]int32
	vals    []uint8
}

func newHuffTable(counts []uint8, vals []uint8) (*huffTable, error) {
	h := &huffTable{vals: vals}
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l-1])
		h.valptr[l], h.mincode[l] = k, code
		h.maxcode[l] = -1
		if n > 0 {
			h.maxcode[l] = code + n - 1
		}
		if code+n > 1<<l {
			return nil, fmt.Errorf("jpeg: invalid Huffman table")
		}
		if l <= 9 {
			for i := int32(0); i < n; i++ {
				c := (code + i) << (9 - l)
				for j := int32(0); j < 1<<(9-l); j++ {
					h.look[c+j] = uint16(l)<<8 | uint16(vals[k+i])
				}
			}
		}
		code, k = (code+n)<<1, k+n
	}
	return h, nil
}

type jpegComp struct {
	id, h, v, tq int
	td, ta       int
	pred         int32
	bw, bh       int // blocks per row and column, padded to whole MCUs
	w, h2        int // the component's real (downsampled) size
	pix          []uint8
}

type jpegDecoder struct {
	b      []byte
	pos    int
	qt     [4][64]int32 // zigzag order
	qtSet  [4]bool
	dc, ac [4]*huffTable
	comps  []jpegComp
	w, h   int
	hmax   int
	vmax   int
	mcusX  int
	mcusY  int
	ri     int // restart interval in MCUs
	frame  bool
	adobe  bool

	bits   uint32
	nbits  int
	marker bool // the entropy-coded segment ended at a marker
}

// decodeBaselineJPEG decodes b into m's size-checked RGB buffer.
func decodeBaselineJPEG(c *ops.Ctx, b []byte) (*rgb, error) {
	d := &jpegDecoder{b: b, pos: 2}
	for {
		mk, err := d.nextMarker()
		if err != nil {
			return nil, err
		}
		switch {
		case mk == 0xd9: // EOI
			if !d.frame {
				return nil, fmt.Errorf("jpeg: no image before the end marker")
			}
			return d.output(c)
		case mk == 0xc0 || mk == 0xc1:
			if err := d.readFrame(c); err != nil {
				return nil, err
			}
		case mk >= 0xc2 && mk <= 0xcf && mk != 0xc4 && mk != 0xc8 && mk != 0xcc:
			return nil, errJPEGFallback // progressive, lossless or arithmetic
		case mk == 0xc4:
			if err := d.readDHT(); err != nil {
				return nil, err
			}
		case mk == 0xdb:
			if err := d.readDQT(); err != nil {
				return nil, err
			}
		case mk == 0xdd:
			seg, err := d.segment()
			if err != nil {
				return nil, err
			}
			if len(seg) < 2 {
				return nil, fmt.Errorf("jpeg: short DRI segment")
			}
			d.ri = int(seg[0])<<8 | int(seg[1])
		case mk == 0xda:
			if err := d.readScan(c); err != nil {
				return nil, err
			}
		case mk == 0xee: // APP14: an Adobe transform flag changes the color space
			seg, err := d.segment()
			if err != nil {
				return nil, err
			}
			if len(seg) >= 5 && string(seg[:5]) == "Adobe" {
				d.adobe = true
			}
		default:
			if _, err := d.segment(); err != nil {
				return nil, err
			}
		}
	}
}

// nextMarker skips to the next marker and returns its code.
func (d *jpegDecoder) nextMarker() (byte, error) {
	for d.pos+1 < len(d.b) {
		if d.b[d.pos] != 0xff || d.b[d.pos+1] == 0 || d.b[d.pos+1] == 0xff {
			d.pos++
			continue
		}
		mk := d.b[d.pos+1]
		d.pos += 2
		if mk >= 0xd0 && mk <= 0xd7 || mk == 0x01 {
			continue // stray restart or TEM markers carry no segment
		}
		return mk, nil
	}
	return 0, fmt.Errorf("jpeg: truncated stream (no end-of-image marker)")
}

// segment returns the payload of the marker segment at d.pos.
func (d *jpegDecoder) segment() ([]byte, error) {
	if d.pos+2 > len(d.b) {
		return nil, fmt.Errorf("jpeg: truncated segment")
	}
	n := int(d.b[d.pos])<<8 | int(d.b[d.pos+1])
	if n < 2 || d.pos+n > len(d.b) {
		return nil, fmt.Errorf("jpeg: segment length %d exceeds the stream", n)
	}
	seg := d.b[d.pos+2 : d.pos+n]
	d.pos += n
	return seg, nil
}

func (d *jpegDecoder) readDQT() error {
	seg, err := d.segment()
	if err != nil {
		return err
	}
	for len(seg) > 0 {
		pq, tq := seg[0]>>4, seg[0]&15
		if tq > 3 || pq > 1 {
			return fmt.Errorf("jpeg: invalid quantization table %d (precision %d)", tq, pq)
		}
		n := 64 * (1 + int(pq))
		if len(seg) < 1+n {
			return fmt.Errorf("jpeg: short quantization table")
		}
		for k := 0; k < 64; k++ {
			if pq == 0 {
				d.qt[tq][k] = int32(seg[1+k])
			} else {
				d.qt[tq][k] = int32(seg[1+2*k])<<8 | int32(seg[2+2*k])
			}
		}
		d.qtSet[tq] = true
		seg = seg[1+n:]
	}
	return nil
}

func (d *jpegDecoder) readDHT() error {
	seg, err := d.segment()
	if err != nil {
		return err
	}
	for len(seg) > 0 {
		if len(seg) < 17 {
			return fmt.Errorf("jpeg: short Huffman table")
		}
		tc, th := seg[0]>>4, seg[0]&15
		if tc > 1 || th > 3 {
			return fmt.Errorf("jpeg: invalid Huffman table class %d id %d", tc, th)
		}
		total := 0
		for _, n := range seg[1:17] {
			total += int(n)
		}
		if total > 256 || len(seg) < 17+total {
			return fmt.Errorf("jpeg: Huffman table of %d symbols exceeds its segment", total)
		}
		h, err := newHuffTable(seg[1:17], append([]uint8(nil), seg[17:17+total]...))
		if err != nil {
			return err
		}
		if tc == 0 {
			d.dc[th] = h
		} else {
			d.ac[th] = h
		}
		seg = seg[17+total:]
	}
	return nil
}

func (d *jpegDecoder) readFrame(c *ops.Ctx) error {
	seg, err := d.segment()
	if err != nil {
		return err
	}
	if d.frame {
		return fmt.Errorf("jpeg: more than one frame")
	}
	if len(seg) < 6 {
		return fmt.Errorf("jpeg: short frame header")
	}
	if seg[0] != 8 {
		return errJPEGFallback // 12-bit samples
	}
	d.h, d.w = int(seg[1])<<8|int(seg[2]), int(seg[3])<<8|int(seg[4])
	n := int(seg[5])
	if d.w == 0 || d.h == 0 {
		return fmt.Errorf("jpeg: image size %dx%d", d.w, d.h)
	}
	if n != 1 && n != 3 {
		return errJPEGFallback // CMYK/YCCK
	}
	if len(seg) < 6+3*n {
		return fmt.Errorf("jpeg: short frame header")
	}
	d.comps = make([]jpegComp, n)
	for i := range d.comps {
		p := seg[6+3*i:]
		cp := &d.comps[i]
		cp.id, cp.h, cp.v, cp.tq = int(p[0]), int(p[1]>>4), int(p[1]&15), int(p[2])
		if cp.h < 1 || cp.h > 4 || cp.v < 1 || cp.v > 4 || cp.tq > 3 {
			return fmt.Errorf("jpeg: invalid component %d sampling %dx%d or table %d", i, cp.h, cp.v, cp.tq)
		}
		d.hmax, d.vmax = max(d.hmax, cp.h), max(d.vmax, cp.v)
	}
	if n == 3 && (d.comps[0].id == 'R' && d.comps[1].id == 'G' && d.comps[2].id == 'B') {
		return errJPEGFallback
	}
	d.mcusX = (d.w + 8*d.hmax - 1) / (8 * d.hmax)
	d.mcusY = (d.h + 8*d.vmax - 1) / (8 * d.vmax)
	total := 0.0
	for i := range d.comps {
		cp := &d.comps[i]
		cp.bw, cp.bh = d.mcusX*cp.h, d.mcusY*cp.v
		cp.w = (d.w*cp.h + d.hmax - 1) / d.hmax
		cp.h2 = (d.h*cp.v + d.vmax - 1) / d.vmax
		total += 64 * float64(cp.bw) * float64(cp.bh)
	}
	if err := checkElems(c, total+3*float64(d.w)*float64(d.h), fmt.Sprintf("a %dx%d JPEG image", d.w, d.h)); err != nil {
		return err
	}
	for i := range d.comps {
		cp := &d.comps[i]
		cp.pix = make([]uint8, 64*cp.bw*cp.bh)
	}
	d.frame = true
	return nil
}

func (d *jpegDecoder) readScan(c *ops.Ctx) error {
	seg, err := d.segment()
	if err != nil {
		return err
	}
	if !d.frame {
		return fmt.Errorf("jpeg: scan before the frame header")
	}
	if len(seg) < 1 || len(seg) < 1+2*int(seg[0])+3 {
		return fmt.Errorf("jpeg: short scan header")
	}
	ns := int(seg[0])
	if ns < 1 || ns > len(d.comps) {
		return fmt.Errorf("jpeg: scan of %d components", ns)
	}
	sc := make([]*jpegComp, ns)
	for i := 0; i < ns; i++ {
		id, tables := int(seg[1+2*i]), seg[2+2*i]
		for j := range d.comps {
			if d.comps[j].id == id {
				sc[i] = &d.comps[j]
			}
		}
		if sc[i] == nil {
			return fmt.Errorf("jpeg: scan names unknown component %d", id)
		}
		sc[i].td, sc[i].ta = int(tables>>4), int(tables&15)
		if sc[i].td > 3 || sc[i].ta > 3 || d.dc[sc[i].td] == nil || d.ac[sc[i].ta] == nil || !d.qtSet[sc[i].tq] {
			return fmt.Errorf("jpeg: scan uses an undefined table")
		}
		sc[i].pred = 0
	}
	d.bits, d.nbits, d.marker = 0, 0, false
	// A single-component scan covers that component's blocks one by one;
	// an interleaved scan covers MCUs of h×v blocks per component.
	mx, my := d.mcusX, d.mcusY
	if ns == 1 {
		mx = (sc[0].w + 7) / 8
		my = (sc[0].h2 + 7) / 8
	}
	var coef [64]int32
	mcu := 0
	for y := 0; y < my; y++ {
		if err := c.Check(); err != nil {
			return err
		}
		for x := 0; x < mx; x++ {
			if d.ri > 0 && mcu > 0 && mcu%d.ri == 0 {
				d.restart(sc)
			}
			mcu++
			for _, cp := range sc {
				bh, bv := cp.h, cp.v
				if ns == 1 {
					bh, bv = 1, 1
				}
				for v := 0; v < bv; v++ {
					for h := 0; h < bh; h++ {
						if err := d.decodeBlock(cp, &coef); err != nil {
							return err
						}
						bx, by := x*bh+h, y*bv+v
						islow(&coef, cp.pix[(by*8)*cp.bw*8+bx*8:], cp.bw*8)
					}
				}
			}
		}
	}
	return nil
}

// restart discards the rest of the current byte, consumes an RSTn marker
// and resets the DC predictors.
func (d *jpegDecoder) restart(sc []*jpegComp) {
	d.bits, d.nbits = 0, 0
	if !d.marker {
		for d.pos+1 < len(d.b) && !(d.b[d.pos] == 0xff && d.b[d.pos+1] >= 0xd0 && d.b[d.pos+1] <= 0xd7) {
			d.pos++
		}
	}
	if d.pos+1 < len(d.b) && d.b[d.pos] == 0xff && d.b[d.pos+1] >= 0xd0 && d.b[d.pos+1] <= 0xd7 {
		d.pos += 2
	}
	d.marker = false
	for _, cp := range sc {
		cp.pred = 0
	}
}

// fill tops the bit buffer up to at least 25 bits; past a marker or the
// end of the stream it feeds zeros, as libjpeg does.
func (d *jpegDecoder) fill() {
	for d.nbits <= 24 {
		var b byte
		if !d.marker && d.pos < len(d.b) {
			b = d.b[d.pos]
			if b == 0xff {
				if d.pos+1 < len(d.b) && d.b[d.pos+1] == 0 {
					d.pos += 2
				} else {
					d.marker, b = true, 0
				}
			} else {
				d.pos++
			}
		}
		d.bits |= uint32(b) << (24 - d.nbits)
		d.nbits += 8
	}
}

func (d *jpegDecoder) take(n int) int32 {
	v := int32(d.bits >> (32 - n))
	d.bits <<= n
	d.nbits -= n
	return v
}

func (d *jpegDecoder) decodeHuff(h *huffTable) (int, error) {
	d.fill()
	if e := h.look[d.bits>>23]; e != 0 {
		d.take(int(e >> 8))
		return int(e & 0xff), nil
	}
	for l := 10; l <= 16; l++ {
		code := int32(d.bits >> (32 - l))
		if code <= h.maxcode[l] {
			d.take(l)
			i := h.valptr[l] + code - h.mincode[l]
			if int(i) >= len(h.vals) {
				break
			}
			return int(h.vals[i]), nil
		}
	}
	return 0, fmt.Errorf("jpeg: invalid Huffman code")
}

// receive reads s bits as a signed coefficient (JPEG's EXTEND).
func (d *jpegDecoder) receive(s int) int32 {
	if s == 0 {
		return 0
	}
	d.fill()
	v := d.take(s)
	if v < 1<<(s-1) {
		v += -1<<s + 1
	}
	return v
}

// decodeBlock reads one block's coefficients, dequantized, in natural order.
func (d *jpegDecoder) decodeBlock(cp *jpegComp, coef *[64]int32) error {
	*coef = [64]int32{}
	q := &d.qt[cp.tq]
	s, err := d.decodeHuff(d.dc[cp.td])
	if err != nil {
		return err
	}
	if s > 15 {
		return fmt.Errorf("jpeg: invalid DC size %d", s)
	}
	cp.pred += d.receive(s)
	coef[0] = cp.pred * q[0]
	ac := d.ac[cp.ta]
	for k := 1; k < 64; k++ {
		rs, err := d.decodeHuff(ac)
		if err != nil {
			return err
		}
		r, s := rs>>4, rs&15
		if s == 0 {
			if r != 15 {
				break
			}
			k += 15
			continue
		}
		k += r
		if k > 63 {
			return fmt.Errorf("jpeg: coefficient index past 63")
		}
		coef[zigzag[k]] = d.receive(s) * q[k]
	}
	return nil
}

// libjpeg's ISLOW constants: FIX(x) = round(x·2^13).
const (
	fix0298631336 = 2446
	fix0390180644 = 3196
	fix0541196100 = 4433
	fix0765366865 = 6270
	fix0899976223 = 7373
	fix1175875602 = 9633
	fix1501321110 = 12299
	fix1847759065 = 15137
	fix1961570560 = 16069
	fix2053119869 = 16819
	fix2562915447 = 20995
	fix3072711026 = 25172
)

// idct1 is the 1-D pass of libjpeg's jpeg_idct_islow on x[0], x[s], ...,
// x[7s]: it returns the eight outputs before descaling, in order.
func idct1(x0, x1, x2, x3, x4, x5, x6, x7 int32) [8]int32 {
	z1 := (x2 + x6) * fix0541196100
	tmp2 := z1 - x6*fix1847759065
	tmp3 := z1 + x2*fix0765366865
	tmp0 := (x0 + x4) << 13
	tmp1 := (x0 - x4) << 13
	t10, t13, t11, t12 := tmp0+tmp3, tmp0-tmp3, tmp1+tmp2, tmp1-tmp2
	o0, o1, o2, o3 := x7, x5, x3, x1
	za, zb, zc, zd := o0+o3, o1+o2, o0+o2, o1+o3
	z5 := (zc + zd) * fix1175875602
	o0 *= fix0298631336
	o1 *= fix2053119869
	o2 *= fix3072711026
	o3 *= fix1501321110
	za *= -fix0899976223
	zb *= -fix2562915447
	zc = zc*-fix1961570560 + z5
	zd = zd*-fix0390180644 + z5
	o0 += za + zc
	o1 += zb + zd
	o2 += zb + zc
	o3 += za + zd
	return [8]int32{t10 + o3, t11 + o2, t12 + o1, t13 + o0, t13 - o0, t12 - o1, t11 - o2, t10 - o3}
}

// rangeLimit maps an IDCT output (before the +128 level shift) to a sample
// exactly as libjpeg's post-IDCT table, including its wraparound for
// values of corrupt streams.
func rangeLimit(x int32) uint8 {
	v := x & 1023
	switch {
	case v < 128:
		return uint8(v + 128)
	case v < 512:
		return 255
	case v < 896:
		return 0
	}
	return uint8(v - 896)
}

// islow is libjpeg's jpeg_idct_islow: columns with PASS1_BITS = 2 of extra
// precision, then rows, writing 8×8 samples to dst (row stride).
func islow(coef *[64]int32, dst []uint8, stride int) {
	var ws [64]int32
	for c := 0; c < 8; c++ {
		o := idct1(coef[c], coef[8+c], coef[16+c], coef[24+c], coef[32+c], coef[40+c], coef[48+c], coef[56+c])
		for r, v := range o {
			ws[r*8+c] = (v + 1<<10) >> 11
		}
	}
	for r := 0; r < 8; r++ {
		w := ws[r*8 : r*8+8 : r*8+8]
		o := idct1(w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7])
		row := dst[r*stride : r*stride+8 : r*stride+8]
		for i, v := range o {
			row[i] = rangeLimit((v + 1<<17) >> 18)
		}
	}
}

// output upsamples the chroma planes as libjpeg does and converts to RGB.
func (d *jpegDecoder) output(c *ops.Ctx) (*rgb, error) {
	m, err := newRGB(c, d.w, d.h)
	if err != nil {
		return nil, err
	}
	for _, cp := range d.comps {
		if cp.pix == nil {
			return nil, fmt.Errorf("jpeg: component %d has no scan", cp.id)
		}
	}
	if len(d.comps) == 1 {
		cp := d.comps[0]
		for y := 0; y < d.h; y++ {
			for x := 0; x < d.w; x++ {
				v := cp.pix[y*cp.bw*8+x]
				i := 3 * (y*d.w + x)
				m.pix[i], m.pix[i+1], m.pix[i+2] = v, v, v
			}
		}
		return m, nil
	}
	if d.adobe {
		return nil, errJPEGFallback
	}
	for _, cp := range d.comps {
		if d.hmax%cp.h != 0 || d.vmax%cp.v != 0 {
			return nil, errJPEGFallback // fractional sampling factors, which libjpeg rejects
		}
	}
	planes := make([][]uint8, 3)
	for i, cp := range d.comps {
		planes[i] = d.upsample(&cp)
	}
	for y := 0; y < d.h; y++ {
		for x := 0; x < d.w; x++ {
			i := y*d.w + x
			m.pix[3*i], m.pix[3*i+1], m.pix[3*i+2] = ycc(planes[0][i], planes[1][i], planes[2][i])
		}
	}
	return m, nil
}

// upsample returns the component at full image size (w×h, stride w):
// libjpeg-turbo's fancy triangle filter for 2:1 horizontal, vertical or both
// (when the component is wider than 2 samples), replication for every
// other integer ratio.
func (d *jpegDecoder) upsample(cp *jpegComp) []uint8 {
	out := make([]uint8, d.w*d.h)
	stride := cp.bw * 8
	fh, fv := d.hmax/cp.h, d.vmax/cp.v
	at := func(x, y int) int { return int(cp.pix[min(y, cp.h2-1)*stride+min(x, cp.w-1)]) }
	fancy := cp.w > 2 // libjpeg: do_fancy && downsampled_width > 2 (not needed for h1v2)
	switch {
	case fancy && fh == 2 && fv == 1:
		for y := 0; y < d.h; y++ {
			o := out[y*d.w:]
			for x := 0; x < d.w; x++ {
				cx := x / 2
				this := 3 * at(cx, y)
				var v int
				switch {
				case x%2 == 0 && cx == 0:
					v = at(0, y)
				case x%2 == 0:
					v = (this + at(cx-1, y) + 1) >> 2
				case cx == cp.w-1:
					v = at(cx, y)
				default:
					v = (this + at(cx+1, y) + 2) >> 2
				}
				o[x] = uint8(v)
			}
		}
	case fh == 1 && fv == 2:
		for y := 0; y < d.h; y++ {
			cy, ny, bias := y/2, y/2-1, 1 // the row above for even output rows
			if y%2 == 1 {
				ny, bias = cy+1, 2
			}
			o := out[y*d.w : (y+1)*d.w]
			for x := range o {
				o[x] = uint8((3*at(x, cy) + at(x, max(ny, 0)) + bias) >> 2)
			}
		}
	case fancy && fh == 2 && fv == 2:
		sum := make([]int, cp.w) // 3·nearer row + further row, per chroma column
		for y := 0; y < d.h; y++ {
			cy := y / 2
			ny := cy - 1 // the neighbouring row: above for even output rows
			if y%2 == 1 {
				ny = cy + 1
			}
			ny = min(max(ny, 0), cp.h2-1)
			row, nrow := cp.pix[min(cy, cp.h2-1)*stride:], cp.pix[ny*stride:]
			for cx := range sum {
				sum[cx] = 3*int(row[cx]) + int(nrow[cx])
			}
			o := out[y*d.w : (y+1)*d.w]
			for x := range o {
				cx := x / 2
				this := sum[cx]
				var v int
				switch {
				case x%2 == 0 && cx == 0:
					v = (this*4 + 8) >> 4
				case x%2 == 0:
					v = (this*3 + sum[cx-1] + 8) >> 4
				case cx == cp.w-1:
					v = (this*4 + 7) >> 4
				default:
					v = (this*3 + sum[cx+1] + 7) >> 4
				}
				o[x] = uint8(v)
			}
		}
	default:
		fh, fv = max(fh, 1), max(fv, 1)
		for y := 0; y < d.h; y++ {
			for x := 0; x < d.w; x++ {
				out[y*d.w+x] = uint8(at(x/fh, y/fv))
			}
		}
	}
	return out
}
