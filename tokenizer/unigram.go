package tokenizer

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// Unigram is SentencePiece's unigram language model (XLM-RoBERTa, T5,
// ALBERT, mBART): each piece has a score, a log probability, and a word is
// cut into the pieces whose scores sum highest (Viterbi over the lattice of
// pieces found at each character). A character no piece starts with becomes
// the unknown piece, scored ten below the lowest score; adjacent unknowns fuse
// into one token, which with ByteFallback is spelled as <0xXX> pieces instead.
type Unigram struct {
	vocab
	Pieces       []UnigramPiece
	UnkID        int // -1 for none
	ByteFallback bool

	trie     pieceTrie
	unkScore float64
}

// UnigramPiece is a vocabulary entry of a Unigram model; its id is its index.
type UnigramPiece struct {
	Piece string
	Score float64
}

// unkPenalty is how far below the lowest piece score an unknown character is
// scored (Hugging Face's and SentencePiece's kUnkPenalty).
const unkPenalty = 10.0

// NewUnigram builds a Unigram model. unkID is the id of the unknown piece, or
// -1 for none; a character no piece covers is then left out (Hugging Face
// fails to encode such text).
func NewUnigram(pieces []UnigramPiece, unkID int, byteFallback bool) (*Unigram, error) {
	if unkID >= 0 && unkID >= len(pieces) {
		return nil, fmt.Errorf("unk_id: %d is not below the %d pieces of the vocab", unkID, len(pieces))
	}
	if unkID < -1 {
		return nil, fmt.Errorf("unk_id: %d is negative", unkID)
	}
	u := &Unigram{Pieces: pieces, UnkID: unkID, ByteFallback: byteFallback,
		vocab: vocab{ids: make(map[string]int, len(pieces)), tokens: make([]string, len(pieces))}}
	minScore := math.Inf(1)
	for id, p := range pieces {
		if math.IsNaN(p.Score) || math.IsInf(p.Score, 0) {
			return nil, fmt.Errorf("vocab[%d]: score of %q is %v", id, p.Piece, p.Score)
		}
		u.ids[p.Piece] = id // a repeated piece keeps its last id, as in Hugging Face
		u.tokens[id] = p.Piece
		minScore = min(minScore, p.Score)
	}
	u.unkScore = minScore - unkPenalty
	u.trie = newPieceTrie(u.ids, pieces)
	return u, nil
}

// VocabSize counts every entry, repeated pieces included.
func (u *Unigram) VocabSize() int { return len(u.Pieces) }

// IDToToken returns the piece of id.
func (u *Unigram) IDToToken(id int) (string, bool) {
	if id < 0 || id >= len(u.Pieces) {
		return "", false
	}
	return u.Pieces[id].Piece, true
}

// pieceTrie is a byte trie over the pieces: node 0 is the root, children are
// found through a map keyed by (node, byte), and each node that ends a piece
// holds its id and score.
type pieceTrie struct {
	next  map[uint64]int32
	root  [256]int32 // the root's children, 0 for none
	id    []int32    // -1 where no piece ends
	score []float64
}

func newPieceTrie(ids map[string]int, pieces []UnigramPiece) pieceTrie {
	t := pieceTrie{next: make(map[uint64]int32), id: []int32{-1}, score: []float64{0}}
	for piece, id := range ids {
		node := int32(0)
		for i := 0; i < len(piece); i++ {
			c := piece[i]
			var child int32
			var ok bool
			if node == 0 {
				child, ok = t.root[c], t.root[c] != 0
			} else {
				child, ok = t.next[uint64(node)<<8|uint64(c)]
			}
			if !ok {
				child = int32(len(t.id))
				t.id, t.score = append(t.id, -1), append(t.score, 0)
				if node == 0 {
					t.root[c] = child
				} else {
					t.next[uint64(node)<<8|uint64(c)] = child
				}
			}
			node = child
		}
		if node != 0 {
			t.id[node], t.score[node] = int32(id), pieces[id].Score
		}
	}
	return t
}

func (t *pieceTrie) step(node int32, c byte) int32 {
	if node == 0 {
		return t.root[c]
	}
	return t.next[uint64(node)<<8|uint64(c)] // 0 when absent: the root has no parent edge
}

// latticeNode is the best path ending at a character boundary: its last
// piece (id, -1 for unknown) and where that piece starts (-1: not reached).
type latticeNode struct {
	score float64
	start int
	id    int
}

func (u *Unigram) tokenize(dst []token, word []rune, sc *scratch) []token {
	if len(word) == 0 {
		return dst
	}
	sc.buf = sc.buf[:0]
	sc.pos = sc.pos[:0]
	for _, r := range word {
		sc.pos = append(sc.pos, len(sc.buf))
		sc.buf = utf8.AppendRune(sc.buf, r)
	}
	sc.pos = append(sc.pos, len(sc.buf))
	buf, pos := sc.buf, sc.pos
	best := sc.lattice[:0]
	for range len(word) + 1 {
		best = append(best, latticeNode{start: -1})
	}
	best[0].start = 0
	// Candidates reach a boundary in order of their start, shortest piece
	// first, the unknown last; a later one replaces only a strictly better
	// path, as in Hugging Face's encode_optimized.
	for i := range word {
		base := best[i].score
		single := false
		node := int32(0)
		j := i // rune index of the boundary being approached
		for b := pos[i]; b < len(buf); b++ {
			if node = u.trie.step(node, buf[b]); node == 0 {
				break
			}
			if b+1 < pos[j+1] {
				continue
			}
			j++
			if id := u.trie.id[node]; id >= 0 {
				if s := base + u.trie.score[node]; best[j].start < 0 || s > best[j].score {
					best[j] = latticeNode{s, i, int(id)}
				}
				single = single || j == i+1
			}
		}
		if !single {
			if s := base + u.unkScore; best[i+1].start < 0 || s > best[i+1].score {
				best[i+1] = latticeNode{s, i, -1}
			}
		}
	}
	// Walk back, then reverse the tokens appended.
	first := len(dst)
	for end := len(word); end > 0; {
		n := best[end]
		if !u.isUnk(n.id) {
			dst = append(dst, token{n.id, n.start, end})
			end = n.start
			continue
		}
		start := n.start
		for start > 0 && u.isUnk(best[start].id) {
			start = best[start].start
		}
		dst = u.unknown(dst, buf[pos[start]:pos[end]], start, end)
		end = start
	}
	sc.lattice = best
	for i, j := first, len(dst)-1; i < j; i, j = i+1, j-1 {
		dst[i], dst[j] = dst[j], dst[i]
	}
	return dst
}

// isUnk reports whether a lattice node is unknown: Hugging Face fuses the
// unknown piece found as text with the unknown characters around it.
func (u *Unigram) isUnk(id int) bool { return id < 0 || id == u.UnkID }

// unknown appends, reversed, the tokens of a run of unknown characters: the
// piece equal to the run's text if there is one, else its bytes as <0xXX>
// pieces (ByteFallback, when all exist), else the unknown piece. Without an
// unknown piece the run is left out.
func (u *Unigram) unknown(dst []token, text []byte, start, end int) []token {
	if id, ok := u.ids[string(text)]; ok {
		return append(dst, token{id, start, end})
	}
	if u.ByteFallback {
		n := len(dst)
		name := [6]byte{'<', '0', 'x', 0, 0, '>'}
		for k := len(text) - 1; k >= 0; k-- {
			const hex = "0123456789ABCDEF"
			name[3], name[4] = hex[text[k]>>4], hex[text[k]&15]
			id, ok := u.ids[string(name[:])]
			if !ok {
				dst = dst[:n]
				break
			}
			dst = append(dst, token{id, start, end})
		}
		if len(dst) > n {
			return dst
		}
	}
	if u.UnkID >= 0 {
		dst = append(dst, token{u.UnkID, start, end})
	}
	return dst
}

func (u *Unigram) toJSON() map[string]any {
	var unk any
	if u.UnkID >= 0 {
		unk = u.UnkID
	}
	return map[string]any{"type": "Unigram", "unk_id": unk, "byte_fallback": u.ByteFallback, "vocab": unigramVocab(u.Pieces)}
}

// unigramVocab marshals to [["piece", score], ...] with scores written as
// the shortest decimal that reads back to the same float64.
type unigramVocab []UnigramPiece

func (v unigramVocab) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 16*len(v)+2)
	b = append(b, '[')
	for i, p := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = appendJSONString(b, p.Piece)
		b = append(b, ',')
		b = strconv.AppendFloat(b, p.Score, 'g', -1, 64)
		if !hasFloatMark(b) {
			b = append(b, ".0"...)
		}
		b = append(b, ']')
	}
	return append(b, ']'), nil
}

// hasFloatMark reports whether the number at the end of b has a point or an
// exponent, so that it reads as a float.
func hasFloatMark(b []byte) bool {
	for i := len(b) - 1; i >= 0 && b[i] != ','; i-- {
		if b[i] == '.' || b[i] == 'e' || b[i] == 'E' || b[i] == 'N' || b[i] == 'I' {
			return true
		}
	}
	return false
}
