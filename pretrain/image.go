package pretrain

import (
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // JPEG folders
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/gort-ml/gort/tensor"
)

// ImageNet normalization, as ViTMAEImageProcessor uses by default.
var (
	imageMean = [3]float32{0.485, 0.456, 0.406}
	imageStd  = [3]float32{0.229, 0.224, 0.225}
)

// loadImage decodes a PNG or JPEG file, resizes its shorter side to size
// (bilinear), center-crops size×size and writes normalized channel-first
// values into dst (3·size·size).
func loadImage(path string, size int, dst []float32) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("pretrain: %w", err)
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return fmt.Errorf("pretrain: %s: %w", path, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > 1<<26 {
		return fmt.Errorf("pretrain: %s: image of %dx%d pixels refused (at most 64 megapixels)", path, cfg.Width, cfg.Height)
	}
	if _, err := f.Seek(0, 0); err != nil {
		return err
	}
	img, _, err := image.Decode(f)
	if err != nil {
		return fmt.Errorf("pretrain: %s: %w", path, err)
	}
	toTensor(img, size, dst)
	return nil
}

// toTensor resizes, crops and normalizes img into dst (3, size, size).
func toTensor(img image.Image, size int, dst []float32) {
	b := img.Bounds()
	w, h := float64(b.Dx()), float64(b.Dy())
	scale := float64(size) / math.Min(w, h)
	// Crop offset in the scaled image.
	ox, oy := (w*scale-float64(size))/2, (h*scale-float64(size))/2
	px := func(x, y int) [3]float64 {
		x = min(max(x, 0), b.Dx()-1)
		y = min(max(y, 0), b.Dy()-1)
		r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
		return [3]float64{float64(r) / 65535, float64(g) / 65535, float64(bl) / 65535}
	}
	n := size * size
	for y := 0; y < size; y++ {
		sy := (float64(y)+oy+0.5)/scale - 0.5
		y0 := int(math.Floor(sy))
		fy := sy - float64(y0)
		for x := 0; x < size; x++ {
			sx := (float64(x)+ox+0.5)/scale - 0.5
			x0 := int(math.Floor(sx))
			fx := sx - float64(x0)
			a, bb, c, d := px(x0, y0), px(x0+1, y0), px(x0, y0+1), px(x0+1, y0+1)
			for ch := 0; ch < 3; ch++ {
				v := (a[ch]*(1-fx)+bb[ch]*fx)*(1-fy) + (c[ch]*(1-fx)+d[ch]*fx)*fy
				dst[ch*n+y*size+x] = (float32(v) - imageMean[ch]) / imageStd[ch]
			}
		}
	}
}

// imageBatch loads paths into a (B, 3, size, size) pixel_values tensor.
func imageBatch(paths []string, size int) (*tensor.Tensor, error) {
	per := 3 * size * size
	data := make([]float32, len(paths)*per)
	for i, p := range paths {
		if err := loadImage(p, size, data[i*per:(i+1)*per]); err != nil {
			return nil, err
		}
	}
	return tensor.Must([]int{len(paths), 3, size, size}, data), nil
}

// uniformNoise is MAE's masking noise (B, n) for one step: the patches of
// smallest noise are kept.
func uniformNoise(b, n int, r *rand.Rand) *tensor.Tensor {
	d := make([]float32, b*n)
	for i := range d {
		d[i] = r.Float32()
	}
	return tensor.Must([]int{b, n}, d)
}

// WriteSyntheticImages writes n PNG images of size×size into dir: soft
// colored discs and stripes on gradient backgrounds, structured enough that
// masked patches are predictable from visible ones. Output depends only on
// seed.
func WriteSyntheticImages(dir string, n, size int, seed uint64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(seed, 0x1a6e))
	for k := 0; k < n; k++ {
		img := syntheticImage(r, size)
		if err := writePNG(filepath.Join(dir, fmt.Sprintf("img%03d.png", k)), img); err != nil {
			return err
		}
	}
	return nil
}

func syntheticImage(r *rand.Rand, size int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	bg0 := [3]float64{r.Float64(), r.Float64(), r.Float64()}
	bg1 := [3]float64{r.Float64(), r.Float64(), r.Float64()}
	fg := [3]float64{r.Float64(), r.Float64(), r.Float64()}
	cx, cy := r.Float64()*float64(size), r.Float64()*float64(size)
	rad := (0.15 + 0.25*r.Float64()) * float64(size)
	period := 4 + r.Float64()*8
	stripes := r.IntN(2) == 0
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			t := float64(x+y) / float64(2*size)
			var c [3]float64
			for i := range c {
				c[i] = bg0[i]*(1-t) + bg1[i]*t
			}
			if stripes && math.Sin(float64(x)*2*math.Pi/period) > 0.3 {
				for i := range c {
					c[i] = 0.6*c[i] + 0.4*(1-bg0[i])
				}
			}
			d := math.Hypot(float64(x)-cx, float64(y)-cy)
			if a := math.Min(1, math.Max(0, rad-d+0.5)); a > 0 {
				for i := range c {
					c[i] = c[i]*(1-a) + fg[i]*a
				}
			}
			img.SetRGBA(x, y, color.RGBA{uint8(c[0]*255 + 0.5), uint8(c[1]*255 + 0.5), uint8(c[2]*255 + 0.5), 255})
		}
	}
	return img
}

func writePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// reconstructionGrid draws one row per image: the original, the image with
// its masked patches grey, and the reconstruction (predicted patches
// pasted over the visible ones), scaled up by zoom. pix is (B, 3, S, S)
// normalized, logits (B, n, P·P·3) in patchify order, mask (B, n).
// normPix undoes the per-patch normalization with the original patch's
// mean and variance, as the MAE paper's visualization does.
func reconstructionGrid(pix, logits, mask []float32, b, size, patch int, normPix bool, zoom int) *image.RGBA {
	grid := size / patch
	n := grid * grid
	pp := patch * patch * 3
	cell := size * zoom
	gap := 2
	img := image.NewRGBA(image.Rect(0, 0, 3*cell+4*gap, b*cell+(b+1)*gap))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	plane := size * size
	get := func(k, ch, y, x int) float32 { return pix[k*3*plane+ch*plane+y*size+x] }
	for k := 0; k < b; k++ {
		for pi := 0; pi < n; pi++ {
			gy, gx := pi/grid, pi%grid
			masked := mask[k*n+pi] > 0.5
			// Patch statistics of the target, for un-normalizing.
			var mean, std float64 = 0, 1
			if normPix {
				var s, s2 float64
				for y := 0; y < patch; y++ {
					for x := 0; x < patch; x++ {
						for ch := 0; ch < 3; ch++ {
							v := float64(get(k, ch, gy*patch+y, gx*patch+x))
							s += v
							s2 += v * v
						}
					}
				}
				mean = s / float64(pp)
				vr := (s2 - s*mean) / float64(max(pp-1, 1))
				std = math.Sqrt(math.Max(vr, 0) + 1e-6)
			}
			for y := 0; y < patch; y++ {
				for x := 0; x < patch; x++ {
					var orig, pred [3]float32
					for ch := 0; ch < 3; ch++ {
						orig[ch] = get(k, ch, gy*patch+y, gx*patch+x)
						pred[ch] = orig[ch]
						if masked {
							pred[ch] = float32(float64(logits[(k*n+pi)*pp+(y*patch+x)*3+ch])*std + mean)
						}
					}
					oy := gap + k*(cell+gap) + (gy*patch+y)*zoom
					for col := 0; col < 3; col++ {
						ox := gap + col*(cell+gap) + (gx*patch+x)*zoom
						var c color.RGBA
						switch {
						case col == 0:
							c = denorm(orig)
						case col == 1 && masked:
							c = color.RGBA{128, 128, 128, 255}
						case col == 1:
							c = denorm(orig)
						default:
							c = denorm(pred)
						}
						for dy := 0; dy < zoom; dy++ {
							for dx := 0; dx < zoom; dx++ {
								img.SetRGBA(ox+dx, oy+dy, c)
							}
						}
					}
				}
			}
		}
	}
	return img
}

func denorm(v [3]float32) color.RGBA {
	var c [3]uint8
	for ch := 0; ch < 3; ch++ {
		x := float64(v[ch]*imageStd[ch] + imageMean[ch])
		c[ch] = uint8(math.Round(math.Min(1, math.Max(0, x)) * 255))
	}
	return color.RGBA{c[0], c[1], c[2], 255}
}
