package image

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	stdimage "image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/optest"
	"github.com/gort-ml/gort/tensor"
)

// identityGrid is (1, h, w, 2) with the normalized coordinates of every
// pixel (align_corners=1: -1 and 1 are the corner pixel centers).
func identityGrid(h, w int) *tensor.Tensor {
	g := make([]float32, 0, h*w*2)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			g = append(g, -1+2*float32(x)/float32(w-1), -1+2*float32(y)/float32(h-1))
		}
	}
	return f32([]int{1, h, w, 2}, g...)
}

func TestGridSampleIdentityAndPadding(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	x := make([]float32, 2*4*5)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	X := f32([]int{1, 2, 4, 5}, x...)
	for _, mode := range []string{"nearest", "linear", "cubic", "bilinear", "bicubic"} {
		out, err := optest.Run(t, Ops(), "GridSample", 22, []ops.Attr{str("mode", mode), optest.Int("align_corners", 1)}, []string{"y"}, X, identityGrid(4, 5))
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float64, len(x))
		for i, v := range x {
			want[i] = float64(v)
		}
		near(t, tensor.Data[float32](out[0]), want, 1e-5)
	}
	// 1x1x1x2 input [a, b]; sample far left, the middle and far right.
	X = f32([]int{1, 1, 1, 2}, 2, 6)
	grid := f32([]int{1, 1, 3, 2}, -3, 0, 0, 0, 3, 0)
	for _, tc := range []struct {
		padding string
		want    []float64
	}{
		{"zeros", []float64{0, 4, 0}},
		{"border", []float64{2, 4, 6}},
		// align_corners=0 reflects about -0.5 and 1.5: g = -3 is pixel -2.5,
		// which reflects to 1.5 (taps 1 and 2 -> 1); g = 3 is 3.5 -> -0.5.
		{"reflection", []float64{6, 4, 2}},
	} {
		out, err := optest.Run(t, Ops(), "GridSample", 22, []ops.Attr{str("padding_mode", tc.padding)}, []string{"y"}, X, grid)
		if err != nil {
			t.Fatal(err)
		}
		near(t, tensor.Data[float32](out[0]), tc.want, 1e-6)
	}
}

func TestGridSampleVolumetric(t *testing.T) {
	// 2x2x2 volume, sample its center (trilinear mean) and a corner.
	X := f32([]int{1, 1, 2, 2, 2}, 0, 1, 2, 3, 4, 5, 6, 7)
	grid := f32([]int{1, 1, 1, 2, 3}, 0, 0, 0, 1, 1, 1)
	out, err := optest.Run(t, Ops(), "GridSample", 22, []ops.Attr{optest.Int("align_corners", 1)}, []string{"y"}, X, grid)
	if err != nil {
		t.Fatal(err)
	}
	near(t, tensor.Data[float32](out[0]), []float64{3.5, 7}, 1e-6)
	if _, err := optest.Run(t, Ops(), "GridSample", 22, nil, []string{"y"}, X, f32([]int{1, 1, 2}, 0, 0)); err == nil {
		t.Error("grid of the wrong rank: no error")
	}
}

func TestAffineGrid(t *testing.T) {
	// Identity theta over 2x3 without align_corners: pixel centers at
	// x = -2/3, 0, 2/3 and y = -1/2, 1/2.
	theta := f32([]int{1, 2, 3}, 1, 0, 0, 0, 1, 0)
	out, err := optest.Run(t, Ops(), "AffineGrid", 20, nil, []string{"y"}, theta, sizes(1, 1, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	if s := out[0].Shape(); !tensor.SameShape(s, []int{1, 2, 3, 2}) {
		t.Fatalf("shape %v", s)
	}
	near(t, tensor.Data[float32](out[0]), []float64{
		-2.0 / 3, -0.5, 0, -0.5, 2.0 / 3, -0.5,
		-2.0 / 3, 0.5, 0, 0.5, 2.0 / 3, 0.5,
	}, 1e-6)
	// A translation with align_corners, 3-D: every point moves by (0.5, 0, -1).
	theta = f32([]int{1, 3, 4}, 1, 0, 0, 0.5, 0, 1, 0, 0, 0, 0, 1, -1)
	out, err = optest.Run(t, Ops(), "AffineGrid", 20, []ops.Attr{optest.Int("align_corners", 1)}, []string{"y"}, theta, sizes(1, 1, 2, 1, 2))
	if err != nil {
		t.Fatal(err)
	}
	near(t, tensor.Data[float32](out[0]), []float64{
		-0.5, 0, -2, 1.5, 0, -2,
		-0.5, 0, 0, 1.5, 0, 0,
	}, 1e-6)
}

func TestRoiAlign(t *testing.T) {
	// 4x4 ramp x[i, j] = 4i + j is linear, so bilinear samples and their
	// average equal the ramp at the bin centers.
	v := make([]float32, 16)
	for i := range v {
		v[i] = float32(i)
	}
	X := f32([]int{1, 1, 4, 4}, v...)
	rois := f32([]int{1, 4}, 0.5, 0.5, 2.5, 2.5) // half_pixel: (0, 0) to (2, 2)
	out, err := optest.Run(t, Ops(), "RoiAlign", 16, []ops.Attr{optest.Int("output_height", 2), optest.Int("output_width", 2), optest.Int("sampling_ratio", 2)},
		[]string{"y"}, X, rois, tensor.Must([]int{1}, []int64{0}))
	if err != nil {
		t.Fatal(err)
	}
	// Bin centers at (0.5, 0.5), (0.5, 1.5), (1.5, 0.5), (1.5, 1.5).
	near(t, tensor.Data[float32](out[0]), []float64{2.5, 3.5, 6.5, 7.5}, 1e-6)
	if _, err := optest.Run(t, Ops(), "RoiAlign", 16, nil, []string{"y"}, X, rois, tensor.Must([]int{1}, []int64{1})); err == nil {
		t.Error("batch index out of range: no error")
	}
	huge := f32([]int{1, 4}, 0, 0, 1e30, 1e30)
	if _, err := optest.Run(t, Ops(), "RoiAlign", 16, nil, []string{"y"}, X, huge, tensor.Must([]int{1}, []int64{0})); err == nil {
		t.Error("a 1e30-wide roi with adaptive sampling: no error")
	}
}

func TestNonMaxSuppression(t *testing.T) {
	// Boxes as [y1, x1, y2, x2]: 0 and 1 overlap with IoU 0.81/1.19 = 0.68;
	// 2 is apart; 3 is flipped (corners swapped) and equals box 2.
	boxes := f32([]int{1, 4, 4},
		0, 0, 1, 1,
		0.1, 0.1, 1.1, 1.1,
		5, 5, 6, 6,
		6, 6, 5, 5)
	scores := f32([]int{1, 1, 4}, 0.9, 0.95, 0.5, 0.4)
	run := func(maxOut int64, iou, score float32, extra ...*tensor.Tensor) []int64 {
		in := []*tensor.Tensor{boxes, scores, tensor.Must([]int{1}, []int64{maxOut}), tensor.Must([]int{1}, []float32{iou})}
		if score >= 0 {
			in = append(in, tensor.Must([]int{1}, []float32{score}))
		}
		out, err := optest.Run(t, Ops(), "NonMaxSuppression", 11, nil, []string{"y"}, in...)
		if err != nil {
			t.Fatal(err)
		}
		return tensor.Data[int64](out[0])
	}
	for _, tc := range []struct {
		maxOut      int64
		iou, score  float32
		wantIndices []int64
	}{
		{10, 0.5, -1, []int64{1, 2}},
		{10, 0.7, -1, []int64{1, 0, 2}},
		{1, 0.5, -1, []int64{1}},
		{10, 0.5, 0.6, []int64{1}},
		{0, 0.5, -1, nil},
	} {
		got := run(tc.maxOut, tc.iou, tc.score)
		var idx []int64
		for i := 0; i < len(got); i += 3 {
			idx = append(idx, got[i+2])
		}
		if fmt.Sprint(idx) != fmt.Sprint(tc.wantIndices) {
			t.Errorf("max %d iou %v score %v: boxes %v, want %v", tc.maxOut, tc.iou, tc.score, idx, tc.wantIndices)
		}
	}
	if _, err := optest.Run(t, Ops(), "NonMaxSuppression", 11, nil, []string{"y"}, boxes, f32([]int{1, 1, 3}, 1, 2, 3)); err == nil {
		t.Error("scores for 3 boxes of 4: no error")
	}
}

func decode(t *testing.T, data []byte, format string, c *ops.Ctx) (*tensor.Tensor, error) {
	t.Helper()
	k, err := compileDecoder(&ops.Node{OpType: "ImageDecoder", Opset: 20, Attrs: []ops.Attr{str("pixel_format", format)}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := k.Run(c, []*tensor.Tensor{tensor.Must([]int{len(data)}, data)})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// testPixels is a 3x2 RGB image: (x, y) -> (40x, 100y, 7).
func testPixels() [][3]uint8 {
	var p [][3]uint8
	for y := 0; y < 2; y++ {
		for x := 0; x < 3; x++ {
			p = append(p, [3]uint8{uint8(40 * x), uint8(100 * y), 7})
		}
	}
	return p
}

func TestImageDecoderFormats(t *testing.T) {
	px := testPixels()
	img := stdimage.NewNRGBA(stdimage.Rect(0, 0, 3, 2))
	for i, p := range px {
		img.Set(i%3, i/3, color.NRGBA{p[0], p[1], p[2], 255})
	}
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, img); err != nil {
		t.Fatal(err)
	}
	// BMP: 24-bit bottom-up, rows padded to 4 bytes (3·3 = 9 -> 12).
	bmp := make([]byte, 54)
	copy(bmp, "BM")
	le := binary.LittleEndian
	le.PutUint32(bmp[10:], 54)
	le.PutUint32(bmp[14:], 40)
	le.PutUint32(bmp[18:], 3)
	le.PutUint32(bmp[22:], 2)
	le.PutUint16(bmp[26:], 1)
	le.PutUint16(bmp[28:], 24)
	for y := 1; y >= 0; y-- {
		for x := 0; x < 3; x++ {
			p := px[y*3+x]
			bmp = append(bmp, p[2], p[1], p[0])
		}
		bmp = append(bmp, 0, 0, 0)
	}
	ppm := []byte("P6\n# a comment\n3 2\n255\n")
	for _, p := range px {
		ppm = append(ppm, p[:]...)
	}
	// TIFF: little-endian, one uncompressed RGB strip after the IFD.
	tiff := []byte("II*\x00\x08\x00\x00\x00")
	entries := [][3]uint32{{256, 4, 3}, {257, 4, 2}, {259, 3, 1}, {262, 3, 2}, {273, 4, 0}, {277, 3, 3}, {278, 4, 2}, {279, 4, 18}}
	dataOff := uint32(8 + 2 + 12*len(entries) + 4)
	tiff = le.AppendUint16(tiff, uint16(len(entries)))
	for _, e := range entries {
		if e[0] == 273 {
			e[2] = dataOff
		}
		tiff = le.AppendUint16(tiff, uint16(e[0]))
		tiff = le.AppendUint16(tiff, uint16(e[1]))
		tiff = le.AppendUint32(tiff, 1)
		tiff = le.AppendUint32(tiff, e[2])
	}
	tiff = le.AppendUint32(tiff, 0)
	for _, p := range px {
		tiff = append(tiff, p[:]...)
	}
	for name, data := range map[string][]byte{"png": pngBuf.Bytes(), "bmp": bmp, "ppm": ppm, "tiff": tiff} {
		for _, format := range []string{"RGB", "BGR", "Grayscale"} {
			y, err := decode(t, data, format, &ops.Ctx{})
			if err != nil {
				t.Fatalf("%s %s: %v", name, format, err)
			}
			got := tensor.Data[uint8](y)
			for i, p := range px {
				var want []uint8
				switch format {
				case "RGB":
					want = p[:]
				case "BGR":
					want = []uint8{p[2], p[1], p[0]}
				default:
					l := math.Round(0.299*float64(p[0]) + 0.587*float64(p[1]) + 0.114*float64(p[2]))
					want = []uint8{uint8(l)}
				}
				ch := len(want)
				if s := y.Shape(); !tensor.SameShape(s, []int{2, 3, ch}) {
					t.Fatalf("%s %s: shape %v", name, format, s)
				}
				for j, w := range want {
					if d := int(got[i*ch+j]) - int(w); d > 1 || d < -1 || (format != "Grayscale" && d != 0) {
						t.Fatalf("%s %s: pixel %d = %v, want %v", name, format, i, got[i*ch:(i+1)*ch], want)
					}
				}
			}
		}
	}
}

func TestImageDecoderRejectsBombsAndGarbage(t *testing.T) {
	// A PNG header that claims 60000x60000 pixels is refused before decoding.
	var buf bytes.Buffer
	png.Encode(&buf, stdimage.NewGray(stdimage.Rect(0, 0, 1, 1)))
	b := buf.Bytes()
	binary.BigEndian.PutUint32(b[16:], 60000)
	binary.BigEndian.PutUint32(b[20:], 60000)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	if _, err := decode(t, b, "RGB", &ops.Ctx{MaxElements: 1 << 24}); !errors.Is(err, ops.ErrLimit) {
		t.Errorf("PNG bomb: err = %v, want ErrLimit", err)
	}
	for _, data := range [][]byte{nil, []byte("BM"), []byte("P6\n3 2\n255\n"), []byte("II*\x00\xff\xff\xff\x00"), []byte("hello"), {0xff, 0xd8, 0xff}} {
		if _, err := decode(t, data, "RGB", &ops.Ctx{}); err == nil {
			t.Errorf("%q: no error", data)
		}
	}
}

func FuzzImageDecoder(f *testing.F) {
	var buf bytes.Buffer
	png.Encode(&buf, stdimage.NewRGBA(stdimage.Rect(0, 0, 2, 2)))
	f.Add(buf.Bytes())
	var jb bytes.Buffer
	jpeg.Encode(&jb, stdimage.NewRGBA(stdimage.Rect(0, 0, 17, 9)), nil)
	f.Add(jb.Bytes())
	f.Add(dcOnlyJPEG(24, 16, []int{-20, 30, 0, 5, 7, -9}))
	f.Add([]byte("P6\n2 1\n255\n\x01\x02\x03\x04\x05\x06"))
	f.Add([]byte("P5 1 1 7 \x03"))
	f.Add([]byte("II*\x00\x08\x00\x00\x00\x01\x00\x00\x01\x04\x00\x01\x00\x00\x00\x02\x00\x00\x00"))
	f.Add(append([]byte("BM"), make([]byte, 60)...))
	k, err := compileDecoder(&ops.Node{OpType: "ImageDecoder", Opset: 20})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		k.Run(&ops.Ctx{MaxElements: 1 << 20}, []*tensor.Tensor{tensor.Must([]int{len(data)}, data)})
	})
}

func BenchmarkGridSampleBilinear64x128x128(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, 64*128*128)
	g := make([]float32, 128*128*2)
	for i := range g {
		g[i] = float32(2*r.Float64() - 1)
	}
	X, G := f32([]int{1, 64, 128, 128}, x...), f32([]int{1, 128, 128, 2}, g...)
	k, _ := compileGridSample(&ops.Node{OpType: "GridSample", Opset: 22})
	c := &ops.Ctx{Threads: 4}
	for b.Loop() {
		if _, err := k.Run(c, []*tensor.Tensor{X, G}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBaselineJPEGAgainstImageJPEG(t *testing.T) {
	// Our libjpeg-exact decoder and Go's image/jpeg differ in IDCT rounding
	// (a level or two) and chroma upsampling (triangle vs nearest); with flat
	// chroma (R = G = B) only the IDCT difference remains.
	for _, size := range [][2]int{{32, 32}, {37, 23}, {8, 8}, {3, 70}} {
		w, h := size[0], size[1]
		img := stdimage.NewNRGBA(stdimage.Rect(0, 0, w, h))
		gray := stdimage.NewGray(stdimage.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				v := uint8(128 + 100*math.Sin(float64(x+2*y)/5))
				img.Set(x, y, color.NRGBA{v, v, v, 255})
				gray.Set(x, y, color.Gray{uint8(255 * (x + y) / (w + h))})
			}
		}
		for _, src := range []stdimage.Image{img, gray} {
			var buf bytes.Buffer
			if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 90}); err != nil {
				t.Fatal(err)
			}
			ours, err := decodeBaselineJPEG(&ops.Ctx{}, buf.Bytes())
			if err != nil {
				t.Fatalf("%dx%d: %v", w, h, err)
			}
			ref, err := jpeg.Decode(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			want := &rgb{w: w, h: h, pix: make([]uint8, 3*w*h)}
			toRGB(ref, want)
			worst := 0
			for i, v := range ours.pix {
				worst = max(worst, int(v)-int(want.pix[i]), int(want.pix[i])-int(v))
			}
			if worst > 3 {
				t.Errorf("%dx%d %T: differs from image/jpeg by up to %d", w, h, src, worst)
			}
		}
	}
}

func TestInference(t *testing.T) {
	known := func(d tensor.DType, dims ...int) tensor.Type { return tensor.TensorType(d, dims...) }
	tests := []struct {
		op    string
		opset int
		attrs []ops.Attr
		in    []tensor.Type
		want  string
	}{
		{"Resize", 19, nil, []tensor.Type{known(tensor.Float32, 1, 3, 8, 8)}, "float32 [-1 -1 -1 -1]"},
		{"Upsample", 7, []ops.Attr{{Name: "scales", Type: ops.AttrFloats, Floats: []float32{1, 1, 2, 3}}}, []tensor.Type{known(tensor.Float32, 1, 3, 4, 5)}, "float32 [1 3 8 15]"},
		{"GridSample", 22, nil, []tensor.Type{known(tensor.Float32, 2, 3, 8, 8), known(tensor.Float32, 2, 5, 6, 2)}, "float32 [2 3 5 6]"},
		{"RoiAlign", 22, []ops.Attr{optest.Int("output_height", 7), optest.Int("output_width", 5)}, []tensor.Type{known(tensor.Float32, 1, 16, 8, 8), known(tensor.Float32, 4, 4), known(tensor.Int64, 4)}, "float32 [4 16 7 5]"},
		{"NonMaxSuppression", 11, nil, []tensor.Type{known(tensor.Float32, 1, 9, 4), known(tensor.Float32, 1, 2, 9)}, "int64 [-1 3]"},
		{"ImageDecoder", 20, []ops.Attr{str("pixel_format", "Grayscale")}, []tensor.Type{known(tensor.Uint8, 100)}, "uint8 [-1 -1 1]"},
		{"AffineGrid", 20, nil, []tensor.Type{known(tensor.Float32, 2, 2, 3), known(tensor.Int64, 4)}, "float32 [2 -1 -1 2]"},
	}
	reg, err := ops.NewRegistry(Ops())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		op, err := reg.Lookup("", tc.op, tc.opset)
		if err != nil {
			t.Fatal(err)
		}
		out, err := op.Infer(&ops.Node{OpType: tc.op, Opset: tc.opset, Attrs: tc.attrs}, tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.op, err)
		}
		dims := make([]int64, len(out[0].Shape))
		for i, d := range out[0].Shape {
			dims[i] = d.Size
		}
		if got := fmt.Sprintf("%v %v", out[0].DType, dims); got != tc.want {
			t.Errorf("%s: inferred %s, want %s", tc.op, got, tc.want)
		}
	}
}

func BenchmarkDecodeJPEG640x480(b *testing.B) {
	img := stdimage.NewNRGBA(stdimage.Rect(0, 0, 640, 480))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7 % 251)
	}
	var buf bytes.Buffer
	jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	b.Run("gort", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeBaselineJPEG(&ops.Ctx{}, buf.Bytes()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("image_jpeg", func(b *testing.B) {
		for b.Loop() {
			if _, err := jpeg.Decode(bytes.NewReader(buf.Bytes())); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// dcOnlyJPEG encodes a gray image of 8x8 blocks that each hold one flat
// value (DC only, quantizer 8), with a restart marker after every block:
// a DC table of twelve 4-bit codes (code = size) and an AC table whose only
// code, "0", is end-of-block.
func dcOnlyJPEG(w, h int, values []int) []byte {
	out := []byte{0xff, 0xd8}
	seg := func(marker byte, payload ...byte) {
		out = append(out, 0xff, marker, byte((len(payload)+2)>>8), byte(len(payload)+2))
		out = append(out, payload...)
	}
	q := make([]byte, 65)
	for i := 1; i < 65; i++ {
		q[i] = 8
	}
	seg(0xdb, q...)
	seg(0xc0, 8, byte(h>>8), byte(h), byte(w>>8), byte(w), 1, 1, 0x11, 0)
	dc := append([]byte{0x00, 0, 0, 0, 12}, make([]byte, 12)...) // class 0 id 0; 12 codes of 4 bits
	seg(0xc4, append(dc, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)...)
	ac := append([]byte{0x10, 1}, make([]byte, 15)...)
	seg(0xc4, append(ac, 0x00)...)
	seg(0xdd, 0, 1) // restart every MCU
	seg(0xda, 1, 1, 0x00, 0, 63, 0)
	for i, v := range values {
		var bits []byte
		s, mag := 0, v
		if mag < 0 {
			mag = -mag
		}
		for mag>>s != 0 {
			s++
		}
		for b := 3; b >= 0; b-- {
			bits = append(bits, byte(s>>b)&1)
		}
		code := v
		if v < 0 {
			code = v - 1
		}
		for b := s - 1; b >= 0; b-- {
			bits = append(bits, byte(code>>b)&1)
		}
		bits = append(bits, 0) // EOB
		for len(bits)%8 != 0 {
			bits = append(bits, 1)
		}
		for j := 0; j < len(bits); j += 8 {
			var by byte
			for _, bit := range bits[j : j+8] {
				by = by<<1 | bit
			}
			out = append(out, by)
			if by == 0xff {
				out = append(out, 0)
			}
		}
		if i < len(values)-1 {
			out = append(out, 0xff, 0xd0+byte(i%8))
		}
	}
	return append(out, 0xff, 0xd9)
}

func TestBaselineJPEGRestartMarkers(t *testing.T) {
	// Without restart handling the second block would decode as -20+30.
	m, err := decodeBaselineJPEG(&ops.Ctx{}, dcOnlyJPEG(24, 8, []int{-20, 30, 0}))
	if err != nil {
		t.Fatal(err)
	}
	for x, want := range []uint8{108, 158, 128} {
		for i := 0; i < 8; i++ {
			if got := m.pix[3*(i*24+8*x+3)]; got != want {
				t.Fatalf("block %d row %d = %d, want %d", x, i, got, want)
			}
		}
	}
}
