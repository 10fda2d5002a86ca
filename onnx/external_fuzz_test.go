package onnx

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gort-ml/gort/onnx/onnxpb"
	"github.com/gort-ml/gort/tensor"
)

// FuzzExternalData parses a model whose initializer keeps its data in an
// external file, with the location, offset, length and dims chosen by the
// fuzzer. The model folder holds data.bin and a symlink to the folder above,
// which holds secret.bin: Parse must never panic, and a tensor it accepts
// must hold bytes of data.bin, never of the secret.
func FuzzExternalData(f *testing.F) {
	root := f.TempDir()
	dir := filepath.Join(root, "model")
	data := make([]byte, 64)
	for i := range data {
		data[i] = byte(i%0x55 + 1)
	}
	secret := bytes.Repeat([]byte{0xab}, 64)
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		f.Fatal(err)
	}
	for path, b := range map[string][]byte{filepath.Join(dir, "data.bin"): data, filepath.Join(dir, "sub", "data.bin"): data, filepath.Join(root, "secret.bin"): secret} {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			f.Fatal(err)
		}
	}
	if err := os.Symlink(root, filepath.Join(dir, "up")); err != nil {
		f.Fatal(err)
	}
	for _, s := range []struct {
		loc, off, length string
		n                uint16
	}{
		{"data.bin", "0", "16", 4}, {"data.bin", "", "", 16}, {"sub/data.bin", "48", "16", 4},
		{"data.bin", "60", "16", 4}, {"data.bin", "-1", "16", 4}, {"data.bin", "9223372036854775807", "16", 4},
		{"data.bin", "0", "9223372036854775807", 4}, {"../secret.bin", "0", "16", 4}, {"up/secret.bin", "0", "16", 4},
		{"up/model/data.bin", "0", "16", 4}, {"/etc/passwd", "0", "16", 4}, {`..\secret.bin`, "0", "16", 4},
		{"./data.bin", "0", "16", 4}, {"sub/../data.bin", "0", "16", 4}, {"data.bin\x00", "0", "16", 4}, {"", "0", "16", 4},
		{"sub", "0", "16", 4}, {".", "0", "0", 0},
	} {
		f.Add(s.loc, s.off, s.length, s.n)
	}
	f.Fuzz(func(t *testing.T, loc, off, length string, n uint16) {
		kv := []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String(loc)}}
		if off != "" {
			kv = append(kv, &onnxpb.StringStringEntryProto{Key: proto.String("offset"), Value: proto.String(off)})
		}
		if length != "" {
			kv = append(kv, &onnxpb.StringStringEntryProto{Key: proto.String("length"), Value: proto.String(length)})
		}
		tt := &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(1)}}}
		mp := &onnxpb.ModelProto{
			IrVersion:   proto.Int64(8),
			OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}},
			Graph: &onnxpb.GraphProto{
				Name: proto.String("g"),
				Node: []*onnxpb.NodeProto{{OpType: proto.String("Identity"), Input: []string{"w"}, Output: []string{"y"}}},
				Initializer: []*onnxpb.TensorProto{{Name: proto.String("w"), Dims: []int64{int64(n)}, DataType: proto.Int32(1),
					DataLocation: onnxpb.TensorProto_EXTERNAL.Enum(), ExternalData: kv}},
				Output: []*onnxpb.ValueInfoProto{{Name: proto.String("y"), Type: tt}},
			},
		}
		b, err := proto.Marshal(mp)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Parse(b, dir)
		if err != nil {
			return
		}
		for _, in := range m.Graph.Initializers {
			var got []byte
			for _, v := range tensor.Data[float32](in.T) {
				got = binary.LittleEndian.AppendUint32(got, math.Float32bits(v))
			}
			if bytes.IndexByte(got, 0xab) >= 0 || (len(got) > 0 && !bytes.Contains(data, got)) {
				t.Fatalf("location %q offset %q length %q: loaded %x, not from data.bin", loc, off, length, got)
			}
		}
	})
}
