package pretrain

import (
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Masking selects about 15% of the non-special tokens and replaces them
// 80/10/10; labels are set exactly at selected positions.
func TestMaskProportions(t *testing.T) {
	const n, vocab, maskID = 200, 1000, 4
	e := newExample(n)
	e.push(2, 0, false, true)
	for i := 1; i < n-1; i++ {
		e.push(int64(10+i), 0, true, false)
	}
	e.push(3, 0, false, true)
	o := MaskOptions{Prob: 0.15, MaskID: maskID, FirstNormal: 5, Vocab: vocab}
	r := newRand(1, 1)
	var sel, masked, random, kept, total int
	for it := 0; it < 500; it++ {
		ids, labels := Mask(e, o, r)
		for i := range ids {
			if e.Special[i] {
				if labels[i] != IgnoreIndex || ids[i] != e.IDs[i] {
					t.Fatalf("special token %d touched", i)
				}
				continue
			}
			total++
			if labels[i] == IgnoreIndex {
				if ids[i] != e.IDs[i] {
					t.Fatalf("unselected token %d changed", i)
				}
				continue
			}
			if labels[i] != e.IDs[i] {
				t.Fatalf("label %d is %d, want the original %d", i, labels[i], e.IDs[i])
			}
			sel++
			switch {
			case ids[i] == maskID:
				masked++
			case ids[i] == e.IDs[i]:
				kept++
			default:
				random++
				if ids[i] < 5 || ids[i] >= vocab {
					t.Fatalf("random replacement %d outside [5, %d)", ids[i], vocab)
				}
			}
		}
	}
	frac := float64(sel) / float64(total)
	if math.Abs(frac-0.15) > 0.01 {
		t.Errorf("selected %.3f of tokens, want 0.15", frac)
	}
	for _, c := range []struct {
		name string
		got  int
		want float64
	}{{"[MASK]", masked, 0.8}, {"random", random, 0.1}, {"kept", kept, 0.1}} {
		// A random replacement equals the original 1/995 of the time.
		if f := float64(c.got) / float64(sel); math.Abs(f-c.want) > 0.02 {
			t.Errorf("%s: %.3f of selected tokens, want %.2f", c.name, f, c.want)
		}
	}
}

// Whole-word masking selects every piece of a word or none, and every
// example gets at least one prediction.
func TestWholeWordMask(t *testing.T) {
	e := newExample(12)
	e.push(2, 0, false, true)
	words := [][]int64{{10, 11, 12}, {13}, {14, 15}, {16, 17, 18, 19}}
	for _, w := range words {
		for j, id := range w {
			e.push(id, 0, j == 0, false)
		}
	}
	e.push(3, 0, false, true)
	r := newRand(2, 2)
	for it := 0; it < 300; it++ {
		_, labels := Mask(e, MaskOptions{Prob: 0.15, WholeWord: true, MaskID: 4, FirstNormal: 5, Vocab: 50}, r)
		pos, any := 1, false
		for _, w := range words {
			first := labels[pos] != IgnoreIndex
			for j := range w {
				if (labels[pos+j] != IgnoreIndex) != first {
					t.Fatalf("iteration %d: word %v partly selected: labels %v", it, w, labels)
				}
			}
			any = any || first
			pos += len(w)
		}
		if !any {
			t.Fatalf("iteration %d: nothing selected", it)
		}
	}
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Text files split documents at blank lines; JSONL files give one document
// per object; folders are read in sorted order.
func TestTextDocs(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.txt", "one.\ntwo.\n\n\nthree.\r\n")
	writeFile(t, dir, "b.jsonl", `{"text": "four.\nfive."}`+"\n\n"+`{"text": "six.", "id": 3}`+"\n")
	writeFile(t, dir, "c.bin", "ignored")
	src, err := newTextDocs(dir)
	if err != nil {
		t.Fatal(err)
	}
	var err2 error
	var got []string
	var idx []int64
	for i, d := range src.all(&err2) {
		got = append(got, strings.Join(d, "|"))
		idx = append(idx, i)
	}
	if err2 != nil {
		t.Fatal(err2)
	}
	want := []string{"one.|two.", "three.", "four.|five.", "six."}
	if !slices.Equal(got, want) || !slices.Equal(idx, []int64{0, 1, 2, 3}) {
		t.Errorf("documents %q %v, want %q", got, idx, want)
	}
	writeFile(t, dir, "d.jsonl", `{"body": "x"}`+"\n")
	for range src.all(&err2) {
	}
	if _, err := newTextDocs(dir); err != nil {
		t.Fatal(err)
	}
	src, _ = newTextDocs(dir)
	err2 = nil
	for range src.all(&err2) {
	}
	if err2 == nil || !strings.Contains(err2.Error(), `"text"`) {
		t.Errorf("JSONL line without text: error %v", err2)
	}
}

// The shuffle buffer yields a permutation, the same for the same seed and
// different for another.
func TestShuffledDeterministic(t *testing.T) {
	src := func(yield func(int) bool) {
		for i := 0; i < 1000; i++ {
			if !yield(i) {
				return
			}
		}
	}
	collect := func(seed uint64) []int {
		var out []int
		for v := range shuffled(src, 64, newRand(seed, 1)) {
			out = append(out, v)
		}
		return out
	}
	a, b, c := collect(1), collect(1), collect(2)
	if !slices.Equal(a, b) || slices.Equal(a, c) {
		t.Error("shuffle is not a function of the seed")
	}
	s := slices.Clone(a)
	slices.Sort(s)
	for i, v := range s {
		if v != i {
			t.Fatalf("not a permutation: %v", s[:10])
		}
	}
	val := 0
	for i := int64(0); i < 10000; i++ {
		if isValidation(7, i, 0.1) {
			val++
		}
	}
	if val < 900 || val > 1100 {
		t.Errorf("validation split holds %d of 10000 documents, want about 1000", val)
	}
}

// Images of any size are resized and center-cropped; the shipped images
// decode.
func TestImages(t *testing.T) {
	files, err := listFiles("../data/images", ".png", ".jpg", ".jpeg")
	if err != nil {
		t.Fatal(err)
	}
	// 60×30: red, green and blue thirds. The shorter side becomes 16 and
	// the center crop keeps a sliver of red, the green third and some blue.
	img := image.NewRGBA(image.Rect(0, 0, 60, 30))
	for y := 0; y < 30; y++ {
		for x := 0; x < 60; x++ {
			c := color.RGBA{0, 0, 0, 255}
			switch {
			case x < 20:
				c.R = 255
			case x < 40:
				c.G = 255
			default:
				c.B = 255
			}
			img.SetRGBA(x, y, c)
		}
	}
	dst := make([]float32, 3*16*16)
	toTensor(img, 16, dst)
	norm := func(ch int, v float32) float32 { return (v - imageMean[ch]) / imageStd[ch] }
	at := func(ch, y, x int) float32 { return dst[ch*256+y*16+x] }
	for _, c := range []struct {
		x   int
		rgb [3]float32
	}{{0, [3]float32{1, 0, 0}}, {8, [3]float32{0, 1, 0}}, {15, [3]float32{0, 0, 1}}} {
		for ch := 0; ch < 3; ch++ {
			if math.Abs(float64(at(ch, 8, c.x)-norm(ch, c.rgb[ch]))) > 1e-4 {
				t.Errorf("pixel (8, %d) channel %d = %.4f, want %.4f", c.x, ch, at(ch, 8, c.x), norm(ch, c.rgb[ch]))
			}
		}
	}
	b, err := imageBatch(files[:3], 24)
	if err != nil || !slices.Equal(b.Shape(), []int{3, 3, 24, 24}) {
		t.Fatalf("batch %v, %v", b, err)
	}
}
