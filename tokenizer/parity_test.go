package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// parityCase is one line of cases.jsonl written by
// conformance/interop/tokenizers/parity.py.
type parityCase struct {
	Tok       string   `json:"tok"`
	A         string   `json:"a"`
	B         *string  `json:"b"`
	Error     bool     `json:"error,omitempty"`
	IDs       []int    `json:"ids"`
	Tokens    []string `json:"tokens"`
	TypeIDs   []int    `json:"type_ids"`
	Offsets   [][2]int `json:"offsets"`
	Special   []int    `json:"special"`
	Attention []int    `json:"attention"`
	Decode    string   `json:"decode"`
	DecodeAll string   `json:"decode_all"`

	batch *batchCase
}

// batchCase is a line of cases.jsonl for EncodeBatch with padding to the
// longest encoding.
type batchCase struct {
	Tok       string   `json:"tok"`
	Batch     []string `json:"batch"`
	Pairs     []string `json:"pairs"`
	IDs       [][]int  `json:"ids"`
	Attention [][]int  `json:"attention"`
	TypeIDs   [][]int  `json:"type_ids"`
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
		if bytes.Contains(sc.Bytes(), []byte(`"batch":`)) {
			c.batch = new(batchCase)
			if err := json.Unmarshal(sc.Bytes(), c.batch); err != nil {
				t.Fatal(err)
			}
			c.Tok = c.batch.Tok
		} else if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
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
		return parityCase{Tok: c.Tok, A: c.A, B: c.B, Error: true}
	}
	got := parityCase{Tok: c.Tok, A: c.A, B: c.B, IDs: e.IDs, Tokens: e.Tokens, TypeIDs: e.TypeIDs, Special: e.SpecialTokensMask,
		Attention: e.AttentionMask, Decode: tk.Decode(e.IDs, true), DecodeAll: tk.Decode(e.IDs, false),
		Offsets: make([][2]int, len(e.Offsets))}
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
	if want.Error != got.Error {
		d = append(d, "error")
	}
	if !slices.Equal(want.Attention, got.Attention) {
		d = append(d, "attention")
	}
	if want.DecodeAll != got.DecodeAll {
		d = append(d, "decode_all")
	}
	if !slices.Equal(want.IDs, got.IDs) {
		d = append(d, "ids")
	}
	if want.Tokens != nil && !slices.Equal(want.Tokens, got.Tokens) {
		d = append(d, "tokens")
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
		if c.batch != nil {
			n["batch "+c.Tok]++
			if d := checkBatch(get(c.Tok), c.batch); d != "" {
				bad["batch "+c.Tok]++
				if bad["batch "+c.Tok] <= 5 {
					t.Errorf("batch %s %q: %s", c.Tok, c.batch.Batch, d)
				}
			}
			continue
		}
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

// checkBatch encodes a batch padded to its longest member, as parity.py
// configured Hugging Face, and describes the first difference.
func checkBatch(tk *Tokenizer, c *batchCase) string {
	p := &Padding{Strategy: PadLongest, Direction: Right, PadID: 1, PadToken: "[PAD]"}
	if c.Tok == "gpt2" {
		p.Direction = Left
	}
	encs, err := tk.EncodeBatch(c.Batch, BatchOptions{Pairs: c.Pairs, Padding: p})
	if err != nil {
		return err.Error()
	}
	for i, e := range encs {
		if !slices.Equal(e.IDs, c.IDs[i]) || !slices.Equal(e.AttentionMask, c.Attention[i]) || !slices.Equal(e.TypeIDs, c.TypeIDs[i]) {
			return fmt.Sprintf("item %d: hf %v %v %v, gort %v %v %v", i, c.IDs[i], c.Attention[i], c.TypeIDs[i], e.IDs, e.AttentionMask, e.TypeIDs)
		}
	}
	return ""
}
