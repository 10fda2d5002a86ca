package tensor

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"unsafe"
)

// safetensors format: an 8-byte little-endian header length N, N bytes of
// JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]},
// "__metadata__": {"k": "v"}}, then the tensor bytes (offsets relative to
// the end of the header), little-endian, row-major.

// ErrSafetensors is wrapped by every safetensors decoding error.
var ErrSafetensors = errors.New("invalid safetensors file")

// MaxSafetensorsHeader bounds the JSON header (the format's reference
// implementation uses 100 MB).
const MaxSafetensorsHeader = 100 << 20

var stDTypes = map[string]DType{
	"F64": Float64, "F32": Float32, "F16": Float16, "BF16": BFloat16,
	"I64": Int64, "I32": Int32, "I16": Int16, "I8": Int8,
	"U64": Uint64, "U32": Uint32, "U16": Uint16, "U8": Uint8, "BOOL": Bool,
	"F8_E4M3": Float8E4M3FN, "F8_E5M2": Float8E5M2,
}

func stName(d DType) (string, bool) {
	for k, v := range stDTypes {
		if v == d {
			return k, true
		}
	}
	return "", false
}

type stEntry struct {
	DType   string   `json:"dtype"`
	Shape   []int64  `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// Safetensors is a decoded safetensors file: tensors by name, in file order,
// and the free-form metadata.
type Safetensors struct {
	Names    []string // in data order
	Tensors  map[string]*Tensor
	Metadata map[string]string
}

// ReadSafetensors decodes a whole safetensors file held in memory. Every
// declared size is checked against the bytes present before allocating.
func ReadSafetensors(data []byte) (*Safetensors, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the 8-byte header length", ErrSafetensors, len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > MaxSafetensorsHeader || n > uint64(len(data)-8) {
		return nil, fmt.Errorf("%w: header claims %d bytes, the file has %d after the length", ErrSafetensors, n, len(data)-8)
	}
	hdr := data[8 : 8+n]
	body := data[8+n:]
	raw := map[string]json.RawMessage{}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: header JSON: %v", ErrSafetensors, err)
	}
	st := &Safetensors{Tensors: map[string]*Tensor{}, Metadata: map[string]string{}}
	type placed struct {
		name string
		e    stEntry
	}
	var entries []placed
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &st.Metadata); err != nil {
				return nil, fmt.Errorf("%w: __metadata__ must map strings to strings: %v", ErrSafetensors, err)
			}
			continue
		}
		var e stEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("%w: tensor %q: %v", ErrSafetensors, name, err)
		}
		entries = append(entries, placed{name, e})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].e.Offsets[0] < entries[j].e.Offsets[0] })
	var end int64
	for _, p := range entries {
		e := p.e
		dt, ok := stDTypes[e.DType]
		if !ok {
			return nil, fmt.Errorf("%w: tensor %q: dtype %q is not supported", ErrSafetensors, p.name, e.DType)
		}
		shape := make([]int, len(e.Shape))
		for i, d := range e.Shape {
			if d < 0 || d > MaxElements {
				return nil, fmt.Errorf("%w: tensor %q: dimension %d", ErrSafetensors, p.name, d)
			}
			shape[i] = int(d)
		}
		count, err := NumElements(shape)
		if err != nil {
			return nil, fmt.Errorf("%w: tensor %q: %v", ErrSafetensors, p.name, err)
		}
		b, en := e.Offsets[0], e.Offsets[1]
		if b != end || en < b || en > int64(len(body)) {
			return nil, fmt.Errorf("%w: tensor %q: data_offsets [%d, %d] are not contiguous within the %d data bytes", ErrSafetensors, p.name, b, en, len(body))
		}
		if want := int64(count) * int64(dt.Size()); en-b != want {
			return nil, fmt.Errorf("%w: tensor %q: %v %v needs %d bytes, data_offsets give %d", ErrSafetensors, p.name, dt, shape, want, en-b)
		}
		end = en
		t, err := New(dt, shape...)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", p.name, err)
		}
		if err := decodeLE(t, body[b:en]); err != nil {
			return nil, fmt.Errorf("%w: tensor %q: %v", ErrSafetensors, p.name, err)
		}
		st.Names = append(st.Names, p.name)
		st.Tensors[p.name] = t
	}
	if end != int64(len(body)) {
		return nil, fmt.Errorf("%w: %d trailing bytes after the last tensor", ErrSafetensors, int64(len(body))-end)
	}
	return st, nil
}

// LoadSafetensors reads a safetensors file.
func LoadSafetensors(path string) (*Safetensors, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	st, err := ReadSafetensors(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}

// WriteSafetensors encodes tensors (written in the order of names) with metadata.
func WriteSafetensors(w io.Writer, names []string, tensors map[string]*Tensor, metadata map[string]string) error {
	hdr := map[string]any{}
	if len(metadata) > 0 {
		hdr["__metadata__"] = metadata
	}
	var off int64
	for _, name := range names {
		t, ok := tensors[name]
		if !ok {
			return fmt.Errorf("tensor: safetensors: no tensor %q", name)
		}
		dn, ok := stName(t.DType())
		if !ok {
			return fmt.Errorf("tensor: safetensors has no dtype for %v (tensor %q); cast it first", t.DType(), name)
		}
		shape := make([]int64, t.Rank())
		for i, d := range t.Shape() {
			shape[i] = int64(d)
		}
		size := int64(t.Len() * t.DType().Size())
		hdr[name] = stEntry{DType: dn, Shape: shape, Offsets: [2]int64{off, off + size}}
		off += size
	}
	js, err := json.Marshal(hdr)
	if err != nil {
		return err
	}
	for len(js)%8 != 0 { // align the data start, as the reference writer does
		js = append(js, ' ')
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(js)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(js); err != nil {
		return err
	}
	for _, name := range names {
		if _, err := w.Write(encodeLE(tensors[name])); err != nil {
			return err
		}
	}
	return nil
}

// SaveSafetensors writes the file atomically: a temporary file in the same
// folder, fsync, rename, fsync of the folder. A crash leaves either the old
// file or the new one, never a torn one.
func SaveSafetensors(path string, names []string, tensors map[string]*Tensor, metadata map[string]string) error {
	return WriteFileAtomic(path, func(w io.Writer) error { return WriteSafetensors(w, names, tensors, metadata) })
}

// WriteFileAtomic writes path through a temporary file, fsync and rename.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// decodeLE fills t from little-endian bytes of exactly t's size.
func decodeLE(t *Tensor, b []byte) error {
	switch d := t.data.(type) {
	case []bool:
		for i := range d {
			d[i] = b[i] != 0
		}
		return nil
	case []float32:
		for i := range d {
			d[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return nil
	case []float64:
		for i := range d {
			d[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
		return nil
	}
	copy(rawBytes(t), b) // every other dtype here is an integer of its own size; amd64/arm64 are little-endian
	return nil
}

func encodeLE(t *Tensor) []byte {
	if d, ok := t.data.([]bool); ok {
		out := make([]byte, len(d))
		for i, v := range d {
			if v {
				out[i] = 1
			}
		}
		return out
	}
	return append([]byte{}, rawBytes(t)...)
}

// rawBytes views a fixed-size tensor's memory as bytes (little-endian hosts).
func rawBytes(t *Tensor) []byte {
	n := t.Len() * t.dtype.Size()
	if n == 0 {
		return nil
	}
	var p unsafe.Pointer
	switch d := t.data.(type) {
	case []float32:
		p = unsafe.Pointer(&d[0])
	case []float64:
		p = unsafe.Pointer(&d[0])
	case []int8:
		p = unsafe.Pointer(&d[0])
	case []int16:
		p = unsafe.Pointer(&d[0])
	case []int32:
		p = unsafe.Pointer(&d[0])
	case []int64:
		p = unsafe.Pointer(&d[0])
	case []uint8:
		p = unsafe.Pointer(&d[0])
	case []uint16:
		p = unsafe.Pointer(&d[0])
	case []uint32:
		p = unsafe.Pointer(&d[0])
	case []uint64:
		p = unsafe.Pointer(&d[0])
	case []Float16Bits:
		p = unsafe.Pointer(&d[0])
	case []BFloat16Bits:
		p = unsafe.Pointer(&d[0])
	case []F8E4M3FN:
		p = unsafe.Pointer(&d[0])
	case []F8E5M2:
		p = unsafe.Pointer(&d[0])
	default:
		panic(fmt.Sprintf("tensor: rawBytes of %T", t.data))
	}
	return unsafe.Slice((*byte)(p), n)
}
