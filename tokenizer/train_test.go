package tokenizer

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var trainCorpus = []string{
	"the quick brown fox jumps over the lazy dog",
	"The Quick Brown Fox, again! Naïve café owners don't jump.",
	"low lower lowest newer newest wider widest",
	"中文分词 北京大学 😀 emoji 👍🏽",
	"the the the then there these",
}

func TestTrainWordPiece(t *testing.T) {
	var stages []string
	tk, err := TrainWordPiece(slices.Values(trainCorpus), WordPieceOptions{VocabSize: 120, Lowercase: true,
		Progress: func(stage string, done, total int) { stages = append(stages, stage) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "##e", "中"} {
		if _, ok := tk.TokenToID(tok); !ok {
			t.Errorf("trained vocab lacks %q", tok)
		}
	}
	if id, _ := tk.TokenToID("[PAD]"); id != 0 {
		t.Errorf("[PAD] has id %d, want 0 (special tokens first)", id)
	}
	if !slices.Contains(stages, "count") || !slices.Contains(stages, "merge") {
		t.Errorf("progress stages %v, want count and merge", stages)
	}
	e := tk.Encode("The café")
	if got := strings.Join(e.Tokens, " "); !strings.HasPrefix(got, "[CLS] the ") || strings.ReplaceAll(got, " ##", "") != "[CLS] the cafe [SEP]" {
		t.Errorf("Encode tokens %q, want [CLS] the, then cafe in pieces, then [SEP]", got)
	}
	again, _ := TrainWordPiece(slices.Values(trainCorpus), WordPieceOptions{VocabSize: 120, Lowercase: true})
	a, _ := tk.MarshalJSON()
	b, _ := again.MarshalJSON()
	if string(a) != string(b) {
		t.Error("training twice gave different tokenizers; training must be deterministic")
	}
	roundTrip(t, tk, trainCorpus)
}

func TestTrainByteLevelBPE(t *testing.T) {
	tk, err := TrainByteLevelBPE(slices.Values(trainCorpus), BPEOptions{VocabSize: 300, SpecialTokens: []string{"<|endoftext|>"}})
	if err != nil {
		t.Fatal(err)
	}
	if n := tk.VocabSize(); n != 300 {
		t.Errorf("vocab size %d, want 300", n)
	}
	for _, s := range trainCorpus {
		e := tk.Encode(s + "<|endoftext|>")
		if got := tk.Decode(e.IDs, false); got != s+"<|endoftext|>" {
			t.Errorf("Decode(Encode(%q)) = %q", s, got)
		}
	}
	e := tk.Encode(" the")
	if len(e.IDs) != 1 || e.Tokens[0] != "Ġthe" {
		t.Errorf("\" the\" encodes to %v, want the merged token Ġthe", e.Tokens)
	}
	roundTrip(t, tk, trainCorpus)
}

// roundTrip saves tk, loads it back and checks both encode texts alike.
func roundTrip(t *testing.T, tk *Tokenizer, texts []string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := tk.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range texts {
		a, b := tk.EncodePair(s, s), back.EncodePair(s, s)
		if !slices.Equal(a.IDs, b.IDs) || !slices.Equal(a.Offsets, b.Offsets) || !slices.Equal(a.TypeIDs, b.TypeIDs) {
			t.Errorf("%q: saved and loaded tokenizer encode differently: %v vs %v", s, a.IDs, b.IDs)
		}
	}
}

// TestParityGortTrained trains on the parity corpus, saves the tokenizers and
// gort's encodings for parity.py check, which loads them into Hugging Face.
func TestParityGortTrained(t *testing.T) {
	dir := parityDir(t)
	f, err := os.Open(filepath.Join(dir, "corpus.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var corpus []string
	lines, lerr := Lines(f)
	for l := range lines {
		corpus = append(corpus, l)
	}
	if err := lerr(); err != nil {
		t.Fatal(err)
	}
	wp, err := TrainWordPiece(slices.Values(corpus), WordPieceOptions{VocabSize: 3000, MinFrequency: 2, LimitAlphabet: 500, Lowercase: true})
	if err != nil {
		t.Fatal(err)
	}
	bpe, err := TrainByteLevelBPE(slices.Values(corpus), BPEOptions{VocabSize: 3000, MinFrequency: 2, SpecialTokens: []string{"<|endoftext|>"}})
	if err != nil {
		t.Fatal(err)
	}
	// How close gort's vocabularies are to Hugging Face's on the same corpus.
	for _, c := range []struct {
		name string
		tk   *Tokenizer
	}{{"bert-uncased", wp}, {"gpt2", bpe}} {
		hf, err := Load(filepath.Join(dir, c.name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		same := 0
		for id := 0; id < hf.VocabSize(); id++ {
			tok, _ := hf.IDToToken(id)
			if _, ok := c.tk.TokenToID(tok); ok {
				same++
			}
		}
		t.Logf("%s: gort vocab %d, HF vocab %d, shared tokens %d", c.name, c.tk.VocabSize(), hf.VocabSize(), same)
	}
	out := filepath.Join(dir, "gort")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	cases := readCases(t, filepath.Join(dir, "cases.jsonl"))
	w, err := os.Create(filepath.Join(out, "cases.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriter(w)
	n := 0
	for name, tk := range map[string]*Tokenizer{"wordpiece": wp, "bpe": bpe} {
		if err := tk.Save(filepath.Join(out, name+".json")); err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			if c.Tok != "bert-uncased" {
				continue
			}
			got := encodeCase(tk, c)
			got.Tok = name
			b, _ := json.Marshal(got)
			bw.Write(append(b, '\n'))
			n++
		}
	}
	// Every reference tokenizer saved by gort, for parity.py check to load
	// into Hugging Face next to the original.
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, p := range files {
		tk, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := tk.Save(filepath.Join(out, "resaved-"+filepath.Base(p))); err != nil {
			t.Fatal(err)
		}
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Logf("wrote 2 gort-trained tokenizers and %d cases to %s; run parity.py check", n, out)
}

// TestTrainBPEByHand checks the merge order on a corpus small enough to work
// out on paper.
func TestTrainBPEByHand(t *testing.T) {
	// Words: "abc" x3, "abd" x2, "cd" x1. With the ## prefix the symbols are
	// a ##b ##c / a ##b ##d / c ##d.
	// Pair counts: (a,##b)=5, (##b,##c)=3, (##b,##d)=2, (c,##d)=1.
	// Merge 1: a ##b -> ab (5). Then (ab,##c)=3, (ab,##d)=2, (c,##d)=1.
	// Merge 2: ab ##c -> abc (3). Merge 3: ab ##d -> abd (2).
	// Merge 4 would be c ##d (1) but MinFrequency is 2.
	counts := map[string]int{"abc": 3, "abd": 2, "cd": 1}
	v, merges := trainBPE(counts, bpeConfig{vocabSize: 100, minFreq: 2, special: []string{"[UNK]"}, prefix: "##"})
	want := [][2]string{{"a", "##b"}, {"ab", "##c"}, {"ab", "##d"}}
	if !slices.Equal(merges, want) {
		t.Errorf("merges %q, want %q", merges, want)
	}
	// Ids: special tokens, the alphabet by code point, ## forms as the
	// sorted words first use them, then merged tokens.
	wantVocab := []string{"[UNK]", "a", "b", "c", "d", "##b", "##c", "##d", "ab", "abc", "abd"}
	for id, tok := range wantVocab {
		if v[tok] != id {
			t.Errorf("%q has id %d, want %d", tok, v[tok], id)
		}
	}
	if len(v) != len(wantVocab) {
		t.Errorf("vocab size %d, want %d", len(v), len(wantVocab))
	}
	// Ties go to the pair of smaller ids: "xy" and "yx" once each.
	_, merges = trainBPE(map[string]int{"yx": 1, "xy": 1}, bpeConfig{vocabSize: 3})
	if len(merges) != 1 || merges[0] != [2]string{"x", "y"} {
		t.Errorf("tie merges %q, want [x y] first (x has the smaller id)", merges)
	}
	// LimitAlphabet keeps the most frequent characters; words lose the rest.
	v, _ = trainBPE(map[string]int{"aab": 2, "c": 1}, bpeConfig{vocabSize: 2, limitAlphabet: 2})
	if _, ok := v["c"]; ok || len(v) != 2 {
		t.Errorf("limited alphabet %v, want a and b only", v)
	}
}
