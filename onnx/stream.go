package onnx

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gort-ml/gort/onnx/onnxpb"
)

// Load reads a model without holding the file's bytes and its tensors' at
// once: skim walks the protobuf wire format of the file and copies all of
// it into a skeleton but the large raw_data of the tensors it reaches
// (initializers, attribute tensors, in graphs, subgraphs and functions),
// each of which it replaces with a marker naming the span of the file that
// holds it. The skeleton is unmarshalled as usual, and decodeTensor reads
// each marked span from the file straight into the tensor's own memory.
// Peak memory is then about the tensors and the skeleton, where reading
// the file whole holds it and the tensors, twice the model.
//
// skim only optimizes: on anything it does not expect (a malformed or
// truncated file, groups, a tensor with raw_data twice, deep nesting) it
// gives up, and Load reads the file whole, so that errors are those of the
// ordinary path.

// minSkimmed is the smallest raw_data that skim leaves in the file.
const minSkimmed = 4096

// skimField is the field number of the marker skim puts in a TensorProto
// in place of its raw_data (the largest field number protobuf allows; a
// TensorProto's unknown fields are not kept). Its payload is the load's
// nonce and the span's index, so that a file carrying such a field itself
// cannot name spans.
const skimField protowire.Number = protowire.MaxValidNumber

// maxSkimDepth bounds the message nesting skim follows.
const maxSkimDepth = 64

// errSkim makes Load read the file whole.
var errSkim = errors.New("onnx: skim: unexpected wire format")

// span is a stretch of the model file that holds one tensor's raw_data.
type span struct{ off, n int64 }

// skimmed is what skim leaves in the file: the spans, and the nonce of
// their markers.
type skimmed struct {
	f     io.ReaderAt
	nonce [16]byte
	spans []span
}

// message kinds skim descends into.
type kind int

const (
	kModel kind = iota
	kGraph
	kNode
	kAttr
	kFunc
	kTensor
	kOther // copied as is
)

// child is the kind of field num of a message of kind k.
func (k kind) child(num protowire.Number) kind {
	switch {
	case k == kModel && num == 7, k == kAttr && (num == 6 || num == 11):
		return kGraph
	case k == kModel && num == 25:
		return kFunc
	case k == kGraph && num == 1, k == kFunc && num == 7:
		return kNode
	case k == kNode && num == 5:
		return kAttr
	case k == kGraph && num == 5, k == kAttr && (num == 5 || num == 10):
		return kTensor
	}
	return kOther
}

// wireReader reads a file sequentially through a window, and skips
// without reading.
type wireReader struct {
	r    io.ReaderAt
	size int64
	buf  []byte
	off  int64 // file offset of buf[0]
	pos  int64
}

// fill makes at least n bytes from pos available in buf (n <= cap).
func (w *wireReader) fill(n int) error {
	if w.pos >= w.off && w.pos+int64(n) <= w.off+int64(len(w.buf)) {
		return nil
	}
	if w.pos+int64(n) > w.size {
		return errSkim
	}
	m := min(int64(cap(w.buf)), w.size-w.pos)
	w.buf = w.buf[:m]
	if got, err := w.r.ReadAt(w.buf, w.pos); int64(got) != m || err != nil && err != io.EOF {
		w.buf = w.buf[:0]
		return errSkim
	}
	w.off = w.pos
	return nil
}

// varint reads a varint and appends its bytes to out.
func (w *wireReader) varint(out []byte) (uint64, []byte, error) {
	if err := w.fill(min(binary.MaxVarintLen64, int(w.size-w.pos))); err != nil {
		return 0, out, err
	}
	b := w.buf[w.pos-w.off:]
	v, n := protowire.ConsumeVarint(b)
	if n < 0 {
		return 0, out, errSkim
	}
	w.pos += int64(n)
	return v, append(out, b[:n]...), nil
}

// copyN appends the next n bytes to out.
func (w *wireReader) copyN(out []byte, n int64) ([]byte, error) {
	if n > w.size-w.pos {
		return out, errSkim
	}
	if n <= int64(cap(w.buf)) {
		if err := w.fill(int(n)); err != nil {
			return out, err
		}
		i := w.pos - w.off
		w.pos += n
		return append(out, w.buf[i:i+n]...), nil
	}
	l := len(out)
	out = append(out, make([]byte, n)...)
	if _, err := w.r.ReadAt(out[l:], w.pos); err != nil {
		return out, errSkim
	}
	w.pos += n
	return out, nil
}

// skim returns the skeleton of the message of kind k that ends at end.
func (s *skimmed) skim(w *wireReader, k kind, end int64, depth int) ([]byte, error) {
	if depth > maxSkimDepth {
		return nil, errSkim
	}
	var out []byte
	rawSeen := false
	for w.pos < end {
		start := len(out)
		tag, out2, err := w.varint(out)
		if err != nil {
			return nil, err
		}
		out = out2
		num, typ := protowire.DecodeTag(tag)
		if num < protowire.MinValidNumber {
			return nil, errSkim
		}
		switch typ {
		case protowire.VarintType:
			if _, out, err = w.varint(out); err != nil {
				return nil, err
			}
		case protowire.Fixed32Type:
			out, err = w.copyN(out, 4)
		case protowire.Fixed64Type:
			out, err = w.copyN(out, 8)
		case protowire.BytesType:
			var n uint64
			var lenBytes []byte
			if n, lenBytes, err = w.varint(nil); err != nil {
				return nil, err
			}
			if n > uint64(end-w.pos) {
				return nil, errSkim
			}
			switch c := k.child(num); {
			case k == kTensor && num == skimField:
				// A marker the file carries itself: dropped.
				out, w.pos = out[:start], w.pos+int64(n)
			case k == kTensor && num == 9:
				if rawSeen {
					return nil, errSkim // the last one counts: leave it to protobuf
				}
				rawSeen = true
				if n < minSkimmed {
					out = append(out, lenBytes...)
					out, err = w.copyN(out, int64(n))
					break
				}
				marker := protowire.AppendVarint(s.nonce[:], uint64(len(s.spans)))
				s.spans = append(s.spans, span{w.pos, int64(n)})
				w.pos += int64(n)
				out = protowire.AppendTag(out[:start], skimField, protowire.BytesType)
				out = protowire.AppendBytes(out, marker)
			case c != kOther:
				sub, err := s.skim(w, c, w.pos+int64(n), depth+1)
				if err != nil {
					return nil, err
				}
				out = protowire.AppendBytes(out, sub)
			default:
				out = append(out, lenBytes...)
				out, err = w.copyN(out, int64(n))
			}
		default:
			return nil, errSkim // groups, invalid wire types
		}
		if err != nil {
			return nil, err
		}
	}
	if w.pos != end {
		return nil, errSkim
	}
	return out, nil
}

// skimModel parses the model in f (size bytes) through skim; an error
// means the caller should read the file whole.
func skimModel(f *os.File, size int64) (*onnxpb.ModelProto, *skimmed, error) {
	s := &skimmed{f: f}
	if _, err := rand.Read(s.nonce[:]); err != nil {
		return nil, nil, errSkim
	}
	w := &wireReader{r: f, size: size, buf: make([]byte, 0, 1<<16)}
	skel, err := s.skim(w, kModel, size, 0)
	if err != nil {
		return nil, nil, err
	}
	var mp onnxpb.ModelProto
	if err := unmarshal(skel, &mp); err != nil {
		return nil, nil, errSkim
	}
	return &mp, s, nil
}

// take returns the span tp's marker names, if it has one of this load.
func (s *skimmed) take(tp *onnxpb.TensorProto) (span, bool) {
	if s == nil {
		return span{}, false
	}
	b := tp.ProtoReflect().GetUnknown()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeField(b)
		if n < 0 {
			return span{}, false
		}
		if num == skimField && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b[protowire.SizeTag(num):n])
			if len(v) > len(s.nonce) && bytes.Equal(v[:len(s.nonce)], s.nonce[:]) {
				i, m := protowire.ConsumeVarint(v[len(s.nonce):])
				if m == len(v)-len(s.nonce) && i < uint64(len(s.spans)) {
					return s.spans[i], true
				}
			}
		}
		b = b[n:]
	}
	return span{}, false
}

// read returns the bytes of sp, in memory of their own.
func (s *skimmed) read(sp span) ([]byte, error) {
	buf := make([]byte, sp.n)
	if _, err := s.f.ReadAt(buf, sp.off); err != nil {
		return nil, fmt.Errorf("reading raw_data (%d bytes at offset %d of the model file): %v", sp.n, sp.off, err)
	}
	return buf, nil
}
