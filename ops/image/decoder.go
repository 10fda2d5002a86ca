package image

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	stdimage "image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

func decoderOps() []*ops.Op {
	return ops.Versions("", "ImageDecoder", "ImageDecoder: y = the image encoded in the uint8 bytes x as (H, W, 3) RGB or BGR, or (H, W, 1) grayscale (L = (19595 R + 38470 G + 7471 B + 2^15) >> 16); JPEG (baseline decoded as libjpeg does), PNG, GIF, BMP, PNM and uncompressed TIFF.",
		[]int{20}, inferDecoder, compileDecoder)
}

func inferDecoder(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	ch := int64(3)
	if n.String("pixel_format", "RGB") == "Grayscale" {
		ch = 1
	}
	return []tensor.Type{{Kind: tensor.KindTensor, DType: tensor.Uint8, HasShape: true,
		Shape: []tensor.Dim{{Size: -1}, {Size: -1}, {Size: ch}}}}, nil
}

func compileDecoder(n *ops.Node) (*ops.Kernel, error) {
	format := n.String("pixel_format", "RGB")
	if err := n.Err(); err != nil {
		return nil, err
	}
	if format != "RGB" && format != "BGR" && format != "Grayscale" {
		return nil, fmt.Errorf("pixel_format %q must be RGB, BGR or Grayscale", format)
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		if in[0].DType() != tensor.Uint8 || in[0].Rank() != 1 {
			return nil, fmt.Errorf("encoded_stream is %v%v, want 1-D uint8", in[0].DType(), in[0].Shape())
		}
		img, err := decodeRGB(c, tensor.Data[uint8](in[0]))
		if err != nil {
			return nil, err
		}
		y, err := img.tensor(c, format)
		return []*tensor.Tensor{y}, err
	}}, nil
}

// rgb is a decoded image: pix holds h·w RGB triples, row-major.
type rgb struct {
	w, h int
	pix  []uint8
}

func (m *rgb) tensor(c *ops.Ctx, format string) (*tensor.Tensor, error) {
	ch := 3
	if format == "Grayscale" {
		ch = 1
	}
	y, err := c.New(tensor.Uint8, m.h, m.w, ch)
	if err != nil {
		return nil, err
	}
	d := tensor.Data[uint8](y)
	switch format {
	case "RGB":
		copy(d, m.pix)
	case "BGR":
		for i := 0; i < len(d); i += 3 {
			d[i], d[i+1], d[i+2] = m.pix[i+2], m.pix[i+1], m.pix[i]
		}
	default:
		for i := range d {
			p := m.pix[3*i : 3*i+3]
			d[i] = uint8((uint32(p[0])*19595 + uint32(p[1])*38470 + uint32(p[2])*7471 + 1<<15) >> 16)
		}
	}
	return y, nil
}

// newRGB checks the header's dimensions against the session's limit before
// anything of that size is allocated (decoder bombs claim huge sizes).
func newRGB(c *ops.Ctx, w, h int) (*rgb, error) {
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("image header gives size %dx%d", w, h)
	}
	if err := checkElems(c, 3*float64(w)*float64(h), fmt.Sprintf("a %dx%d image", w, h)); err != nil {
		return nil, err
	}
	return &rgb{w: w, h: h, pix: make([]uint8, 3*w*h)}, nil
}

func decodeRGB(c *ops.Ctx, b []byte) (*rgb, error) {
	type codec struct {
		config func([]byte) (stdimage.Config, error)
		decode func([]byte) (stdimage.Image, error)
	}
	std := func(cf func(r *bytes.Reader) (stdimage.Config, error), df func(r *bytes.Reader) (stdimage.Image, error)) *codec {
		return &codec{
			config: func(b []byte) (stdimage.Config, error) { return cf(bytes.NewReader(b)) },
			decode: func(b []byte) (stdimage.Image, error) { return df(bytes.NewReader(b)) },
		}
	}
	var cd *codec
	switch {
	case bytes.HasPrefix(b, []byte{0xff, 0xd8}):
		m, err := decodeBaselineJPEG(c, b)
		if !errors.Is(err, errJPEGFallback) {
			return m, err
		}
		cd = std(func(r *bytes.Reader) (stdimage.Config, error) { return jpeg.DecodeConfig(r) },
			func(r *bytes.Reader) (stdimage.Image, error) { return jpeg.Decode(r) })
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		cd = std(func(r *bytes.Reader) (stdimage.Config, error) { return png.DecodeConfig(r) },
			func(r *bytes.Reader) (stdimage.Image, error) { return png.Decode(r) })
	case bytes.HasPrefix(b, []byte("GIF8")):
		cd = std(func(r *bytes.Reader) (stdimage.Config, error) { return gif.DecodeConfig(r) },
			func(r *bytes.Reader) (stdimage.Image, error) { return gif.Decode(r) })
	case bytes.HasPrefix(b, []byte("BM")):
		return decodeBMP(c, b)
	case len(b) > 2 && b[0] == 'P' && (b[1] == '5' || b[1] == '6'):
		return decodePNM(c, b)
	case bytes.HasPrefix(b, []byte("II*\x00")) || bytes.HasPrefix(b, []byte("MM\x00*")):
		return decodeTIFF(c, b)
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return nil, fmt.Errorf("WebP images are not supported (no pure-Go decoder in gort); convert to PNG or JPEG")
	case bytes.HasPrefix(b, []byte("\x00\x00\x00\x0cjP  ")) || bytes.HasPrefix(b, []byte{0xff, 0x4f, 0xff, 0x51}):
		return nil, fmt.Errorf("JPEG 2000 images are not supported (no pure-Go decoder in gort); convert to PNG or JPEG")
	default:
		return nil, fmt.Errorf("unrecognized image format (supported: JPEG, PNG, GIF, BMP, PNM P5/P6, uncompressed TIFF)")
	}
	cfg, err := cd.config(b)
	if err != nil {
		return nil, fmt.Errorf("image header: %w", err)
	}
	m, err := newRGB(c, cfg.Width, cfg.Height)
	if err != nil {
		return nil, err
	}
	img, err := cd.decode(b)
	if err != nil {
		return nil, fmt.Errorf("decoding image: %w", err)
	}
	if s := img.Bounds().Size(); s.X != m.w || s.Y != m.h {
		return nil, fmt.Errorf("decoded image is %dx%d, its header says %dx%d", s.X, s.Y, m.w, m.h)
	}
	toRGB(img, m)
	return m, nil
}

// toRGB writes img's pixels as straight (not premultiplied) RGB.
func toRGB(img stdimage.Image, m *rgb) {
	r := img.Bounds()
	q := 0
	switch im := img.(type) {
	case *stdimage.YCbCr:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				yi, ci := im.YOffset(x, y), im.COffset(x, y)
				m.pix[q], m.pix[q+1], m.pix[q+2] = ycc(im.Y[yi], im.Cb[ci], im.Cr[ci])
				q += 3
			}
		}
	case *stdimage.Gray:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				v := im.Pix[im.PixOffset(x, y)]
				m.pix[q], m.pix[q+1], m.pix[q+2] = v, v, v
				q += 3
			}
		}
	default:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				p := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
				m.pix[q], m.pix[q+1], m.pix[q+2] = p.R, p.G, p.B
				q += 3
			}
		}
	}
}

// decodeBMP decodes uncompressed 24- and 32-bit Windows bitmaps.
func decodeBMP(c *ops.Ctx, b []byte) (*rgb, error) {
	if len(b) < 54 {
		return nil, fmt.Errorf("BMP: %d bytes is too short for a header", len(b))
	}
	le := binary.LittleEndian
	dataOff := int64(le.Uint32(b[10:]))
	hdr := le.Uint32(b[14:])
	w, h := int64(int32(le.Uint32(b[18:]))), int64(int32(le.Uint32(b[22:])))
	bpp, comp := le.Uint16(b[28:]), le.Uint32(b[30:])
	if hdr < 40 || (bpp != 24 && bpp != 32) || (comp != 0 && !(comp == 3 && bpp == 32)) {
		return nil, fmt.Errorf("BMP: only uncompressed 24- and 32-bit images are supported (header %d, %d bpp, compression %d)", hdr, bpp, comp)
	}
	topDown := h < 0
	if topDown {
		h = -h
	}
	if w <= 0 || h <= 0 || w > 1<<24 || h > 1<<24 {
		return nil, fmt.Errorf("BMP: invalid size %dx%d", w, h)
	}
	bytesPP := int64(bpp / 8)
	stride := (w*bytesPP + 3) &^ 3
	if dataOff < 0 || dataOff+stride*h > int64(len(b)) {
		return nil, fmt.Errorf("BMP: %d bytes of pixel data at offset %d exceed the %d-byte stream", stride*h, dataOff, len(b))
	}
	m, err := newRGB(c, int(w), int(h))
	if err != nil {
		return nil, err
	}
	for y := 0; y < int(h); y++ {
		src := int(h) - 1 - y
		if topDown {
			src = y
		}
		row := b[dataOff+int64(src)*stride:]
		for x := 0; x < int(w); x++ {
			p := row[x*int(bytesPP):]
			q := 3 * (y*int(w) + x)
			m.pix[q], m.pix[q+1], m.pix[q+2] = p[2], p[1], p[0]
		}
	}
	return m, nil
}

// decodePNM decodes binary PGM (P5) and PPM (P6) images with maxval <= 255.
func decodePNM(c *ops.Ctx, b []byte) (*rgb, error) {
	pos := 2
	var vals [3]int
	for i := range vals {
		for pos < len(b) {
			switch {
			case b[pos] == '#':
				for pos < len(b) && b[pos] != '\n' {
					pos++
				}
			case b[pos] == ' ' || b[pos] == '\t' || b[pos] == '\n' || b[pos] == '\r':
				pos++
			default:
				goto number
			}
		}
	number:
		start := pos
		for pos < len(b) && b[pos] >= '0' && b[pos] <= '9' && pos-start < 9 {
			vals[i] = vals[i]*10 + int(b[pos]-'0')
			pos++
		}
		if pos == start {
			return nil, fmt.Errorf("PNM: malformed header")
		}
	}
	pos++ // the single whitespace after maxval
	w, h, maxval := vals[0], vals[1], vals[2]
	if maxval < 1 || maxval > 255 {
		return nil, fmt.Errorf("PNM: maxval %d is not supported (want 1 to 255)", maxval)
	}
	ch := 1
	if b[1] == '6' {
		ch = 3
	}
	if w <= 0 || h <= 0 || int64(pos)+int64(w)*int64(h)*int64(ch) > int64(len(b)) {
		return nil, fmt.Errorf("PNM: %dx%d pixels do not fit in the %d-byte stream", w, h, len(b))
	}
	m, err := newRGB(c, w, h)
	if err != nil {
		return nil, err
	}
	px := b[pos:]
	scale := func(v uint8) uint8 {
		if maxval == 255 {
			return v
		}
		return uint8((min(int(v), maxval)*255 + maxval/2) / maxval)
	}
	for i := 0; i < w*h; i++ {
		if ch == 3 {
			m.pix[3*i], m.pix[3*i+1], m.pix[3*i+2] = scale(px[3*i]), scale(px[3*i+1]), scale(px[3*i+2])
		} else {
			v := scale(px[i])
			m.pix[3*i], m.pix[3*i+1], m.pix[3*i+2] = v, v, v
		}
	}
	return m, nil
}

// decodeTIFF decodes baseline uncompressed 8-bit TIFF images (gray, RGB or
// RGBA, chunky, in strips).
func decodeTIFF(c *ops.Ctx, b []byte) (*rgb, error) {
	var bo binary.ByteOrder = binary.LittleEndian
	if b[0] == 'M' {
		bo = binary.BigEndian
	}
	if len(b) < 8 {
		return nil, fmt.Errorf("TIFF: stream too short")
	}
	off := int64(bo.Uint32(b[4:]))
	if off+2 > int64(len(b)) {
		return nil, fmt.Errorf("TIFF: IFD offset %d outside the stream", off)
	}
	n := int64(bo.Uint16(b[off:]))
	if off+2+12*n > int64(len(b)) {
		return nil, fmt.Errorf("TIFF: IFD of %d entries exceeds the stream", n)
	}
	tags := map[uint16][]int64{}
	for i := int64(0); i < n; i++ {
		e := b[off+2+12*i:]
		tag, typ, cnt := bo.Uint16(e), bo.Uint16(e[2:]), int64(bo.Uint32(e[4:]))
		size := map[uint16]int64{3: 2, 4: 4}[typ]
		if size == 0 || cnt < 1 || cnt > 1<<20 {
			continue // a tag this decoder does not read
		}
		data := e[8:12]
		if cnt*size > 4 {
			p := int64(bo.Uint32(e[8:]))
			if p < 0 || p+cnt*size > int64(len(b)) {
				return nil, fmt.Errorf("TIFF: tag %d values outside the stream", tag)
			}
			data = b[p : p+cnt*size]
		}
		vs := make([]int64, cnt)
		for j := range vs {
			if size == 2 {
				vs[j] = int64(bo.Uint16(data[2*j:]))
			} else {
				vs[j] = int64(bo.Uint32(data[4*j:]))
			}
		}
		tags[tag] = vs
	}
	get := func(tag uint16, def int64) int64 {
		if v, ok := tags[tag]; ok {
			return v[0]
		}
		return def
	}
	w, h := get(256, 0), get(257, 0)
	spp, comp, photo, planar := get(277, 1), get(259, 1), get(262, -1), get(284, 1)
	for _, bps := range tags[258] {
		if bps != 8 {
			return nil, fmt.Errorf("TIFF: %d bits per sample is not supported (want 8)", bps)
		}
	}
	if comp != 1 || planar != 1 || (spp != 1 && spp != 3 && spp != 4) || (photo != 0 && photo != 1 && photo != 2) {
		return nil, fmt.Errorf("TIFF: only uncompressed chunky gray/RGB images are supported (compression %d, planar %d, %d samples, photometric %d)", comp, planar, spp, photo)
	}
	if w <= 0 || h <= 0 || w > 1<<24 || h > 1<<24 {
		return nil, fmt.Errorf("TIFF: invalid size %dx%d", w, h)
	}
	offs, counts := tags[273], tags[279]
	if len(offs) == 0 || len(offs) != len(counts) {
		return nil, fmt.Errorf("TIFF: missing or inconsistent strip offsets and byte counts")
	}
	need := w * h * spp
	var px []byte
	for i, o := range offs {
		if o < 0 || o+counts[i] > int64(len(b)) {
			return nil, fmt.Errorf("TIFF: strip %d outside the stream", i)
		}
		px = append(px, b[o:o+counts[i]]...)
		if int64(len(px)) >= need {
			break
		}
	}
	if int64(len(px)) < need {
		return nil, fmt.Errorf("TIFF: %d bytes of pixels, %dx%d needs %d", len(px), w, h, need)
	}
	m, err := newRGB(c, int(w), int(h))
	if err != nil {
		return nil, err
	}
	s := int(spp)
	for i := 0; i < int(w*h); i++ {
		p := px[i*s:]
		if s == 1 {
			v := p[0]
			if photo == 0 {
				v = 255 - v
			}
			m.pix[3*i], m.pix[3*i+1], m.pix[3*i+2] = v, v, v
		} else {
			m.pix[3*i], m.pix[3*i+1], m.pix[3*i+2] = p[0], p[1], p[2]
		}
	}
	return m, nil
}

// ycc converts JFIF YCbCr to RGB with libjpeg's 16-bit fixed-point
// constants and rounding (Go's color.YCbCrToRGB rounds differently).
func ycc(y, cb, cr uint8) (uint8, uint8, uint8) {
	yy, b1, r1 := int32(y), int32(cb)-128, int32(cr)-128
	clamp := func(v int32) uint8 { return uint8(min(max(v, 0), 255)) }
	return clamp(yy + (91881*r1+32768)>>16),
		clamp(yy + (-22554*b1-46802*r1+32768)>>16),
		clamp(yy + (116130*b1+32768)>>16)
}
