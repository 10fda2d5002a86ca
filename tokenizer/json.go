package tokenizer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

func errorf(format string, args ...any) error {
	return fmt.Errorf("tokenizer: "+format, args...)
}

// Limits on what a tokenizer.json may ask for.
const (
	maxNesting   = 16      // Sequence inside Sequence
	maxLength    = 1 << 20 // truncation max_length, padding length
	maxAddedID   = 1 << 24
	maxFileBytes = 1 << 30
)

// Load reads a Hugging Face tokenizer.json.
func Load(path string) (*Tokenizer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, errorf("%w", err)
	}
	t, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

type fileJSON struct {
	Version       string           `json:"version"`
	Truncation    json.RawMessage  `json:"truncation"`
	Padding       json.RawMessage  `json:"padding"`
	AddedTokens   []addedTokenJSON `json:"added_tokens"`
	Normalizer    json.RawMessage  `json:"normalizer"`
	PreTokenizer  json.RawMessage  `json:"pre_tokenizer"`
	PostProcessor json.RawMessage  `json:"post_processor"`
	Decoder       json.RawMessage  `json:"decoder"`
	Model         json.RawMessage  `json:"model"`
}

type addedTokenJSON struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// Parse reads the bytes of a Hugging Face tokenizer.json. The input is
// untrusted: errors name the offending field, nesting and sizes are bounded.
func Parse(data []byte) (*Tokenizer, error) {
	if len(data) > maxFileBytes {
		return nil, errorf("tokenizer.json is %d bytes, more than the %d allowed", len(data), maxFileBytes)
	}
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, errorf("tokenizer.json: %w", err)
	}
	t := &Tokenizer{}
	var err error
	if isNull(f.Model) {
		return nil, errorf("model: missing")
	}
	if t.Model, err = parseModel(f.Model); err != nil {
		return nil, errorf("model: %w", err)
	}
	if t.Normalizer, err = parseNormalizer(f.Normalizer, 0); err != nil {
		return nil, errorf("normalizer: %w", err)
	}
	if t.PreTokenizer, err = parsePreTokenizer(f.PreTokenizer, 0); err != nil {
		return nil, errorf("pre_tokenizer: %w", err)
	}
	if t.PostProcessor, err = parsePostProcessor(f.PostProcessor, 0); err != nil {
		return nil, errorf("post_processor: %w", err)
	}
	if t.Decoder, err = parseDecoder(f.Decoder, 0); err != nil {
		return nil, errorf("decoder: %w", err)
	}
	if t.Truncation, err = parseTruncation(f.Truncation); err != nil {
		return nil, errorf("truncation: %w", err)
	}
	if t.Padding, err = parsePadding(f.Padding); err != nil {
		return nil, errorf("padding: %w", err)
	}
	toks := make([]AddedToken, len(f.AddedTokens))
	seen := map[int]bool{}
	for i, a := range f.AddedTokens {
		if a.ID < 0 || a.ID >= maxAddedID {
			return nil, errorf("added_tokens[%d].id: %d out of range [0, %d)", i, a.ID, maxAddedID)
		}
		if a.Content == "" {
			return nil, errorf("added_tokens[%d].content: empty", i)
		}
		if seen[a.ID] {
			return nil, errorf("added_tokens[%d].id: %d used twice", i, a.ID)
		}
		seen[a.ID] = true
		toks[i] = AddedToken{ID: a.ID, Content: a.Content, SingleWord: a.SingleWord, LStrip: a.LStrip, RStrip: a.RStrip, Normalized: a.Normalized, Special: a.Special}
	}
	t.AddTokens(toks...)
	return t, nil
}

func isNull(m json.RawMessage) bool {
	return len(bytes.TrimSpace(m)) == 0 || string(bytes.TrimSpace(m)) == "null"
}

// component decodes a component that may be null (o == nil then).
func component(m json.RawMessage) (o map[string]json.RawMessage, typ string, err error) {
	if isNull(m) {
		return nil, "", nil
	}
	return object(m)
}

// object decodes a JSON object into its fields and its "type".
func object(m json.RawMessage) (map[string]json.RawMessage, string, error) {
	var o map[string]json.RawMessage
	if err := json.Unmarshal(m, &o); err != nil {
		return nil, "", err
	}
	var typ string
	if t, ok := o["type"]; ok {
		if err := json.Unmarshal(t, &typ); err != nil {
			return nil, "", fieldErr("type", err)
		}
	}
	return o, typ, nil
}

// field decodes o[name] into v when present and not null.
func field(o map[string]json.RawMessage, name string, v any) error {
	m, ok := o[name]
	if !ok || isNull(m) {
		return nil
	}
	if err := json.Unmarshal(m, v); err != nil {
		return fieldErr(name, err)
	}
	return nil
}

// fields decodes several fields; names and targets alternate.
func fields(o map[string]json.RawMessage, nv ...any) error {
	for i := 0; i+1 < len(nv); i += 2 {
		if err := field(o, nv[i].(string), nv[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// list decodes a list of components of a Sequence.
func list[T any](o map[string]json.RawMessage, name string, depth int, parse func(json.RawMessage, int) (T, error)) ([]T, error) {
	if depth >= maxNesting {
		return nil, fmt.Errorf("sequences nested deeper than %d", maxNesting)
	}
	var raw []json.RawMessage
	if err := field(o, name, &raw); err != nil {
		return nil, err
	}
	out := make([]T, 0, len(raw))
	for i, r := range raw {
		x, err := parse(r, depth+1)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", name, i, err)
		}
		out = append(out, x)
	}
	return out, nil
}

func parseModel(m json.RawMessage) (Model, error) {
	o, typ, err := object(m)
	if err != nil {
		return nil, err
	}
	if typ == "" {
		if _, ok := o["merges"]; ok {
			typ = "BPE"
		} else if _, ok := o["max_input_chars_per_word"]; ok {
			typ = "WordPiece"
		}
	}
	if typ == "Unigram" {
		return parseUnigram(o)
	}
	var v map[string]int
	if err := field(o, "vocab", &v); err != nil {
		return nil, err
	}
	switch typ {
	case "WordPiece":
		unk, prefix, maxChars := "[UNK]", "##", 100
		if err := fields(o, "unk_token", &unk, "continuing_subword_prefix", &prefix, "max_input_chars_per_word", &maxChars); err != nil {
			return nil, err
		}
		wp, err := NewWordPiece(v, unk, prefix, maxChars)
		if err != nil {
			return nil, err
		}
		return wp, nil
	case "BPE":
		var unk, prefix, suffix string
		var fuse, fallback, ignore bool
		var dropout *float64
		if err := fields(o, "unk_token", &unk, "continuing_subword_prefix", &prefix, "end_of_word_suffix", &suffix,
			"fuse_unk", &fuse, "byte_fallback", &fallback, "ignore_merges", &ignore, "dropout", &dropout); err != nil {
			return nil, err
		}
		if dropout != nil && *dropout > 0 {
			return nil, errors.New("dropout: BPE dropout is not supported; set it to null for inference")
		}
		var raw []json.RawMessage
		if err := field(o, "merges", &raw); err != nil {
			return nil, err
		}
		merges := make([][2]string, len(raw))
		for i, r := range raw {
			var s string
			var pair []string
			if json.Unmarshal(r, &s) == nil {
				a, b, ok := strings.Cut(s, " ")
				if !ok || strings.Contains(b, " ") {
					return nil, fmt.Errorf("merges[%d]: %q is not two tokens separated by one space", i, s)
				}
				merges[i] = [2]string{a, b}
			} else if err := json.Unmarshal(r, &pair); err == nil && len(pair) == 2 {
				merges[i] = [2]string{pair[0], pair[1]}
			} else {
				return nil, fmt.Errorf("merges[%d]: want \"a b\" or [\"a\", \"b\"]", i)
			}
		}
		b, err := NewBPE(v, merges, unk, prefix, suffix)
		if err != nil {
			return nil, err
		}
		b.FuseUnk, b.ByteFallback, b.IgnoreMerges = fuse, fallback, ignore
		return b, nil
	case "WordLevel":
		unk := "<unk>"
		if err := field(o, "unk_token", &unk); err != nil {
			return nil, err
		}
		return NewWordLevel(v, unk)
	}
	return nil, fmt.Errorf("type %q is not supported (WordPiece, BPE, WordLevel, Unigram)", typ)
}

// parseUnigram reads {"vocab": [["piece", score], ...], "unk_id": n or
// null, "byte_fallback": bool}.
func parseUnigram(o map[string]json.RawMessage) (Model, error) {
	var raw [][]json.RawMessage
	unk := -1
	var unkRaw json.RawMessage
	var fallback bool
	if err := fields(o, "vocab", &raw, "unk_id", &unkRaw, "byte_fallback", &fallback); err != nil {
		return nil, err
	}
	if _, ok := o["vocab"]; !ok {
		return nil, errors.New("vocab: missing")
	}
	if !isNull(unkRaw) {
		if err := json.Unmarshal(unkRaw, &unk); err != nil || unk < 0 {
			return nil, fmt.Errorf("unk_id: want a non-negative integer or null, got %s", unkRaw)
		}
	}
	pieces := make([]UnigramPiece, len(raw))
	for i, e := range raw {
		if len(e) != 2 || json.Unmarshal(e[0], &pieces[i].Piece) != nil || json.Unmarshal(e[1], &pieces[i].Score) != nil {
			return nil, fmt.Errorf("vocab[%d]: want [\"piece\", score]", i)
		}
	}
	if unk >= 0 && len(pieces) == 0 {
		return nil, errors.New("vocab: empty, but unk_id needs the unknown piece")
	}
	u, err := NewUnigram(pieces, unk, fallback)
	if err != nil {
		return nil, err
	}
	return u, nil
}

func parseNormalizer(m json.RawMessage, depth int) (Normalizer, error) {
	o, typ, err := component(m)
	if o == nil || err != nil {
		return nil, err
	}
	switch typ {
	case "BertNormalizer":
		b := &BertNormalizer{CleanText: true, HandleChineseChars: true, Lowercase: true}
		if err := fields(o, "clean_text", &b.CleanText, "handle_chinese_chars", &b.HandleChineseChars,
			"strip_accents", &b.StripAccents, "lowercase", &b.Lowercase); err != nil {
			return nil, err
		}
		return b, nil
	case "NFC":
		return NFC{}, nil
	case "NFD":
		return NFD{}, nil
	case "NFKC":
		return NFKC{}, nil
	case "NFKD":
		return NFKD{}, nil
	case "Lowercase":
		return Lowercase{}, nil
	case "StripAccents":
		return StripAccents{}, nil
	case "Sequence":
		l, err := list(o, "normalizers", depth, parseNormalizer)
		return NormalizerSequence(l), err
	case "Prepend":
		var p Prepend
		return p, field(o, "prepend", &p.Prepend)
	case "Replace":
		pat, regex, content, err := parseReplacePattern(o)
		if err != nil || !regex {
			return Replace{pat, content}, err
		}
		return NewRegexReplace(pat, content)
	case "Precompiled":
		var charsmap string
		if err := field(o, "precompiled_charsmap", &charsmap); err != nil {
			return nil, err
		}
		b, err := base64.StdEncoding.DecodeString(charsmap)
		if err != nil {
			return nil, fmt.Errorf("precompiled_charsmap: not base64: %w", err)
		}
		return NewPrecompiled(b)
	case "Strip":
		p := Strip{Left: true, Right: true}
		return p, fields(o, "strip_left", &p.Left, "strip_right", &p.Right)
	}
	return nil, fmt.Errorf("type %q is not supported (BertNormalizer, NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Prepend, Replace, Strip, Precompiled, Sequence)", typ)
}

func parseByteLevel(o map[string]json.RawMessage) (ByteLevel, error) {
	b := ByteLevel{AddPrefixSpace: true, TrimOffsets: true, UseRegex: true}
	err := fields(o, "add_prefix_space", &b.AddPrefixSpace, "trim_offsets", &b.TrimOffsets, "use_regex", &b.UseRegex)
	return b, err
}

func parsePreTokenizer(m json.RawMessage, depth int) (PreTokenizer, error) {
	o, typ, err := component(m)
	if o == nil || err != nil {
		return nil, err
	}
	switch typ {
	case "BertPreTokenizer":
		return BertPreTokenizer{}, nil
	case "Whitespace":
		return Whitespace{}, nil
	case "WhitespaceSplit":
		return WhitespaceSplit{}, nil
	case "Punctuation":
		p := Punctuation{Behavior: Isolated}
		if err := field(o, "behavior", &p.Behavior); err != nil {
			return nil, err
		}
		if !validBehavior(p.Behavior) {
			return nil, fmt.Errorf("behavior: %q is not a split behavior", p.Behavior)
		}
		return p, nil
	case "Digits":
		var d Digits
		return d, field(o, "individual_digits", &d.IndividualDigits)
	case "ByteLevel":
		return parseByteLevel(o)
	case "Sequence":
		l, err := list(o, "pretokenizers", depth, parsePreTokenizer)
		return PreTokenizerSequence(l), err
	case "Metaspace":
		return parseMetaspace(o)
	}
	return nil, fmt.Errorf("type %q is not supported (BertPreTokenizer, ByteLevel, Whitespace, WhitespaceSplit, Punctuation, Digits, Metaspace, Sequence)", typ)
}

// specialToken decodes ["[CLS]", 101].
func specialToken(o map[string]json.RawMessage, name string) (SpecialToken, error) {
	var pair []json.RawMessage
	if err := field(o, name, &pair); err != nil {
		return SpecialToken{}, err
	}
	var s SpecialToken
	if len(pair) != 2 || json.Unmarshal(pair[0], &s.Token) != nil || json.Unmarshal(pair[1], &s.ID) != nil {
		return s, fmt.Errorf("%s: want [\"token\", id]", name)
	}
	if s.ID < 0 || s.ID >= maxAddedID {
		return s, fmt.Errorf("%s: id %d out of range", name, s.ID)
	}
	return s, nil
}

func parsePostProcessor(m json.RawMessage, depth int) (PostProcessor, error) {
	o, typ, err := component(m)
	if o == nil || err != nil {
		return nil, err
	}
	switch typ {
	case "BertProcessing", "RobertaProcessing":
		sep, err := specialToken(o, "sep")
		if err != nil {
			return nil, err
		}
		cls, err := specialToken(o, "cls")
		if err != nil {
			return nil, err
		}
		if typ == "BertProcessing" {
			return &BertProcessing{Sep: sep, Cls: cls}, nil
		}
		r := &RobertaProcessing{Sep: sep, Cls: cls, TrimOffsets: true, AddPrefixSpace: true}
		return r, fields(o, "trim_offsets", &r.TrimOffsets, "add_prefix_space", &r.AddPrefixSpace)
	case "ByteLevel":
		b, err := parseByteLevel(o)
		return &ByteLevelProcessing{b}, err
	case "TemplateProcessing":
		return parseTemplate(o)
	case "Sequence":
		l, err := list(o, "processors", depth, parsePostProcessor)
		return PostProcessorSequence(l), err
	}
	return nil, fmt.Errorf("type %q is not supported (BertProcessing, RobertaProcessing, ByteLevel, TemplateProcessing, Sequence)", typ)
}

func parseTemplate(o map[string]json.RawMessage) (*TemplateProcessing, error) {
	type pieceJSON struct {
		SpecialToken *struct {
			ID     string `json:"id"`
			TypeID int    `json:"type_id"`
		}
		Sequence *struct {
			ID     string `json:"id"`
			TypeID int    `json:"type_id"`
		}
	}
	conv := func(name string) ([]TemplatePiece, error) {
		var l []pieceJSON
		if err := field(o, name, &l); err != nil {
			return nil, err
		}
		out := make([]TemplatePiece, len(l))
		for i, p := range l {
			switch {
			case p.SpecialToken != nil:
				out[i] = TemplatePiece{Special: p.SpecialToken.ID, TypeID: p.SpecialToken.TypeID}
			case p.Sequence != nil:
				out[i] = TemplatePiece{Sequence: p.Sequence.ID, TypeID: p.Sequence.TypeID}
			default:
				return nil, fmt.Errorf("%s[%d]: want SpecialToken or Sequence", name, i)
			}
		}
		return out, nil
	}
	var p TemplateProcessing
	var err error
	if p.Single, err = conv("single"); err != nil {
		return nil, err
	}
	if p.Pair, err = conv("pair"); err != nil {
		return nil, err
	}
	var sp map[string]struct {
		ID     string   `json:"id"`
		IDs    []int    `json:"ids"`
		Tokens []string `json:"tokens"`
	}
	if err := field(o, "special_tokens", &sp); err != nil {
		return nil, err
	}
	p.SpecialTokens = map[string]TemplateSpecial{}
	for k, v := range sp {
		for _, id := range v.IDs {
			if id < 0 || id >= maxAddedID {
				return nil, fmt.Errorf("special_tokens[%q].ids: id %d out of range", k, id)
			}
		}
		p.SpecialTokens[k] = TemplateSpecial(v)
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

func parseDecoder(m json.RawMessage, depth int) (Decoder, error) {
	o, typ, err := component(m)
	if o == nil || err != nil {
		return nil, err
	}
	switch typ {
	case "WordPiece":
		d := WordPieceDecoder{Prefix: "##", Cleanup: true}
		return d, fields(o, "prefix", &d.Prefix, "cleanup", &d.Cleanup)
	case "ByteLevel":
		b, err := parseByteLevel(o)
		return ByteLevelDecoder{b}, err
	case "BPEDecoder":
		d := BPEDecoder{Suffix: "</w>"}
		return d, field(o, "suffix", &d.Suffix)
	case "Sequence":
		l, err := list(o, "decoders", depth, parseDecoder)
		return DecoderSequence(l), err
	case "Metaspace":
		return parseMetaspace(o)
	case "Replace":
		pat, content, err := parseReplace(o)
		return ReplaceDecoder{pat, content}, err
	case "ByteFallback":
		return ByteFallback{}, nil
	case "Fuse":
		return Fuse{}, nil
	case "Strip":
		var content string
		d := StripDecoder{}
		if err := fields(o, "content", &content, "start", &d.Start, "stop", &d.Stop); err != nil {
			return nil, err
		}
		if utf8.RuneCountInString(content) != 1 || d.Start < 0 || d.Stop < 0 {
			return nil, errors.New("strip: want one content character and non-negative start and stop")
		}
		d.Content, _ = utf8.DecodeRuneInString(content)
		return d, nil
	}
	return nil, fmt.Errorf("type %q is not supported (WordPiece, ByteLevel, BPEDecoder, Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence)", typ)
}

func parseDirection(o map[string]json.RawMessage) (Direction, error) {
	d := Right
	if err := field(o, "direction", &d); err != nil {
		return d, err
	}
	if d != Right && d != Left {
		return d, fmt.Errorf("direction: %q is not Left or Right", d)
	}
	return d, nil
}

func parseTruncation(m json.RawMessage) (*Truncation, error) {
	if isNull(m) {
		return nil, nil
	}
	o, _, err := object(m)
	if err != nil {
		return nil, err
	}
	t := &Truncation{MaxLength: 512, Strategy: LongestFirst}
	if t.Direction, err = parseDirection(o); err != nil {
		return nil, err
	}
	if err := fields(o, "max_length", &t.MaxLength, "strategy", &t.Strategy, "stride", &t.Stride); err != nil {
		return nil, err
	}
	if t.MaxLength < 0 || t.MaxLength > maxLength {
		return nil, fmt.Errorf("max_length: %d out of range [0, %d]", t.MaxLength, maxLength)
	}
	switch t.Strategy {
	case LongestFirst, OnlyFirst, OnlySecond:
	default:
		return nil, fmt.Errorf("strategy: %q is not LongestFirst, OnlyFirst or OnlySecond", t.Strategy)
	}
	return t, nil
}

func parsePadding(m json.RawMessage) (*Padding, error) {
	if isNull(m) {
		return nil, nil
	}
	o, _, err := object(m)
	if err != nil {
		return nil, err
	}
	p := &Padding{Strategy: PadLongest, PadToken: "[PAD]"}
	if p.Direction, err = parseDirection(o); err != nil {
		return nil, err
	}
	var mult *int
	if err := fields(o, "pad_id", &p.PadID, "pad_type_id", &p.PadTypeID, "pad_token", &p.PadToken, "pad_to_multiple_of", &mult); err != nil {
		return nil, err
	}
	if mult != nil {
		p.PadToMultipleOf = *mult
	}
	var strat json.RawMessage
	if err := field(o, "strategy", &strat); err != nil {
		return nil, err
	}
	if !isNull(strat) {
		var s string
		var fixed struct{ Fixed *int }
		if json.Unmarshal(strat, &s) == nil && s == "BatchLongest" {
			p.Strategy = PadLongest
		} else if json.Unmarshal(strat, &fixed) == nil && fixed.Fixed != nil {
			p.Strategy, p.Length = PadFixed, *fixed.Fixed
		} else {
			return nil, errors.New(`strategy: want "BatchLongest" or {"Fixed": n}`)
		}
	}
	if p.Length < 0 || p.Length > maxLength || p.PadToMultipleOf < 0 || p.PadToMultipleOf > maxLength {
		return nil, fmt.Errorf("strategy: padding length %d or multiple %d out of range [0, %d]", p.Length, p.PadToMultipleOf, maxLength)
	}
	return p, nil
}

// Save writes t as a tokenizer.json that Hugging Face `tokenizers` loads.
func (t *Tokenizer) Save(path string) error {
	b, err := t.MarshalJSON()
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// MarshalJSON gives the tokenizer.json form of t.
func (t *Tokenizer) MarshalJSON() ([]byte, error) {
	if t.Model == nil {
		return nil, errorf("save: the tokenizer has no model")
	}
	comp := func(c interface{ toJSON() map[string]any }) any {
		if c == nil {
			return nil
		}
		return c.toJSON()
	}
	var norm, pre, post, dec any
	if t.Normalizer != nil {
		norm = comp(t.Normalizer)
	}
	if t.PreTokenizer != nil {
		pre = comp(t.PreTokenizer)
	}
	if t.PostProcessor != nil {
		post = comp(t.PostProcessor)
	}
	if t.Decoder != nil {
		dec = comp(t.Decoder)
	}
	added := make([]any, len(t.added))
	for i, a := range t.added {
		added[i] = ordered{{"id", a.ID}, {"content", a.Content}, {"single_word", a.SingleWord}, {"lstrip", a.LStrip},
			{"rstrip", a.RStrip}, {"normalized", a.Normalized}, {"special", a.Special}}
	}
	var trunc, padding any
	if tr := t.Truncation; tr != nil {
		trunc = ordered{{"direction", string(orDefault(tr.Direction, Right))}, {"max_length", tr.MaxLength},
			{"strategy", string(orDefault(tr.Strategy, LongestFirst))}, {"stride", tr.Stride}}
	}
	if p := t.Padding; p != nil {
		var strat any = "BatchLongest"
		if p.Strategy == PadFixed {
			strat = map[string]any{"Fixed": p.Length}
		}
		var mult any
		if p.PadToMultipleOf > 0 {
			mult = p.PadToMultipleOf
		}
		padding = ordered{{"strategy", strat}, {"direction", string(orDefault(p.Direction, Right))}, {"pad_to_multiple_of", mult},
			{"pad_id", p.PadID}, {"pad_type_id", p.PadTypeID}, {"pad_token", p.PadToken}}
	}
	doc := ordered{{"version", "1.0"}, {"truncation", trunc}, {"padding", padding}, {"added_tokens", added},
		{"normalizer", norm}, {"pre_tokenizer", pre}, {"post_processor", post}, {"decoder", dec}, {"model", t.Model.toJSON()}}
	var buf bytes.Buffer
	if err := writeJSON(&buf, doc); err != nil {
		return nil, errorf("save: %w", err)
	}
	return buf.Bytes(), nil
}

// ordered is a JSON object with its keys in order.
type ordered []struct {
	k string
	v any
}

// writeJSON writes v with object keys in a stable order: ordered as given,
// maps with "type" first and the rest sorted.
func writeJSON(w *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case ordered:
		w.WriteByte('{')
		for i, kv := range x {
			if i > 0 {
				w.WriteByte(',')
			}
			w.Write(appendJSONString(nil, kv.k))
			w.WriteByte(':')
			if err := writeJSON(w, kv.v); err != nil {
				return err
			}
		}
		w.WriteByte('}')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if (keys[i] == "type") != (keys[j] == "type") {
				return keys[i] == "type"
			}
			return keys[i] < keys[j]
		})
		o := make(ordered, len(keys))
		for i, k := range keys {
			o[i].k, o[i].v = k, x[k]
		}
		return writeJSON(w, o)
	case []any:
		w.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				w.WriteByte(',')
			}
			if err := writeJSON(w, e); err != nil {
				return err
			}
		}
		w.WriteByte(']')
	case string:
		w.Write(appendJSONString(nil, x))
	case int:
		w.WriteString(strconv.Itoa(x))
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return err
		}
		w.Write(b)
	}
	return nil
}

// appendJSONString appends s as a JSON string, escaping only what JSON
// requires.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = fmt.Appendf(b, `\u%04x`, r)
		default:
			b = append(b, string(r)...)
		}
	}
	return append(b, '"')
}

// sequenceJSON is the JSON of a Sequence component holding l under key.
func sequenceJSON[T interface{ toJSON() map[string]any }](l []T, key string) map[string]any {
	out := make([]any, len(l))
	for i, x := range l {
		out[i] = x.toJSON()
	}
	return map[string]any{"type": "Sequence", key: out}
}

// orDefault is v, or def when v is the zero value.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// parseReplace reads a Replace component's string pattern and content.
func parseReplace(o map[string]json.RawMessage) (pattern, content string, err error) {
	pattern, regex, content, err := parseReplacePattern(o)
	if err == nil && regex {
		err = errors.New(`pattern: only {"String": ...} patterns are supported here, not regular expressions`)
	}
	return pattern, content, err
}

// parseReplacePattern reads a Replace component's pattern, {"String": s} or
// {"Regex": s}, and content.
func parseReplacePattern(o map[string]json.RawMessage) (pattern string, regex bool, content string, err error) {
	var pat struct {
		String *string
		Regex  *string
	}
	if err := fields(o, "pattern", &pat, "content", &content); err != nil {
		return "", false, "", err
	}
	switch {
	case pat.String != nil:
		return *pat.String, false, content, nil
	case pat.Regex != nil:
		return *pat.Regex, true, content, nil
	}
	return "", false, "", errors.New(`pattern: want {"String": ...} or {"Regex": ...}`)
}

func parseMetaspace(o map[string]json.RawMessage) (Metaspace, error) {
	m := Metaspace{Replacement: '▁', PrependScheme: PrependAlways, Split: true}
	var rep string
	var addPrefix *bool
	if err := fields(o, "replacement", &rep, "prepend_scheme", &m.PrependScheme, "split", &m.Split, "add_prefix_space", &addPrefix); err != nil {
		return m, err
	}
	if rep != "" {
		if utf8.RuneCountInString(rep) != 1 {
			return m, fmt.Errorf("replacement: %q is not one character", rep)
		}
		m.Replacement, _ = utf8.DecodeRuneInString(rep)
	}
	if _, ok := o["prepend_scheme"]; !ok && addPrefix != nil && !*addPrefix {
		m.PrependScheme = PrependNever
	}
	switch m.PrependScheme {
	case PrependAlways, PrependFirst, PrependNever:
	default:
		return m, fmt.Errorf("prepend_scheme: %q is not always, first or never", m.PrependScheme)
	}
	return m, nil
}
