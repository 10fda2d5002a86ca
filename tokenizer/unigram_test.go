package tokenizer

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestUnigramTinyHF checks an XLM-R-style tokenizer (SentencePiece Unigram
// model, Precompiled charsmap, Strip, regex Replace, Metaspace, template)
// against Hugging Face's encodings (ids, tokens, offsets, decoding) of 126
// strings, recorded by
// `parity.py testdata tokenizer/testdata` (see conformance/interop/tokenizers).
func TestUnigramTinyHF(t *testing.T) {
	tk := load(t, "unigram-tiny.json")
	f, err := os.Open("testdata/unigram-tiny-cases.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n, bad := 0, 0
	for sc.Scan() {
		var c parityCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		n++
		got := encodeCase(tk, c)
		if !slices.Equal(c.IDs, got.IDs) || !slices.Equal(c.Tokens, got.Tokens) || !slices.Equal(c.Offsets, got.Offsets) || c.Decode != got.Decode || c.DecodeAll != got.DecodeAll {
			if bad++; bad <= 5 {
				t.Errorf("%q:\n hf   %v %q %v %q\n gort %v %q %v %q", c.A, c.IDs, c.Tokens, c.Offsets, c.DecodeAll, got.IDs, got.Tokens, got.Offsets, got.DecodeAll)
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d cases read", n)
	}
	if bad > 0 {
		t.Errorf("%d of %d cases differ", bad, n)
	}
	roundTrip(t, tk, []string{"", "ＡＢａｂ１ ﬁne ½ Ⅻ", "e\u0301 A\u030a  x\v", "the university  of 東京 😀"})
}

func newUnigram(t *testing.T, fallback bool, pieces ...any) *Unigram {
	t.Helper()
	var ps []UnigramPiece
	for i := 0; i < len(pieces); i += 2 {
		ps = append(ps, UnigramPiece{pieces[i].(string), pieces[i+1].(float64)})
	}
	u, err := NewUnigram(ps, 0, fallback)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestUnigramViterbi checks segmentations worked out by hand.
func TestUnigramViterbi(t *testing.T) {
	abcd := newUnigram(t, false, "<unk>", 0.0, "a", 0.0, "b", 0.0, "c", 0.0, "d", 0.0, "cd", 1.0, "ab", 2.0, "abc", 5.0, "abcd", 10.0)
	ties := newUnigram(t, false, "<unk>", 0.0, "a", -1.0, "b", -1.0, "ab", -2.0, "é", -1.0)
	fb := newUnigram(t, true, "<unk>", 0.0, "a", -1.0, "<0x78>", -5.0, "<0xC3>", -5.0, "<0xA9>", -5.0)
	for _, c := range []struct {
		name string
		m    *Unigram
		in   string
		want []token
	}{
		// Hugging Face's documented example: abcd(10) a cd(1) and the two
		// unknown x fused into one token.
		{"best path, unknowns fused", abcd, "abcdacdxx", []token{{8, 0, 4}, {1, 4, 5}, {5, 5, 7}, {0, 7, 9}}},
		{"unknown between pieces", abcd, "axb", []token{{1, 0, 1}, {0, 1, 2}, {2, 2, 3}}},
		// a+b scores -2 as ab does: the earlier start, reached first, stays.
		{"tie keeps the first candidate", ties, "ab", []token{{3, 0, 2}}},
		{"two-byte piece", ties, "aé", []token{{1, 0, 1}, {4, 1, 2}}},
		// x and é are unknown: fused, then spelled in bytes; z has no byte
		// piece, so its run is the unknown token.
		{"byte fallback", fb, "axé", []token{{1, 0, 1}, {2, 1, 3}, {3, 1, 3}, {4, 1, 3}}},
		{"byte fallback incomplete", fb, "az", []token{{1, 0, 1}, {0, 1, 2}}},
	} {
		got := c.m.tokenize(nil, []rune(c.in), new(scratch))
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %q: %v, want %v", c.name, c.in, got, c.want)
		}
	}
}

// TestPrecompiledErrors: damaged charsmaps fail with an error naming the
// field, or, where only units are damaged, map less without panicking.
func TestPrecompiledErrors(t *testing.T) {
	for _, c := range []struct {
		blob []byte
		want string
	}{
		{[]byte{1, 2}, "too short"},
		{[]byte{0xFF, 0xFF, 0xFF, 0x0F, 0, 0, 0, 0}, "only 4 follow"},
		{[]byte{4, 0, 0, 0, 1, 2, 3, 4, 0xFF}, "not valid UTF-8"},
	} {
		if _, err := NewPrecompiled(c.blob); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "precompiled_charsmap") {
			t.Errorf("%v: error %v, want %q", c.blob, err, c.want)
		}
	}
	// Units pointing anywhere: every lookup must stay in bounds.
	for _, units := range [][]uint32{{0xFFFFFFFF}, {1 << 10, 0x161, 0x7FFFFFFF}, {0, 0x161, 0xFFFF}, {0x300, 0x100 | 'a'}} {
		blob := []byte{byte(4 * len(units)), 0, 0, 0}
		for _, u := range units {
			blob = append(blob, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
		}
		blob = append(blob, "xy\x00"...)
		p, err := NewPrecompiled(blob)
		if err != nil {
			t.Fatal(err)
		}
		sc := new(scratch)
		_ = p.normalize(fromString("abc\u00e9 \x00a\u0301", 0, sc), sc)
	}
	if _, err := Parse([]byte(`{"model": {"type": "Unigram", "vocab": [["a", 0]]}, "normalizer": {"type": "Precompiled", "precompiled_charsmap": "%%"}}`)); err == nil || !strings.Contains(err.Error(), "normalizer: precompiled_charsmap: not base64") {
		t.Errorf("bad base64: %v", err)
	}
}

// TestUnigramParseErrors: bad Unigram models name the field.
func TestUnigramParseErrors(t *testing.T) {
	for _, c := range []struct{ model, want string }{
		{`{"type": "Unigram"}`, "model: vocab: missing"},
		{`{"type": "Unigram", "vocab": [["a"]]}`, `model: vocab[0]: want ["piece", score]`},
		{`{"type": "Unigram", "vocab": [["a", "x"]]}`, `model: vocab[0]: want ["piece", score]`},
		{`{"type": "Unigram", "vocab": [["a", 0]], "unk_id": 1}`, "model: unk_id: 1 is not below the 1 pieces"},
		{`{"type": "Unigram", "vocab": [["a", 0]], "unk_id": -2}`, "model: unk_id: want a non-negative integer"},
		{`{"type": "Unigram", "vocab": [], "unk_id": 0}`, "model: vocab: empty"},
		{`{"type": "Unigram", "vocab": {"a": 0}}`, "model: vocab: json"},
	} {
		_, err := Parse([]byte(`{"model": ` + c.model + `}`))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.model, err, c.want)
		}
	}
}

// TestRegexReplace: patterns Go would read unlike Oniguruma are refused;
// a replacement is aligned to the last character it replaces.
func TestRegexReplace(t *testing.T) {
	for _, p := range []string{`^a`, `a$`, `\d+`, `\s`, `\bx`, `(?i)a`, `(?=a)b`, `[[:alpha:]]`, `a*`, `x|`} {
		if _, err := NewRegexReplace(p, ""); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
	r, err := NewRegexReplace(` {2,}|\A\t`, "▁")
	if err != nil {
		t.Fatal(err)
	}
	sc := new(scratch)
	got := r.normalize(fromString("\ta   b c  d", 0, sc), sc)
	if got.String() != "▁a▁b c▁d" {
		t.Fatalf("%q", got.String())
	}
	want := []span{{0, 1}, {1, 2}, {4, 5}, {5, 6}, {6, 7}, {7, 8}, {9, 10}, {10, 11}}
	if !slices.Equal(got.align, want) {
		t.Errorf("alignment %v, want %v", got.align, want)
	}
}

// TestGraphemes checks cluster boundaries on the cases the Precompiled
// normalizer depends on.
func TestGraphemes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"e\u0301x", []string{"e\u0301", "x"}},
		{"\r\n\n", []string{"\r\n", "\n"}},
		{"a\u200db", []string{"a\u200d", "b"}},
		{"\u06001", []string{"\u06001"}},
		{"a\u0903\u0301", []string{"a\u0903\u0301"}},
		{"\x00\u0301", []string{"\x00", "\u0301"}},
		{"👩\u200d👩\u200d👧x", []string{"👩\u200d👩\u200d👧", "x"}},
		{"🇫🇷🇩🇪🇮", []string{"🇫🇷", "🇩🇪", "🇮"}},
		{"\u1100\u1161\u11a8\uac00", []string{"\u1100\u1161\u11a8", "\uac00"}},
	} {
		if got := splitWith(c.in, graphemeEnd); !slices.Equal(got, c.want) {
			t.Errorf("%+q: %+q, want %+q", c.in, got, c.want)
		}
	}
}
