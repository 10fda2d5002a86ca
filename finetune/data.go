package finetune

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/gort-ml/gort/tensor"
	"github.com/gort-ml/gort/tokenizer"
)

// Example is one labelled item of a dataset.
type Example struct {
	Text     string   // the sequence (the anchor for Embedding)
	Pair     string   // optional second sequence (seq-cls/regression pairs), or the positive for Embedding
	Label    int      // seq-cls class
	Value    float64  // regression target
	Words    []string // token-cls: words, joined by spaces to form Text
	Tags     []int    // token-cls: one class per word (-100: ignored)
	Positive string   // Embedding: the positive of the anchor Text
}

// Fields names the JSON fields of a JSONL dataset.
type Fields struct {
	Text  string // default "text"; a list of words for token-cls
	Pair  string // optional second text (default "text_pair"; the positive for embedding: default "positive")
	Label string // default "label" ("labels"/"tags"/"ner_tags" also read for token-cls)
	// LabelNames are the class names in id order, for datasets whose labels
	// are names ("positive") rather than ids; they become id2label on HF export.
	LabelNames []string
}

// Limits on untrusted datasets.
const (
	MaxLineBytes = 1 << 20 // one JSONL line
	MaxExamples  = 10_000_000
)

// ReadJSONL reads a dataset for task: one JSON object per line; blank
// lines are skipped. Errors name the file and line.
func ReadJSONL(path string, task Task, f Fields) ([]Example, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	defer fh.Close()
	return ParseJSONL(fh, filepath.Base(path), task, f)
}

// ParseJSONL is ReadJSONL on a reader; name labels errors.
func ParseJSONL(r io.Reader, name string, task Task, f Fields) ([]Example, error) {
	if f.Text == "" {
		f.Text = "text"
	}
	if f.Pair == "" {
		f.Pair = "text_pair"
		if _, ok := task.(Embedding); ok {
			f.Pair = "positive"
		}
	}
	if f.Label == "" {
		f.Label = "label"
	}
	br := bufio.NewReaderSize(r, 64<<10)
	var out []Example
	for line := 1; ; line++ {
		raw, err := readLine(br)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("finetune: %s:%d: %w", name, line, err)
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		if len(out) >= MaxExamples {
			return nil, fmt.Errorf("finetune: %s:%d: more than %d examples", name, line, MaxExamples)
		}
		ex, err := parseExample(raw, task, f)
		if err != nil {
			return nil, fmt.Errorf("finetune: %s:%d: %w", name, line, err)
		}
		out = append(out, ex)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("finetune: %s: no examples", name)
	}
	return out, nil
}

// readLine reads one line of at most MaxLineBytes (without the newline).
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > MaxLineBytes+1 {
			return nil, fmt.Errorf("line longer than %d bytes", MaxLineBytes)
		}
		line = append(line, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(line) > 0 {
			return bytes.TrimRight(line, "\r\n"), nil
		}
		if err != nil {
			return nil, err
		}
		return bytes.TrimRight(line, "\r\n"), nil
	}
}

func parseExample(raw []byte, task Task, f Fields) (Example, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return Example{}, fmt.Errorf("not a JSON object: %v", err)
	}
	var ex Example
	str := func(field string, required bool) (string, error) {
		v, ok := obj[field]
		if !ok {
			if required {
				return "", fmt.Errorf("missing field %q", field)
			}
			return "", nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", fmt.Errorf("field %q is not a string", field)
		}
		return s, nil
	}
	var err error
	switch t := task.(type) {
	case TokenCls:
		v, ok := obj[f.Text]
		if !ok {
			if v, ok = obj["tokens"]; !ok {
				return ex, fmt.Errorf("missing field %q (a list of words)", f.Text)
			}
		}
		if err := json.Unmarshal(v, &ex.Words); err != nil {
			return ex, fmt.Errorf("field %q is not a list of strings", f.Text)
		}
		lv, ok := obj[f.Label]
		for _, alt := range []string{"labels", "tags", "ner_tags"} {
			if !ok {
				lv, ok = obj[alt]
			}
		}
		if !ok {
			return ex, fmt.Errorf("missing field %q (a list of class ids)", f.Label)
		}
		var tags []json.RawMessage
		if err := json.Unmarshal(lv, &tags); err != nil {
			return ex, fmt.Errorf("field %q is not a list of class ids or names", f.Label)
		}
		if len(tags) != len(ex.Words) {
			return ex, fmt.Errorf("%d labels for %d words", len(tags), len(ex.Words))
		}
		for i, w := range ex.Words {
			if w == "" || strings.IndexFunc(w, unicode.IsSpace) >= 0 {
				return ex, fmt.Errorf("word %d (%q) is empty or holds spaces", i, w)
			}
			c, err := f.class(tags[i], t.Labels)
			if err != nil {
				return ex, fmt.Errorf("label %d: %w", i, err)
			}
			ex.Tags = append(ex.Tags, c)
		}
		ex.Text = strings.Join(ex.Words, " ")
		return ex, nil
	case Embedding:
		if ex.Text, err = str(f.Text, true); err != nil {
			return ex, err
		}
		if ex.Positive, err = str(f.Pair, true); err != nil {
			return ex, err
		}
		return ex, nil
	}
	if ex.Text, err = str(f.Text, true); err != nil {
		return ex, err
	}
	if ex.Pair, err = str(f.Pair, false); err != nil {
		return ex, err
	}
	lv, ok := obj[f.Label]
	if !ok {
		return ex, fmt.Errorf("missing field %q", f.Label)
	}
	if _, ok := task.(Regression); ok {
		var num float64
		if err := json.Unmarshal(lv, &num); err != nil {
			return ex, fmt.Errorf("field %q is not a number", f.Label)
		}
		if math.IsNaN(num) || math.IsInf(num, 0) {
			return ex, fmt.Errorf("field %q is not finite", f.Label)
		}
		ex.Value = num
		return ex, nil
	}
	ex.Label, err = f.class(lv, task.NumLabels())
	if err != nil {
		return ex, fmt.Errorf("field %q: %w", f.Label, err)
	}
	return ex, nil
}

// class reads a label: a class id, or a name of f.LabelNames.
func (f Fields) class(raw json.RawMessage, labels int) (int, error) {
	var num float64
	if err := json.Unmarshal(raw, &num); err == nil {
		return classID(num, labels)
	}
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return 0, fmt.Errorf("label %s is neither a class id nor a name", truncate(string(raw), 40))
	}
	for i, n := range f.LabelNames {
		if n == name {
			return i, nil
		}
	}
	if len(f.LabelNames) == 0 {
		return 0, fmt.Errorf("label %q is a name; give the names in class order (LabelNames, --label-names)", truncate(name, 40))
	}
	return 0, fmt.Errorf("label %q is not one of %v", truncate(name, 40), f.LabelNames)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func classID(v float64, labels int) (int, error) {
	if v == -100 {
		return -100, nil
	}
	if v != math.Trunc(v) || v < 0 || v >= float64(labels) {
		return 0, fmt.Errorf("class %v is not an integer in [0, %d) (or -100 to ignore)", v, labels)
	}
	return int(v), nil
}

// Encoder turns examples into batches for a model's inputs.
type Encoder struct {
	Tok    *tokenizer.Tokenizer
	MaxLen int      // tokens per sequence, special tokens included (default 128)
	Inputs []string // the model's inputs (input_ids, attention_mask, token_type_ids)
}

// ErrNoTokens is returned for a batch whose texts encode to nothing.
var ErrNoTokens = errors.New("finetune: the batch encodes to no tokens")

// Encode makes the batch of examples for task: the model inputs and
// "labels". Embedding batches hold the anchors, then the positives.
func (e *Encoder) Encode(task Task, exs []Example) (map[string]*tensor.Tensor, error) {
	maxLen := e.MaxLen
	if maxLen <= 0 {
		maxLen = 128
	}
	texts := make([]string, 0, len(exs))
	var pairs []string
	for _, ex := range exs {
		texts = append(texts, ex.Text)
		if ex.Pair != "" {
			pairs = make([]string, len(exs))
		}
	}
	if _, ok := task.(Embedding); ok {
		pairs = nil
		for _, ex := range exs {
			texts = append(texts, ex.Positive)
		}
	} else if pairs != nil {
		for i, ex := range exs {
			pairs[i] = ex.Pair
		}
	}
	encs, err := e.Tok.EncodeBatch(texts, tokenizer.BatchOptions{Pairs: pairs,
		Truncation: &tokenizer.Truncation{MaxLength: maxLen, Strategy: tokenizer.LongestFirst},
		Padding:    &tokenizer.Padding{Strategy: tokenizer.PadLongest, PadID: padID(e.Tok)}})
	if err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	n, s := len(encs), 0
	if n > 0 {
		s = encs[0].Len()
	}
	if s == 0 {
		return nil, ErrNoTokens
	}
	ids, mask, types := make([]int64, n*s), make([]int64, n*s), make([]int64, n*s)
	for i, enc := range encs {
		for j := range s {
			ids[i*s+j], mask[i*s+j], types[i*s+j] = int64(enc.IDs[j]), int64(enc.AttentionMask[j]), int64(enc.TypeIDs[j])
		}
	}
	all := map[string]*tensor.Tensor{
		"input_ids": tensor.Must([]int{n, s}, ids), "attention_mask": tensor.Must([]int{n, s}, mask),
		"token_type_ids": tensor.Must([]int{n, s}, types),
	}
	out := map[string]*tensor.Tensor{}
	for _, in := range e.Inputs {
		t, ok := all[in]
		if !ok {
			return nil, fmt.Errorf("finetune: the model's input %q is not one a tokenizer fills (input_ids, attention_mask, token_type_ids)", in)
		}
		out[in] = t
	}
	switch task.(type) {
	case SeqCls:
		y := make([]int64, n)
		for i, ex := range exs {
			y[i] = int64(ex.Label)
		}
		out[InputLabels] = tensor.Must([]int{n}, y)
	case Regression:
		y := make([]float32, n)
		for i, ex := range exs {
			y[i] = float32(ex.Value)
		}
		out[InputLabels] = tensor.Must([]int{n}, y)
	case TokenCls:
		out[InputLabels] = tensor.Must([]int{n, s}, tokenLabels(exs, encs, s))
	}
	return out, nil
}

// tokenLabels gives each word's class to its first token and -100 to the
// other tokens, special tokens and padding (transformers'
// label_all_tokens=False alignment), matching tokens to words by offsets.
func tokenLabels(exs []Example, encs []tokenizer.Encoding, s int) []int64 {
	y := make([]int64, len(exs)*s)
	for i, ex := range exs {
		// byte span of each word in Text
		starts := make([]int, len(ex.Words))
		pos := 0
		for w, word := range ex.Words {
			starts[w] = pos
			pos += len(word) + 1
		}
		enc := encs[i]
		last := -1
		for j := range s {
			y[i*s+j] = -100
			if enc.AttentionMask[j] == 0 || enc.SpecialTokensMask[j] == 1 {
				continue
			}
			off := enc.Offsets[j][0]
			w := wordAt(starts, off)
			if w >= 0 && w != last {
				y[i*s+j] = int64(ex.Tags[w])
				last = w
			}
		}
	}
	return y
}

func wordAt(starts []int, off int) int {
	w := -1
	for k, st := range starts {
		if st <= off {
			w = k
		}
	}
	return w
}

// padID is the tokenizer's padding id ([PAD] or <pad>, else 0).
func padID(t *tokenizer.Tokenizer) int {
	if t.Padding != nil {
		return t.Padding.PadID
	}
	for _, p := range []string{"[PAD]", "<pad>", "<|endoftext|>"} {
		if id, ok := t.TokenToID(p); ok {
			return id
		}
	}
	return 0
}
