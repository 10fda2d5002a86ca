package tokenizer

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func load(t testing.TB, name string) *Tokenizer {
	t.Helper()
	tk, err := Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// TestBERTTricky checks BERT tokenization of tricky strings against
// hand-derived tokens and byte offsets.
func TestBERTTricky(t *testing.T) {
	tk := load(t, "bert-tiny.json")
	long := strings.Repeat("x", 101)
	for _, c := range []struct {
		name, in string
		toks     []string
		offs     [][2]int
	}{
		{"empty", "", nil, nil},
		{"only spaces", " \t\n ", nil, nil},
		{"continuation pieces", "unaffable", []string{"un", "##aff", "##able"}, [][2]int{{0, 2}, {2, 5}, {5, 9}}},
		{"accents stripped, offsets in the original", "Café naïve", []string{"cafe", "naive"}, [][2]int{{0, 5}, {6, 12}}},
		// Dropped marks do not widen the offsets of the letter before them.
		{"decomposed accent", "Cafe\u0301", []string{"cafe"}, [][2]int{{0, 4}}},
		{"CJK isolated", "中文", []string{"中", "文"}, [][2]int{{0, 3}, {3, 6}}},
		{"emoji unknown", "a 😀 b", []string{"a", "[UNK]", "b"}, [][2]int{{0, 1}, {2, 6}, {7, 8}}},
		{"control chars dropped", "a\x00b\u200b", []string{"ab"}, [][2]int{{0, 3}}},
		{"whitespace runs", "a \t\n\u00a0\u3000 b", []string{"a", "b"}, [][2]int{{0, 1}, {10, 11}}},
		{"punctuation split", "hello,world!", []string{"hello", ",", "world", "!"}, [][2]int{{0, 5}, {5, 6}, {6, 11}, {11, 12}}},
		{"contraction", "don't", []string{"don", "'", "t"}, [][2]int{{0, 3}, {3, 4}, {4, 5}}},
		{"max_input_chars_per_word", long, []string{"[UNK]"}, [][2]int{{0, 101}}},
		{"100 chars is not too long", long[:100], slices.Repeat([]string{"##x"}, 100)[:100], nil},
		{"special token in text", "a[MASK]b", []string{"a", "[MASK]", "b"}, [][2]int{{0, 1}, {1, 7}, {7, 8}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := tk.EncodeWith(c.in, "", false, false)
			if err != nil {
				t.Fatal(err)
			}
			want := c.toks
			if c.name == "100 chars is not too long" {
				want = append([]string{"x"}, want[:99]...)
			}
			if !slices.Equal(e.Tokens, want) {
				t.Errorf("tokens %q, want %q", e.Tokens, want)
			}
			if c.offs != nil && !slices.Equal(e.Offsets, c.offs) {
				t.Errorf("offsets %v, want %v", e.Offsets, c.offs)
			}
		})
	}
}

func TestBERTSpecialTokensAndPairs(t *testing.T) {
	tk := load(t, "bert-tiny.json")
	e := tk.EncodePair("a b", "cafe")
	if want := []int{2, 9, 10, 3, 8, 3}; !slices.Equal(e.IDs, want) {
		t.Errorf("ids %v, want %v", e.IDs, want)
	}
	if want := []int{0, 0, 0, 0, 1, 1}; !slices.Equal(e.TypeIDs, want) {
		t.Errorf("type ids %v, want %v", e.TypeIDs, want)
	}
	if want := []int{1, 0, 0, 1, 0, 1}; !slices.Equal(e.SpecialTokensMask, want) {
		t.Errorf("special mask %v, want %v", e.SpecialTokensMask, want)
	}
	if want := []int{-1, 0, 0, -1, 1, -1}; !slices.Equal(e.SequenceIDs, want) {
		t.Errorf("sequence ids %v, want %v", e.SequenceIDs, want)
	}
	if want := [][2]int{{0, 0}, {0, 1}, {2, 3}, {0, 0}, {0, 4}, {0, 0}}; !slices.Equal(e.Offsets, want) {
		t.Errorf("offsets %v, want %v", e.Offsets, want)
	}
	if got := tk.Decode(e.IDs, true); got != "a b cafe" {
		t.Errorf("Decode skipping specials = %q", got)
	}
	if got := tk.Decode(e.IDs, false); got != "[CLS] a b [SEP] cafe [SEP]" {
		t.Errorf("Decode = %q", got)
	}
	// Cleanup applies to each token with its space, so " '" stays.
	if got := tk.Decode([]int{16, 12, 17, 13, 20, 21, 22}, true); got != "hello, world! don ' t" {
		t.Errorf("Decode cleanup = %q", got)
	}
}

func TestTruncationAndPadding(t *testing.T) {
	tk := load(t, "bert-tiny.json")
	tk.Truncation = &Truncation{MaxLength: 6, Strategy: LongestFirst, Direction: Right}
	e := tk.EncodePair("a b a b", "x x x")
	// 6 - 3 special tokens = 3: the longer first sequence keeps 2, the second 1.
	if want := []int{2, 9, 10, 3, 18, 3}; !slices.Equal(e.IDs, want) {
		t.Errorf("longest_first ids %v, want %v", e.IDs, want)
	}
	tk.Truncation.Strategy = OnlySecond
	if _, err := tk.EncodeWith("a b a b a b", "", false, true); !errors.Is(err, ErrSecondSequenceNotProvided) {
		t.Errorf("only_second on one sequence: err %v", err)
	}
	tk.Truncation = &Truncation{MaxLength: 4, Strategy: OnlyFirst, Direction: Left}
	if e, _ := tk.EncodeWith("a b a b", "", false, true); !slices.Equal(e.IDs, []int{2, 9, 10, 3}) {
		t.Errorf("left truncation ids %v, want [2 9 10 3]", e.IDs)
	}
	tk.Truncation = nil
	encs, err := tk.EncodeBatch([]string{"a", "a b a"}, BatchOptions{Padding: &Padding{Strategy: PadLongest, Direction: Left, PadID: 0, PadToken: "[PAD]"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 0, 2, 9, 3}; !slices.Equal(encs[0].IDs, want) {
		t.Errorf("left padded ids %v, want %v", encs[0].IDs, want)
	}
	if want := []int{0, 0, 1, 1, 1}; !slices.Equal(encs[0].AttentionMask, want) {
		t.Errorf("attention %v, want %v", encs[0].AttentionMask, want)
	}
	encs, _ = tk.EncodeBatch([]string{"a"}, BatchOptions{NoSpecial: true, Padding: &Padding{Strategy: PadFixed, Length: 3, PadToMultipleOf: 4, Direction: Right}})
	if want := []int{9, 0, 0, 0}; !slices.Equal(encs[0].IDs, want) {
		t.Errorf("fixed padding to a multiple of 4: %v, want %v", encs[0].IDs, want)
	}
	if _, err := tk.EncodeBatch([]string{"a"}, BatchOptions{Pairs: []string{}}); err == nil {
		t.Error("EncodeBatch accepted a pairs list of the wrong length")
	}
}

func TestByteLevelBPE(t *testing.T) {
	tk := load(t, "bpe-tiny.json")
	e, err := tk.EncodeWith("hello world", "", false, true)
	if err != nil {
		t.Fatal(err)
	}
	// The file pads to 10 on the left and truncates to 8.
	wantIDs := []int{0, 0, 0, 0, 0, 0, 0, 0, 12, 16}
	if !slices.Equal(e.IDs, wantIDs) {
		t.Errorf("ids %v, want %v", e.IDs, wantIDs)
	}
	if got := e.Offsets[9]; got != [2]int{6, 11} {
		t.Errorf("Ġworld offsets %v, want the space trimmed: [6 11]", got)
	}
	tk.Padding, tk.Truncation = nil, nil
	// é is two bytes, each its own unknown byte-level character: dropped
	// (no unk token), as Hugging Face does.
	e = tk.Encode("helloé")
	if !slices.Equal(e.Tokens, []string{"hello"}) {
		t.Errorf("tokens %q", e.Tokens)
	}
	if got := tk.Decode([]int{12, 16, 0}, true); got != "hello world" {
		t.Errorf("Decode = %q", got)
	}
	if got := tk.Decode([]int{18}, false); got != "\uFFFD" {
		t.Errorf("Decode of a lone UTF-8 lead byte = %q, want U+FFFD", got)
	}
}

func TestGPT2Split(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"Hello world", []string{"Hello", " world"}},
		{"  hi", []string{" ", " hi"}},
		{"\n\nA", []string{"\n", "\n", "A"}},
		{"a  ", []string{"a", "  "}},
		{"I'm we'll it'S", []string{"I", "'m", " we", "'ll", " it", "'", "S"}},
		{"123abc!!x", []string{"123", "abc", "!!", "x"}},
		{" 'x", []string{" '", "x"}},
		{"é中😀 ½", []string{"é中", "😀", " ½"}},
		{"\u3000\u3000a", []string{"\u3000", "\u3000", "a"}},
	} {
		if got := splitWith(c.in, gpt2Match); !slices.Equal(got, c.want) {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
	}
}

// splitWith cuts s into the pieces end finds, each from where the last ended.
func splitWith(s string, end func(rs []rune, i int) int) []string {
	rs := []rune(s)
	var got []string
	for i := 0; i < len(rs); {
		j := end(rs, i)
		got = append(got, string(rs[i:j]))
		i = j
	}
	return got
}

func TestLossyUTF8(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"ok", "ok"},
		{"\xE2\x82", "\uFFFD"},
		{"\xE2\x82\xAC", "€"},
		{"\xFF\xFE", "\uFFFD\uFFFD"},
		{"a\xC3", "a\uFFFD"},
		{"\xED\xA0\x80", "\uFFFD\uFFFD\uFFFD"}, // surrogate: E D is valid lead, A0 is not a valid second byte
		{"\xF0\x9F\x98", "\uFFFD"},
	} {
		if got := lossyUTF8([]byte(c.in)); got != c.want {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
	}
}

func TestCharOffsets(t *testing.T) {
	text := "aé中😀"
	got := CharOffsets(text, [][2]int{{0, 1}, {1, 3}, {3, 6}, {6, 10}, {0, 0}, {10, 10}, {1, 10}})
	want := [][2]int{{0, 1}, {1, 2}, {2, 3}, {3, 4}, {0, 0}, {4, 4}, {1, 4}}
	if !slices.Equal(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
}

// TestParseErrors checks that bad tokenizer.json files fail with errors that
// name the field.
func TestParseErrors(t *testing.T) {
	base, err := os.ReadFile("testdata/bert-tiny.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ from, to, want string }{
		{`"type": "WordPiece", "unk_token"`, `"type": "Unigram", "unk_token"`, `model: vocab: json: cannot unmarshal object`},
		{`"type": "WordPiece", "unk_token"`, `"type": "Lattice", "unk_token"`, `model: type "Lattice" is not supported`},
		{`"unk_token": "[UNK]"`, `"unk_token": "[NOPE]"`, `unk_token "[NOPE]" is not in the vocab`},
		{`"un": 5`, `"un": 99999999`, `model: vocab: id 99999999 is far beyond`},
		{`"un": 5`, `"un": -1`, `negative id`},
		{`"##aff": 6`, `"##aff": 5`, `id 5 is used by`},
		{`{"type": "BertPreTokenizer"}`, `{"type": "Sequence", "pretokenizers": [{"type": "Split"}]}`, `pre_tokenizer: pretokenizers[0]: type "Split"`},
		{`"sep": ["[SEP]", 3]`, `"sep": ["[SEP]"]`, `post_processor: sep: want ["token", id]`},
		{`"truncation": null`, `"truncation": {"max_length": -4}`, `truncation: max_length: -4 out of range`},
		{`"padding": null`, `"padding": {"strategy": {"Fixed": 1000000000}}`, `padding: strategy: padding length 1000000000 or multiple 0 out of range`},
		{`"id": 4, "content": "[MASK]"`, `"id": 4, "content": ""`, `added_tokens[4].content: empty`},
		{`"lowercase": true}`, `"lowercase": "yes"}`, `normalizer: lowercase:`},
	} {
		bad := strings.Replace(string(base), c.from, c.to, 1)
		if bad == string(base) {
			t.Fatalf("%q not found in the test file", c.from)
		}
		_, err := Parse([]byte(bad))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s -> %s: error %v, want it to contain %q", c.from, c.to, err, c.want)
		}
	}
	deep := `{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0}}, "normalizer": ` + strings.Repeat(`{"type": "Sequence", "normalizers": [`, 40) + strings.Repeat(`]}`, 40) + `}`
	if _, err := Parse([]byte(deep)); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("deep nesting: %v", err)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, name := range []string{"bert-tiny.json", "bpe-tiny.json"} {
		tk := load(t, name)
		roundTrip(t, tk, []string{"", "hello world", "unaffable café 中文 [MASK]", "a<|endoftext|>b"})
	}
}

func TestVocabTxt(t *testing.T) {
	tk, err := ParseVocabTxt(strings.NewReader("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n##s\r\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	e := tk.Encode("Hellos")
	if want := []string{"[CLS]", "hello", "##s", "[SEP]"}; !slices.Equal(e.Tokens, want) {
		t.Errorf("tokens %q, want %q", e.Tokens, want)
	}
	if _, err := ParseVocabTxt(strings.NewReader("a\nb\n"), true); err == nil || !strings.Contains(err.Error(), "[UNK]") {
		t.Errorf("vocab without [UNK]: %v", err)
	}
}

func TestSaveDefaults(t *testing.T) {
	tk := load(t, "bert-tiny.json")
	tk.Truncation = &Truncation{MaxLength: 5}
	tk.Padding = &Padding{Strategy: PadFixed, Length: 7}
	b, err := tk.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Truncation.Strategy != LongestFirst || back.Truncation.Direction != Right || back.Padding.Direction != Right || back.Padding.Length != 7 {
		t.Errorf("saved defaults read back as %+v %+v", back.Truncation, back.Padding)
	}
	if _, err := (&Tokenizer{}).MarshalJSON(); err == nil {
		t.Error("a tokenizer without a model saved")
	}
}
