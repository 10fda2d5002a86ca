package onnx

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/gort-ml/gort/onnx/onnxpb"
)

// canonicalTensors rewrites every TensorProto inside m to the encoding
// TensorToProto produces (raw_data), keeping its other fields, so two
// models differing only in how tensor payloads are encoded compare equal.
func canonicalTensors(t testing.TB, m proto.Message) {
	var walk func(protoreflect.Message)
	walk = func(msg protoreflect.Message) {
		if tp, ok := msg.Interface().(*onnxpb.TensorProto); ok && tp.GetDataLocation() != onnxpb.TensorProto_EXTERNAL {
			dec, err := TensorFromProto(tp, "")
			if err != nil {
				t.Fatalf("canonical form of tensor %q: %v", tp.GetName(), err)
			}
			c, err := tensorProto(dec)
			if err != nil {
				t.Fatal(err)
			}
			tp.RawData, tp.StringData = c.RawData, c.StringData
			tp.FloatData, tp.Int32Data, tp.Int64Data, tp.DoubleData, tp.Uint64Data = nil, nil, nil, nil, nil
			return
		}
		// proto2 presence of a scalar set to its default ("" domain, 0
		// model_version) is an encoding detail ir does not record.
		fields := msg.Descriptor().Fields()
		for i := 0; i < fields.Len(); i++ {
			fd := fields.Get(i)
			if fd.HasPresence() && !fd.IsList() && fd.Message() == nil && fd.ContainingOneof() == nil &&
				msg.Has(fd) && msg.Get(fd).Equal(fd.Default()) {
				msg.Clear(fd)
			}
		}
		msg.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
				return true
			}
			switch {
			case fd.IsList():
				for i := 0; i < v.List().Len(); i++ {
					walk(v.List().Get(i).Message())
				}
			case fd.IsMap():
			default:
				walk(v.Message())
			}
			return true
		})
	}
	walk(m.ProtoReflect())
}

// TestRoundTripNodeTests checks proto -> ir -> proto loses nothing on every
// node-test model.
func TestRoundTripNodeTests(t *testing.T) {
	var n int
	for _, path := range nodeTestModels(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var orig onnxpb.ModelProto
		if err := proto.Unmarshal(data, &orig); err != nil {
			t.Fatal(err)
		}
		m, err := Parse(data, "")
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		b, err := Marshal(m)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		var back onnxpb.ModelProto
		if err := proto.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		canonicalTensors(t, &orig)
		canonicalTensors(t, &back)
		if !proto.Equal(&orig, &back) {
			t.Errorf("%s: round trip differs:\n%s", path, firstDiff(&orig, &back))
			if n++; n > 5 {
				t.Fatal("too many differences")
			}
		}
	}
}

// firstDiff shows the first differing lines of two messages' text forms.
func firstDiff(a, b proto.Message) string {
	opts := prototext.MarshalOptions{Multiline: true}
	la := strings.Split(opts.Format(a), "\n")
	lb := strings.Split(opts.Format(b), "\n")
	for i := 0; i < len(la) || i < len(lb); i++ {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			lo := max(0, i-3)
			return fmt.Sprintf("line %d:\n  context: %s\n  file: %q\n  gort: %q", i, strings.Join(la[lo:i], " | "), x, y)
		}
	}
	return "(text forms equal; difference in field presence or unknown fields)"
}

// TestUnmodeledFields checks that fields ir does not model (training_info,
// configuration, device_configurations, unknown fields) survive a round trip.
func TestUnmodeledFields(t *testing.T) {
	mp, err := ModelToProto(smallModel())
	if err != nil {
		t.Fatal(err)
	}
	mp.TrainingInfo = []*onnxpb.TrainingInfoProto{{Initialization: &onnxpb.GraphProto{Name: proto.String("init")}}}
	mp.Configuration = []*onnxpb.DeviceConfigurationProto{{Name: proto.String("cfg"), NumDevices: proto.Int32(2), Device: []string{"a", "b"}}}
	mp.Graph.Node[0].DeviceConfigurations = []*onnxpb.NodeDeviceConfigurationProto{{ConfigurationId: proto.String("cfg"), PipelineStage: proto.Int32(1)}}
	// Field 99 is unknown to onnx 1.23: a varint 7.
	mp.ProtoReflect().SetUnknown([]byte{0x98, 0x06, 0x07})
	data, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(data, "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back onnxpb.ModelProto
	if err := proto.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	var orig onnxpb.ModelProto
	if err := proto.Unmarshal(data, &orig); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&orig, &back) {
		t.Fatalf("unmodeled fields lost:\n%s", firstDiff(&orig, &back))
	}
}
