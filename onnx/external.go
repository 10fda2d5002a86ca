package onnx

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gort-ml/gort/onnx/onnxpb"
)

// ErrExternalData is wrapped by every error about a tensor's external data
// (refused path, missing or short file, bad offset or length).
var ErrExternalData = errors.New("bad external data")

// externalReader reads tensor bytes stored outside the model file, confined
// to the model's folder. A nil reader or one with an empty base refuses.
type externalReader struct {
	base     string // model folder, symlinks resolved
	err      error  // why base is unusable
	checksum map[string]string
	// skim holds the raw_data Load left in the model file, or nil.
	skim *skimmed
}

func newExternalReader(baseDir string) *externalReader {
	r := &externalReader{checksum: map[string]string{}}
	if baseDir == "" {
		return r
	}
	abs, err := filepath.Abs(baseDir)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		r.err = err
		return r
	}
	r.base = abs
	return r
}

// skimmed returns the span of the model file that holds tp's raw_data,
// where Load left it there (see skim).
func (r *externalReader) skimmed(tp *onnxpb.TensorProto) (span, bool) {
	if r == nil {
		return span{}, false
	}
	return r.skim.take(tp)
}

// externalInfo is a TensorProto's external_data entries.
type externalInfo struct {
	location       string
	offset, length int64
	hasLength      bool
	checksum       string
}

func parseExternalInfo(kv []*onnxpb.StringStringEntryProto) (externalInfo, error) {
	var info externalInfo
	for _, e := range kv {
		switch e.GetKey() {
		case "location":
			info.location = e.GetValue()
		case "offset", "length":
			v, err := strconv.ParseInt(e.GetValue(), 10, 64)
			if err != nil || v < 0 {
				return info, fmt.Errorf("%w: %s %q is not a non-negative integer", ErrExternalData, e.GetKey(), e.GetValue())
			}
			if e.GetKey() == "offset" {
				info.offset = v
			} else {
				info.length, info.hasLength = v, true
			}
		case "checksum":
			info.checksum = strings.ToLower(e.GetValue())
		}
	}
	if info.location == "" {
		return info, fmt.Errorf("%w: no location", ErrExternalData)
	}
	return info, nil
}

// resolve returns the absolute path of location, which must stay inside the
// model folder after following symlinks.
func (r *externalReader) resolve(location string) (string, error) {
	if r == nil || r.base == "" {
		if r != nil && r.err != nil {
			return "", fmt.Errorf("%w: model folder unusable: %v", ErrExternalData, r.err)
		}
		return "", fmt.Errorf("%w: tensor data is in external file %q but the model was parsed from memory; use Load, or Parse with the model's folder", ErrExternalData, location)
	}
	if err := checkLocation(location); err != nil {
		return "", err
	}
	p := filepath.Join(r.base, filepath.FromSlash(location))
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrExternalData, err)
	}
	rel, err := filepath.Rel(r.base, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("%w: location %q resolves to %s, outside the model folder %s", ErrExternalData, location, real, r.base)
	}
	return real, nil
}

// checkLocation rejects locations that could name files outside the model
// folder before any file system access: absolute paths and ".." components.
func checkLocation(location string) error {
	if strings.ContainsRune(location, 0) {
		return fmt.Errorf("%w: location %q contains a NUL byte", ErrExternalData, location)
	}
	if filepath.IsAbs(location) || strings.HasPrefix(location, "/") || strings.HasPrefix(location, `\`) || filepath.VolumeName(location) != "" {
		return fmt.Errorf("%w: location %q is absolute; it must be relative to the model folder", ErrExternalData, location)
	}
	for _, part := range strings.FieldsFunc(location, func(c rune) bool { return c == '/' || c == '\\' }) {
		if part == ".." {
			return fmt.Errorf("%w: location %q has a \"..\" component; it must stay inside the model folder", ErrExternalData, location)
		}
	}
	return nil
}

// read returns the want bytes described by kv.
func (r *externalReader) read(kv []*onnxpb.StringStringEntryProto, want int) ([]byte, error) {
	info, err := parseExternalInfo(kv)
	if err != nil {
		return nil, err
	}
	path, err := r.resolve(info.location)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrExternalData, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrExternalData, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrExternalData, info.location)
	}
	size := st.Size()
	length := size - info.offset
	if info.hasLength {
		length = info.length
	}
	if info.offset > size || length > size-info.offset {
		return nil, fmt.Errorf("%w: offset %d + length %d lie beyond the end of %s (%d bytes)", ErrExternalData, info.offset, length, info.location, size)
	}
	if length != int64(want) {
		return nil, fmt.Errorf("%w: %s holds %d bytes for this tensor, its dims need %d", ErrExternalData, info.location, length, want)
	}
	if info.checksum != "" {
		if err := r.verify(f, path, info); err != nil {
			return nil, err
		}
	}
	buf := make([]byte, want)
	if _, err := f.ReadAt(buf, info.offset); err != nil {
		return nil, fmt.Errorf("%w: reading %s: %v", ErrExternalData, info.location, err)
	}
	return buf, nil
}

// verify checks the SHA-1 of the whole external file (once per file).
func (r *externalReader) verify(f *os.File, path string, info externalInfo) error {
	sum, ok := r.checksum[path]
	if !ok {
		h := sha1.New()
		if _, err := io.Copy(h, io.NewSectionReader(f, 0, 1<<62)); err != nil {
			return fmt.Errorf("%w: reading %s: %v", ErrExternalData, info.location, err)
		}
		sum = hex.EncodeToString(h.Sum(nil))
		r.checksum[path] = sum
	}
	if sum != info.checksum {
		return fmt.Errorf("%w: %s has SHA-1 %s, the model expects %s", ErrExternalData, info.location, sum, info.checksum)
	}
	return nil
}
