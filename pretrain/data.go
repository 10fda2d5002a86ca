package pretrain

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io/fs"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Datasets stream from disk: only file names, a shuffle buffer and the
// batch being built are in memory, so data larger than memory trains.
// Order is deterministic given the seed; an example's membership in the
// training or the validation split depends only on (seed, document index).

// listFiles returns path itself or the files under the folder path whose
// extension is in exts, sorted, so that the order never depends on the
// file system.
func listFiles(path string, exts ...string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("pretrain: data: %w", err)
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	var out []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != path && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			ext := strings.ToLower(filepath.Ext(p))
			for _, e := range exts {
				if ext == e {
					out = append(out, p)
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pretrain: data: %w", err)
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("pretrain: data: no %s files under %s", strings.Join(exts, ", "), path)
	}
	return out, nil
}

// textDocs streams the documents of text files and JSONL files: in a text
// file documents are separated by blank lines and each line is a sentence;
// in a .jsonl file each line is an object whose "text" field is a document,
// its lines the sentences. Documents are numbered from 0 across files.
type textDocs struct {
	files []string
}

func newTextDocs(path string) (*textDocs, error) {
	files, err := listFiles(path, ".txt", ".text", ".jsonl", ".json")
	if err != nil {
		return nil, err
	}
	return &textDocs{files: files}, nil
}

// all yields (document index, sentences); err reports the first read error.
func (s *textDocs) all(err *error) iter.Seq2[int64, []string] {
	return func(yield func(int64, []string) bool) {
		var idx int64
		for _, f := range s.files {
			ok, e := s.file(f, &idx, yield)
			if e != nil {
				*err = e
				return
			}
			if !ok {
				return
			}
		}
	}
}

func (s *textDocs) file(path string, idx *int64, yield func(int64, []string) bool) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("pretrain: data: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	jsonl := strings.HasSuffix(strings.ToLower(path), ".jsonl") || strings.HasSuffix(strings.ToLower(path), ".json")
	var doc []string
	emit := func() bool {
		if len(doc) == 0 {
			return true
		}
		ok := yield(*idx, doc)
		*idx++
		doc = nil
		return ok
	}
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if jsonl {
			if strings.TrimSpace(text) == "" {
				continue
			}
			var obj struct {
				Text *string `json:"text"`
			}
			if err := json.Unmarshal([]byte(text), &obj); err != nil || obj.Text == nil {
				return false, fmt.Errorf("pretrain: data: %s:%d: want a JSON object with a \"text\" string field", path, line)
			}
			for _, l := range strings.Split(*obj.Text, "\n") {
				if l = strings.TrimSpace(l); l != "" {
					doc = append(doc, l)
				}
			}
			if !emit() {
				return false, nil
			}
			continue
		}
		if strings.TrimSpace(text) == "" {
			if !emit() {
				return false, nil
			}
			continue
		}
		doc = append(doc, text)
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("pretrain: data: %s: %w", path, err)
	}
	return emit(), nil
}

// isValidation reports whether document idx belongs to the validation
// split: a hash of (seed, idx) below frac.
func isValidation(seed uint64, idx int64, frac float64) bool {
	if frac <= 0 {
		return false
	}
	h := mix(seed^0x5eed5eed, uint64(idx))
	return float64(h>>11)/float64(1<<53) < frac
}

// mix is a SplitMix64 finalizer of two words.
func mix(a, b uint64) uint64 {
	z := a + b*0x9e3779b97f4a7c15 + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// newRand is a PCG generator seeded from (seed, stream).
func newRand(seed uint64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(mix(seed, stream), stream^0xda7a))
}

// shuffled passes src through a shuffle buffer of size n: it fills the
// buffer, then yields a random element and replaces it with the next one
// (tf.data's and HF datasets' streaming shuffle).
func shuffled[T any](src iter.Seq[T], n int, r *rand.Rand) iter.Seq[T] {
	return func(yield func(T) bool) {
		buf := make([]T, 0, n)
		for v := range src {
			if len(buf) < n {
				buf = append(buf, v)
				continue
			}
			i := r.IntN(n)
			out := buf[i]
			buf[i] = v
			if !yield(out) {
				return
			}
		}
		r.Shuffle(len(buf), func(i, j int) { buf[i], buf[j] = buf[j], buf[i] })
		for _, v := range buf {
			if !yield(v) {
				return
			}
		}
	}
}

// epochs repeats one pass of a dataset forever, epoch e shuffled with the
// stream (seed, e); it stops when a pass yields nothing.
func epochs[T any](pass func(epoch int) iter.Seq[T], err *error) iter.Seq[T] {
	return func(yield func(T) bool) {
		for e := 0; ; e++ {
			n := 0
			for v := range pass(e) {
				n++
				if !yield(v) {
					return
				}
			}
			if n == 0 || *err != nil {
				return
			}
		}
	}
}
