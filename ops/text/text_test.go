package text

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/optest"
	"github.com/gort-ml/gort/tensor"
)

func str(name, v string) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrString, S: []byte(v)} }

func strs(name string, v ...string) ops.Attr {
	a := ops.Attr{Name: name, Type: ops.AttrStrings}
	for _, s := range v {
		a.Strings = append(a.Strings, []byte(s))
	}
	return a
}

func ints(name string, v ...int64) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrInts, Ints: v} }

func run1(t *testing.T, op string, opset int, attrs []ops.Attr, outputs int, in ...*tensor.Tensor) []*tensor.Tensor {
	t.Helper()
	names := []string{"a", "b"}[:outputs]
	res, err := optest.Run(t, Ops(), op, opset, attrs, names, in...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func want(t *testing.T, got, exp *tensor.Tensor) {
	t.Helper()
	if !tensor.Equal(got, exp) {
		t.Fatalf("got %v, want %v", got, exp)
	}
}

func TestStringSplit(t *testing.T) {
	x := tensor.Must([]int{2, 2}, []string{"  a b\tc ", "", "one", "x  y"})
	cases := []struct {
		name   string
		attrs  []ops.Attr
		sub    []string
		width  int
		length []int64
	}{
		{"whitespace", nil, []string{"a", "b", "c", "", "", "", "one", "", "", "x", "y", ""}, 3, []int64{3, 0, 1, 2}},
		{"whitespace maxsplit", []ops.Attr{optest.Int("maxsplit", 1)}, []string{"a", "b\tc ", "", "", "one", "", "x", "y"}, 2, []int64{2, 0, 1, 2}},
		{"delimiter", []ops.Attr{str("delimiter", " ")}, []string{"", "", "a", "b\tc", "", "", "", "", "", "", "one", "", "", "", "", "x", "", "y", "", ""}, 5, []int64{5, 1, 1, 3}},
		{"multi-char delimiter", []ops.Attr{str("delimiter", "  ")}, []string{"", "a b\tc ", "", "", "one", "", "x", "y"}, 2, []int64{2, 1, 1, 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := run1(t, "StringSplit", 20, c.attrs, 2, x)
			want(t, res[0], tensor.Must([]int{2, 2, c.width}, c.sub))
			want(t, res[1], tensor.Must([]int{2, 2}, c.length))
		})
	}
	res := run1(t, "StringSplit", 20, nil, 2, tensor.Must([]int{0}, []string{}))
	want(t, res[0], tensor.Must([]int{0, 0}, []string{}))
}

func TestStringNormalizer(t *testing.T) {
	x := tensor.Must([]int{4}, []string{"Monday", "été", "monday", "istanbul"})
	cases := []struct {
		name  string
		attrs []ops.Attr
		in    *tensor.Tensor
		want  *tensor.Tensor
	}{
		{"insensitive upper", []ops.Attr{str("case_change_action", "UPPER"), strs("stopwords", "MONDAY")}, x,
			tensor.Must([]int{2}, []string{"ÉTÉ", "ISTANBUL"})},
		{"sensitive lower", []ops.Attr{str("case_change_action", "LOWER"), optest.Int("is_case_sensitive", 1), strs("stopwords", "monday")}, x,
			tensor.Must([]int{3}, []string{"monday", "été", "istanbul"})},
		{"turkish upper", []ops.Attr{str("case_change_action", "UPPER"), str("locale", "tr_TR")}, x,
			tensor.Must([]int{4}, []string{"MONDAY", "ÉTÉ", "MONDAY", "İSTANBUL"})},
		{"all dropped [1, C]", []ops.Attr{strs("stopwords", "a")}, tensor.Must([]int{1, 2}, []string{"a", "A"}),
			tensor.Must([]int{1, 1}, []string{""})},
		{"all dropped [C]", []ops.Attr{strs("stopwords", "a"), optest.Int("is_case_sensitive", 1)}, tensor.Must([]int{1}, []string{"a"}),
			tensor.Must([]int{1}, []string{""})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want(t, run1(t, "StringNormalizer", 10, c.attrs, 1, c.in)[0], c.want)
		})
	}
	if _, err := optest.Run(t, Ops(), "StringNormalizer", 10, nil, []string{"y"}, tensor.Must([]int{2, 2}, []string{"a", "b", "c", "d"})); err == nil {
		t.Fatal("[2, 2] input accepted")
	}
}

func TestStringConcatAndRegex(t *testing.T) {
	x := tensor.Must([]int{2, 1}, []string{"a", "é"})
	y := tensor.Must([]int{3}, []string{"1", "", "22"})
	want(t, run1(t, "StringConcat", 20, nil, 1, x, y)[0], tensor.Must([]int{2, 3}, []string{"a1", "a", "a22", "é1", "é", "é22"}))

	s := tensor.Must([]int{4}, []string{"abc", "xabc", "abcx", "ab"})
	want(t, run1(t, "RegexFullMatch", 20, []ops.Attr{str("pattern", "a.c|ab")}, 1, s)[0], tensor.Must([]int{4}, []bool{true, false, false, true}))
	if _, err := optest.Run(t, Ops(), "RegexFullMatch", 20, []ops.Attr{str("pattern", "(a")}, []string{"y"}, s); err == nil || !strings.Contains(err.Error(), "pattern") {
		t.Fatalf("invalid pattern: error %v", err)
	}
	// Lookahead is not RE2.
	if _, err := optest.Run(t, Ops(), "RegexFullMatch", 20, []ops.Attr{str("pattern", "a(?=b)")}, []string{"y"}, s); err == nil {
		t.Fatal("non-RE2 pattern accepted")
	}
}

func TestTfIdfVectorizer(t *testing.T) {
	// Pool: unigrams [1, 2], bigrams [1 2], [2 3]; outputs reordered by ngram_indexes.
	base := []ops.Attr{ints("ngram_counts", 0, 2), ints("ngram_indexes", 3, 2, 1, 0), ints("pool_int64s", 1, 2, 1, 2, 2, 3)}
	x := tensor.Must([]int{2, 5}, []int64{1, 2, 3, 1, 2, 2, 9, 3, 1, 1})
	cases := []struct {
		name  string
		attrs []ops.Attr
		want  []float32
	}{
		// Row 0 (1 2 3 1 2): 1 x2, 2 x2, (1 2) x2, (2 3) x1. Row 1 (2 9 3 1 1): 1 x2, 2 x1.
		{"tf uni and bi", []ops.Attr{str("mode", "TF"), optest.Int("min_gram_length", 1), optest.Int("max_gram_length", 2)},
			[]float32{1, 2, 2, 2, 0, 0, 1, 2}},
		// Skip 1 also pairs tokens two apart: row 0 adds (1 3)? not pooled, (2 1)? no, (3 2)? no; row 1 adds (2 3).
		{"tf bigrams skip 1", []ops.Attr{str("mode", "TF"), optest.Int("min_gram_length", 2), optest.Int("max_gram_length", 2), optest.Int("max_skip_count", 1)},
			[]float32{1, 2, 0, 0, 1, 0, 0, 0}},
		{"idf weights", []ops.Attr{str("mode", "IDF"), optest.Int("min_gram_length", 1), optest.Int("max_gram_length", 2), {Name: "weights", Type: ops.AttrFloats, Floats: []float32{10, 20, 30, 40}}},
			[]float32{10, 20, 30, 40, 0, 0, 30, 40}},
		{"tfidf weights", []ops.Attr{str("mode", "TFIDF"), optest.Int("min_gram_length", 1), optest.Int("max_gram_length", 1), {Name: "weights", Type: ops.AttrFloats, Floats: []float32{10, 20, 30, 40}}},
			[]float32{0, 0, 60, 80, 0, 0, 30, 80}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := run1(t, "TfIdfVectorizer", 9, append(append([]ops.Attr{}, base...), c.attrs...), 1, x)[0]
			want(t, got, tensor.Must([]int{2, 4}, c.want))
		})
	}
	// String pool and 1-D input.
	sattrs := []ops.Attr{str("mode", "TF"), optest.Int("min_gram_length", 1), optest.Int("max_gram_length", 2), ints("ngram_counts", 0, 2),
		ints("ngram_indexes", 0, 1, 2), strs("pool_strings", "a", "b", "a", "b")}
	got := run1(t, "TfIdfVectorizer", 9, sattrs, 1, tensor.Must([]int{4}, []string{"a", "b", "c", "a"}))[0]
	want(t, got, tensor.Must([]int{3}, []float32{2, 1, 1}))
}

func TestTfIdfBadAttributes(t *testing.T) {
	good := map[string]ops.Attr{
		"mode": str("mode", "TF"), "min_gram_length": optest.Int("min_gram_length", 1), "max_gram_length": optest.Int("max_gram_length", 2),
		"ngram_counts": ints("ngram_counts", 0, 2), "ngram_indexes": ints("ngram_indexes", 0, 1, 2, 3), "pool_int64s": ints("pool_int64s", 1, 2, 1, 2, 2, 3),
	}
	cases := []struct {
		replace ops.Attr
		want    string
	}{
		{ints("ngram_indexes", 0, 1), "ngram_indexes"},
		{ints("ngram_indexes", 0, 1, -2, 3), "ngram_indexes"},
		{ints("ngram_counts", 0, 9), "ngram_counts"},
		{ints("ngram_counts", 3, 1), "ngram_counts"},
		{str("mode", "BM25"), "mode"},
		{optest.Int("min_gram_length", 3), "min_gram_length"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			var attrs []ops.Attr
			for name, a := range good {
				if name != c.replace.Name {
					attrs = append(attrs, a)
				}
			}
			attrs = append(attrs, c.replace)
			_, err := optest.Run(t, Ops(), "TfIdfVectorizer", 9, attrs, []string{"y"}, tensor.Must([]int{2}, []int64{1, 2}))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one naming %s", err, c.want)
			}
		})
	}
}

// TestRandomInputsNoPanic runs every schema on random inputs: errors, never panics.
func TestRandomInputsNoPanic(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	attrs := []ops.Attr{str("mode", "TFIDF"), optest.Int("min_gram_length", 1), optest.Int("max_gram_length", 3), optest.Int("max_skip_count", 2),
		ints("ngram_counts", 0, 2, 4), ints("ngram_indexes", 0, 1, 2, 3), ints("pool_int64s", 1, 2, 1, 2, 2, 3), str("pattern", "a+"),
		optest.Int("maxsplit", 1), strs("stopwords", "a")}
	for _, op := range Ops() {
		k, err := op.Compile(&ops.Node{OpType: op.Type, Opset: op.Since, Attrs: attrs, Outputs: []string{"a", "b"}})
		if err != nil {
			t.Fatalf("%s: %v", op.Type, err)
		}
		for trial := 0; trial < 500; trial++ {
			in := make([]*tensor.Tensor, r.IntN(3))
			for i := range in {
				shape := make([]int, r.IntN(4))
				for j := range shape {
					shape[j] = r.IntN(4)
				}
				switch r.IntN(3) {
				case 0:
					s := tensor.Zeros(tensor.String, shape...)
					for j, d := 0, tensor.Data[string](s); j < len(d); j++ {
						d[j] = fmt.Sprint(r.IntN(3), " a")
					}
					in[i] = s
				case 1:
					in[i] = tensor.Zeros(tensor.Int64, shape...)
				}
			}
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("%s panicked on %v: %v", op.Type, in, p)
					}
				}()
				k.Run(&ops.Ctx{Threads: 1}, in)
			}()
		}
	}
}
