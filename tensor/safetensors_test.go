package tensor

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

func TestSafetensorsRoundTrip(t *testing.T) {
	ts := map[string]*Tensor{
		"a.weight": Must([]int{2, 3}, []float32{1, 2, 3, 4, 5, -6}),
		"b":        Must([]int{2}, []int64{7, -8}),
		"c":        Must([]int{}, []float64{3.5}),
		"m":        Must([]int{3}, []bool{true, false, true}),
		"h":        Must([]int{1}, []Float16Bits{Float16FromFloat32(1.5)}),
		"e":        Must([]int{0, 4}, []float32{}),
	}
	names := []string{"a.weight", "b", "c", "m", "h", "e"}
	var buf bytes.Buffer
	if err := WriteSafetensors(&buf, names, ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	st, err := ReadSafetensors(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if st.Metadata["format"] != "pt" {
		t.Errorf("metadata %v", st.Metadata)
	}
	for _, n := range names {
		if !Equal(st.Tensors[n], ts[n]) {
			t.Errorf("%s: got %v want %v", n, st.Tensors[n], ts[n])
		}
	}
}

func header(js string) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, uint64(len(js)))
	return append(b, js...)
}

func TestSafetensorsHostile(t *testing.T) {
	bomb := make([]byte, 8)
	binary.LittleEndian.PutUint64(bomb, 1<<62)
	cases := map[string]struct {
		data []byte
		want string
	}{
		"short":           {[]byte{1, 2}, "shorter than"},
		"header bomb":     {bomb, "header claims"},
		"bad json":        {header("{nope"), "header JSON"},
		"size mismatch":   {append(header(`{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}`), make([]byte, 8)...), "needs 16 bytes"},
		"offsets outside": {header(`{"x":{"dtype":"F32","shape":[1000000000],"data_offsets":[0,4000000000]}}`), "not contiguous"},
		"huge shape":      {header(`{"x":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}`), "dimension"},
		"negative dim":    {header(`{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`), "dimension"},
		"bad dtype":       {header(`{"x":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}}`), "not supported"},
		"trailing":        {append(header(`{}`), 1, 2, 3), "trailing"},
		"overlap":         {append(header(`{"x":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"y":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}`), 1, 2, 3), "not contiguous"},
	}
	for name, c := range cases {
		_, err := ReadSafetensors(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, c.want)
		}
	}
}

func FuzzReadSafetensors(f *testing.F) {
	var buf bytes.Buffer
	WriteSafetensors(&buf, []string{"a"}, map[string]*Tensor{"a": Must([]int{2}, []float32{1, 2})}, nil)
	f.Add(buf.Bytes())
	f.Add(header(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ReadSafetensors(data)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := WriteSafetensors(&out, st.Names, st.Tensors, st.Metadata); err != nil {
			t.Fatal(err)
		}
	})
}
