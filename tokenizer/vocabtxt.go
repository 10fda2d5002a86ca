package tokenizer

import (
	"bufio"
	"io"
	"os"
	"strings"
)

// FromVocabTxt builds BERT's WordPiece tokenizer from a vocab.txt (one token
// per line, the line number is the id), as transformers' BertTokenizerFast:
// BERT normalization (accents stripped when lowercase), BERT
// pre-tokenization, [CLS] A [SEP] (B [SEP]) with type ids 0 and 1.
func FromVocabTxt(path string, lowercase bool) (*Tokenizer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errorf("%w", err)
	}
	defer f.Close()
	t, err := ParseVocabTxt(f, lowercase)
	if err != nil {
		return nil, errorf("%s: %w", path, err)
	}
	return t, nil
}

// ParseVocabTxt is FromVocabTxt reading from r.
func ParseVocabTxt(r io.Reader, lowercase bool) (*Tokenizer, error) {
	v := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		v[strings.TrimRight(sc.Text(), "\r\n")] = n
		n++
	}
	if err := sc.Err(); err != nil {
		return nil, errorf("vocab.txt line %d: %w", n+1, err)
	}
	return newBert(v, lowercase)
}

// newBert assembles a BERT tokenizer around a WordPiece vocabulary.
func newBert(v map[string]int, lowercase bool) (*Tokenizer, error) {
	wp, err := NewWordPiece(v, "[UNK]", "##", 100)
	if err != nil {
		return nil, errorf("vocab: %w", err)
	}
	t := &Tokenizer{
		Normalizer:   &BertNormalizer{CleanText: true, HandleChineseChars: true, Lowercase: lowercase},
		PreTokenizer: BertPreTokenizer{},
		Model:        wp,
		Decoder:      WordPieceDecoder{Prefix: "##", Cleanup: true},
	}
	var specials []AddedToken
	for _, s := range []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"} {
		if id, ok := v[s]; ok {
			specials = append(specials, AddedToken{ID: id, Content: s, Special: true})
		}
	}
	t.AddTokens(specials...)
	cls, okC := v["[CLS]"]
	sep, okS := v["[SEP]"]
	if okC && okS {
		t.PostProcessor = &TemplateProcessing{
			Single: []TemplatePiece{{Special: "[CLS]"}, {Sequence: "A"}, {Special: "[SEP]"}},
			Pair:   []TemplatePiece{{Special: "[CLS]"}, {Sequence: "A"}, {Special: "[SEP]"}, {Sequence: "B", TypeID: 1}, {Special: "[SEP]", TypeID: 1}},
			SpecialTokens: map[string]TemplateSpecial{
				"[CLS]": {ID: "[CLS]", IDs: []int{cls}, Tokens: []string{"[CLS]"}},
				"[SEP]": {ID: "[SEP]", IDs: []int{sep}, Tokens: []string{"[SEP]"}},
			},
		}
	}
	return t, nil
}
