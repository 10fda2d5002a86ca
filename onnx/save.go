package onnx

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/onnx/onnxpb"
)

// SaveOptions controls where Save puts tensor data.
type SaveOptions struct {
	// ExternalDataFile, when set, is the name (relative to the model's
	// folder) of one file receiving the data of every initializer of at
	// least ExternalThreshold bytes. String tensors always stay inline.
	ExternalDataFile string
	// ExternalThreshold is the smallest initializer, in bytes, stored
	// externally (0: all of them).
	ExternalThreshold int
}

// autoThreshold is the external-data threshold Save uses when a model must
// go external to fit protobuf's 2 GB limit (onnx's own default).
const autoThreshold = 1024

// Save writes m to path. With opts.ExternalDataFile set, large initializers
// go to that file at 4096-byte aligned offsets; without it, Save still
// switches to external data (path's name + ".data") when the model would
// exceed protobuf's 2 GB limit. Initializers of subgraphs are included.
func Save(m *ir.Model, path string, opts SaveOptions) error {
	mp, err := ModelToProto(m)
	if err != nil {
		return fmt.Errorf("onnx: %s: %w", filepath.Base(path), err)
	}
	if opts.ExternalDataFile == "" && proto.Size(mp) > maxProtoSize {
		opts = SaveOptions{ExternalDataFile: filepath.Base(path) + ".data", ExternalThreshold: autoThreshold}
	}
	if opts.ExternalDataFile != "" {
		if err := checkLocation(opts.ExternalDataFile); err != nil {
			return fmt.Errorf("onnx: %s: %w", filepath.Base(path), err)
		}
		dataPath := filepath.Join(filepath.Dir(path), filepath.FromSlash(opts.ExternalDataFile))
		if err := writeExternal(mp, dataPath, opts); err != nil {
			return fmt.Errorf("onnx: %s: %w", filepath.Base(dataPath), err)
		}
	}
	b, err := marshalModel(mp)
	if err != nil {
		return fmt.Errorf("%w (%s)", err, filepath.Base(path))
	}
	return writeFileAtomic(path, b)
}

// externalAlign is the alignment of tensor offsets in external data files
// (a page, so the data can be memory-mapped).
const externalAlign = 4096

// writeExternal moves the raw_data of large initializers of every graph in
// mp into the file at dataPath and points the tensors at it.
func writeExternal(mp *onnxpb.ModelProto, dataPath string, opts SaveOptions) (err error) {
	f, err := os.Create(dataPath)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	var off int64
	var zeros [externalAlign]byte
	var walk func(g *onnxpb.GraphProto) error
	walk = func(g *onnxpb.GraphProto) error {
		for _, tp := range g.Initializer {
			if tp.RawData == nil || len(tp.RawData) < opts.ExternalThreshold {
				continue
			}
			if pad := (externalAlign - off%externalAlign) % externalAlign; pad != 0 {
				if _, err := w.Write(zeros[:pad]); err != nil {
					return err
				}
				off += pad
			}
			if _, err := w.Write(tp.RawData); err != nil {
				return err
			}
			tp.ExternalData = []*onnxpb.StringStringEntryProto{
				{Key: proto.String("location"), Value: proto.String(opts.ExternalDataFile)},
				{Key: proto.String("offset"), Value: proto.String(strconv.FormatInt(off, 10))},
				{Key: proto.String("length"), Value: proto.String(strconv.Itoa(len(tp.RawData)))},
			}
			tp.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
			off += int64(len(tp.RawData))
			tp.RawData = nil
		}
		for _, n := range g.Node {
			for _, a := range n.Attribute {
				for _, sg := range append([]*onnxpb.GraphProto{a.G}, a.Graphs...) {
					if sg != nil {
						if err := walk(sg); err != nil {
							return err
						}
					}
				}
			}
		}
		return nil
	}
	if err := walk(mp.Graph); err != nil {
		return err
	}
	return w.Flush()
}

// writeFileAtomic writes data to a temporary file beside path and renames
// it, so a failed save never leaves a truncated model.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("onnx: %w", err)
	}
	name := tmp.Name()
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(name, 0o644)
	}
	if err == nil {
		err = os.Rename(name, path)
	}
	if err != nil {
		os.Remove(name)
		return fmt.Errorf("onnx: %w", err)
	}
	return nil
}
