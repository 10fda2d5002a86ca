package pretrain

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"strings"
)

// font3x5 is a tiny built-in bitmap font: five rows of three pixels per
// glyph ('#' on), enough for axis labels without a font dependency.
// Letters are drawn as capitals.
var font3x5 = map[rune]string{
	'0': "### #.# #.# #.# ###", '1': ".#. ##. .#. .#. ###", '2': "### ..# ### #.. ###",
	'3': "### ..# .## ..# ###", '4': "#.# #.# ### ..# ..#", '5': "### #.. ### ..# ###",
	'6': "### #.. ### #.# ###", '7': "### ..# .#. .#. .#.", '8': "### #.# ### #.# ###",
	'9': "### #.# ### ..# ###", '.': "... ... ... ... .#.", '-': "... ... ### ... ...",
	':': "... .#. ... .#. ...", '(': ".#. #.. #.. #.. .#.", ')': ".#. ..# ..# ..# .#.",
	'/': "..# ..# .#. #.. #..", '=': "... ### ... ### ...", '+': "... .#. ### .#. ...",
	'%': "#.# ..# .#. #.. #.#", ' ': "... ... ... ... ...", '_': "... ... ... ... ###",
	'A': ".#. #.# ### #.# #.#", 'B': "##. #.# ##. #.# ##.", 'C': ".## #.. #.. #.. .##",
	'D': "##. #.# #.# #.# ##.", 'E': "### #.. ##. #.. ###", 'F': "### #.. ##. #.. #..",
	'G': ".## #.. #.# #.# .##", 'H': "#.# #.# ### #.# #.#", 'I': "### .#. .#. .#. ###",
	'J': "..# ..# ..# #.# .#.", 'K': "#.# #.# ##. #.# #.#", 'L': "#.. #.. #.. #.. ###",
	'M': "#.# ### ### #.# #.#", 'N': "##. #.# #.# #.# #.#", 'O': ".#. #.# #.# #.# .#.",
	'P': "##. #.# ##. #.. #..", 'Q': ".#. #.# #.# ##. .##", 'R': "##. #.# ##. #.# #.#",
	'S': ".## #.. .#. ..# ##.", 'T': "### .#. .#. .#. .#.", 'U': "#.# #.# #.# #.# ###",
	'V': "#.# #.# #.# #.# .#.", 'W': "#.# #.# ### ### #.#", 'X': "#.# #.# .#. #.# #.#",
	'Y': "#.# #.# .#. .#. .#.", 'Z': "### ..# .#. #.. ###",
}

// drawText writes s with its top-left corner at (x, y), each font pixel a
// scale×scale square.
func drawText(img *image.RGBA, x, y int, s string, scale int, c color.RGBA) {
	for _, ch := range strings.ToUpper(s) {
		g, ok := font3x5[ch]
		if !ok {
			g = font3x5[' ']
		}
		rows := strings.Fields(g)
		for ry, row := range rows {
			for rx, p := range row {
				if p != '#' {
					continue
				}
				for dy := 0; dy < scale; dy++ {
					for dx := 0; dx < scale; dx++ {
						setPx(img, x+rx*scale+dx, y+ry*scale+dy, c)
					}
				}
			}
		}
		x += 4 * scale
	}
}

func textWidth(s string, scale int) int { return len([]rune(s))*4*scale - scale }

func setPx(img *image.RGBA, x, y int, c color.RGBA) {
	if image.Pt(x, y).In(img.Rect) {
		img.SetRGBA(x, y, c)
	}
}

// drawLine is Bresenham's line, w pixels thick.
func drawLine(img *image.RGBA, x0, y0, x1, y1, w int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		for a := 0; a < w; a++ {
			for b := 0; b < w; b++ {
				setPx(img, x0+a-w/2, y0+b-w/2, c)
			}
		}
		if x0 == x1 && y0 == y1 {
			return
		}
		if e2 := 2 * e; e2 >= dy {
			e += dy
			x0 += sx
		} else {
			e += dx
			y0 += sy
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func sign(x int) int {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

// Series is one curve of a plot.
type Series struct {
	Name  string
	X, Y  []float64
	Color color.RGBA
	Dots  bool // mark points instead of joining them
}

// LossPlot draws the series on shared axes (x: step, y: loss) with ticks,
// tick labels, axis titles and a legend, w×h pixels.
func LossPlot(title string, w, h int, series ...Series) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	black := color.RGBA{0, 0, 0, 255}
	grey := color.RGBA{225, 225, 225, 255}
	const sc = 2
	left, right, top, bottom := 80, 20, 40, 50
	pw, ph := w-left-right, h-top-bottom
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for i := range s.X {
			if math.IsNaN(s.Y[i]) || math.IsInf(s.Y[i], 0) {
				continue
			}
			xmin, xmax = math.Min(xmin, s.X[i]), math.Max(xmax, s.X[i])
			ymin, ymax = math.Min(ymin, s.Y[i]), math.Max(ymax, s.Y[i])
		}
	}
	if xmin > xmax {
		xmin, xmax, ymin, ymax = 0, 1, 0, 1
	}
	if xmax == xmin {
		xmax = xmin + 1
	}
	ymin = math.Min(0, ymin)
	if ymax == ymin {
		ymax = ymin + 1
	}
	ystep := niceStep((ymax - ymin) / 5)
	ymax = math.Ceil(ymax/ystep) * ystep
	xstep := niceStep((xmax - xmin) / 6)
	px := func(x float64) int { return left + int(math.Round((x-xmin)/(xmax-xmin)*float64(pw))) }
	py := func(y float64) int { return top + ph - int(math.Round((y-ymin)/(ymax-ymin)*float64(ph))) }
	for y := math.Ceil(ymin/ystep) * ystep; y <= ymax+ystep/1e6; y += ystep {
		drawLine(img, left, py(y), left+pw, py(y), 1, grey)
		l := trimNum(y, ystep)
		drawText(img, left-8-textWidth(l, sc), py(y)-5, l, sc, black)
	}
	for x := math.Ceil(xmin/xstep) * xstep; x <= xmax+xstep/1e6; x += xstep {
		drawLine(img, px(x), top+ph, px(x), top+ph+5, 1, black)
		l := trimNum(x, xstep)
		drawText(img, px(x)-textWidth(l, sc)/2, top+ph+10, l, sc, black)
	}
	drawLine(img, left, top, left, top+ph, 2, black)
	drawLine(img, left, top+ph, left+pw, top+ph, 2, black)
	drawText(img, left+pw/2-textWidth("step", sc)/2, h-18, "step", sc, black)
	drawText(img, 8, top-26, "loss", sc, black)
	drawText(img, left+pw/2-textWidth(title, sc)/2, 8, title, sc, black)
	lx := left + pw - 10
	for i, s := range series {
		y := top + 10 + i*16
		drawText(img, lx-textWidth(s.Name, sc), y, s.Name, sc, s.Color)
		drawLine(img, lx-textWidth(s.Name, sc)-28, y+5, lx-textWidth(s.Name, sc)-8, y+5, 3, s.Color)
	}
	for _, s := range series {
		for i := range s.X {
			if math.IsNaN(s.Y[i]) || math.IsInf(s.Y[i], 0) {
				continue
			}
			x, y := px(s.X[i]), py(s.Y[i])
			if s.Dots {
				for d := -2; d <= 2; d++ {
					drawLine(img, x-2, y+d, x+2, y+d, 1, s.Color)
				}
			} else if i > 0 {
				drawLine(img, px(s.X[i-1]), py(s.Y[i-1]), x, y, 2, s.Color)
			}
		}
	}
	return img
}

// niceStep rounds a raw tick spacing to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / p; {
	case f <= 1:
		return p
	case f <= 2:
		return 2 * p
	case f <= 5:
		return 5 * p
	}
	return 10 * p
}

func trimNum(v, step float64) string {
	if step >= 1 {
		return fmt.Sprintf("%.0f", v)
	}
	d := int(math.Ceil(-math.Log10(step)))
	return fmt.Sprintf("%.*f", d, v)
}
