package tokenizer

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// parityCase is one line of cases.jsonl written by
// conformance/interop/tokenizers/parity.py.
type parityCase struct {
	Tok     string   `json:"tok"`
	A       string   `json:"a"`
	B       *string  `json:"b"`
	IDs     []int    `json:"ids"`
	TypeIDs []int    `json:"type_ids"`
	Offsets [][2]int `json:"offsets"`
	Special []int    `json:"special"`
	Decode  string   `json:"decode"`
}

func parityDir(t *testing.T) string {
	dir := os.Getenv("GORT_TOKENIZER_PARITY")
	if dir == "" {
		t.Skip("GORT_TOKENIZER_PARITY is unset; run conformance/interop/tokenizers/run.sh for the Hugging Face parity check")
	}
	return dir
}

func readCases(t *testing.T, path string) []parityCase {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []parityCase
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var c parityCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, c)
	}
	return cases
}

// encodeCase encodes c as the Python binding reports it: character offsets.
func encodeCase(tk *Tokenizer, c parityCase) parityCase {
	b := ""
	if c.B != nil {
		b = *c.B
	}
	e, err := tk.EncodeWith(c.A, b, c.B != nil, true)
	if err != nil {
		return parityCase{Decode: "error: " + err.Error()}
	}
	got := parityCase{Tok: c.Tok, A: c.A, B: c.B, IDs: e.IDs, TypeIDs: e.TypeIDs, Special: e.SpecialTokensMask,
		Decode: tk.Decode(e.IDs, true), Offsets: make([][2]int, len(e.Offsets))}
	ca, cb := CharOffsets(c.A, e.Offsets), CharOffsets(b, e.Offsets)
	for i, s := range e.SequenceIDs {
		switch s {
		case 0:
			got.Offsets[i] = ca[i]
		case 1:
			got.Offsets[i] = cb[i]
		default:
			got.Offsets[i] = e.Offsets[i]
		}
	}
	return got
}

func diffCase(want, got parityCase) []string {
	var d []string
	if !slices.Equal(want.IDs, got.IDs) {
		d = append(d, "ids")
	}
	if !slices.Equal(want.TypeIDs, got.TypeIDs) {
		d = append(d, "type_ids")
	}
	if !slices.Equal(want.Offsets, got.Offsets) {
		d = append(d, "offsets")
	}
	if !slices.Equal(want.Special, got.Special) {
		d = append(d, "special")
	}
	if want.Decode != got.Decode {
		d = append(d, "decode")
	}
	return d
}

// TestParityHF checks gort against Hugging Face's encodings of thousands of
// varied strings: identical ids, type ids, offsets, special-token masks and
// decoded text.
func TestParityHF(t *testing.T) {
	dir := parityDir(t)
	cases := readCases(t, filepath.Join(dir, "cases.jsonl"))
	toks := map[string]*Tokenizer{}
	get := func(name string) *Tokenizer {
		if tk, ok := toks[name]; ok {
			return tk
		}
		tk, err := Load(filepath.Join(dir, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		toks[name] = tk
		return tk
	}
	vt, err := FromVocabTxt(filepath.Join(dir, "vocab.txt"), true)
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]int{}
	n := map[string]int{}
	check := func(name string, tk *Tokenizer, c parityCase) {
		n[name]++
		got := encodeCase(tk, c)
		if d := diffCase(c, got); d != nil {
			bad[name]++
			if bad[name] <= 5 {
				t.Errorf("%s: %q / %v: %v differ\n hf   %v %v %v %q\n gort %v %v %v %q", name, c.A, c.B, d,
					c.IDs, c.Offsets, c.TypeIDs, c.Decode, got.IDs, got.Offsets, got.TypeIDs, got.Decode)
			}
		}
	}
	for _, c := range cases {
		check(c.Tok, get(c.Tok), c)
		if c.Tok == "vocab-txt" {
			check("FromVocabTxt", vt, c)
		}
	}
	total, mism := 0, 0
	for name, k := range n {
		t.Logf("%-28s %6d cases %4d mismatches", name, k, bad[name])
		total += k
		mism += bad[name]
	}
	t.Logf("parity: %d cases, %d mismatches", total, mism)
}
