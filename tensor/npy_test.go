package tensor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNPYRoundTrip(t *testing.T) {
	nan := float32(math.NaN())
	cases := []struct {
		name string
		t    *Tensor
	}{
		{"float32", Must([]int{2, 3}, []float32{1, -2.5, nan, float32(math.Inf(1)), 0, 1e-30})},
		{"float64", Must([]int{3}, []float64{math.Pi, -0.0, math.MaxFloat64})},
		{"float16", Must([]int{2}, []Float16Bits{Float16FromFloat32(0.5), 0x7c00})},
		{"int8", Must([]int{3}, []int8{-128, 0, 127})},
		{"int16", Must([]int{2}, []int16{-32768, 32767})},
		{"int32", Must([]int{2, 1}, []int32{math.MinInt32, 7})},
		{"int64", Must([]int{2}, []int64{math.MinInt64, math.MaxInt64})},
		{"uint8", Must([]int{2}, []uint8{0, 255})},
		{"uint16", Must([]int{2}, []uint16{1, 65535})},
		{"uint32", Must([]int{1}, []uint32{math.MaxUint32})},
		{"uint64", Must([]int{1}, []uint64{math.MaxUint64})},
		{"bool", Must([]int{2, 2}, []bool{true, false, false, true})},
		{"complex64", Must([]int{2}, []complex64{1 + 2i, complex(nan, -1)})},
		{"complex128", Must([]int{1}, []complex128{-3 + 0.25i})},
		{"string", Must([]int{3}, []string{"ab", "héllo 世界", ""})},
		{"scalar", Scalar(float32(3))},
		{"empty", Zeros(Float32, 0, 4)},
		{"empty string", Zeros(String, 2, 0)},
		{"rank5", Zeros(Int32, 1, 2, 1, 2, 1)},
		{"rank64", Zeros(Uint8, slices.Repeat([]int{1}, 64)...)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteNPY(&buf, c.t); err != nil {
				t.Fatal(err)
			}
			if buf.Len()%64 != c.t.Len()*npyItemSize(t, c.t)%64 {
				t.Errorf("data does not start at a multiple of 64 bytes (file is %d bytes)", buf.Len())
			}
			got, err := ReadNPY(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if !Equal(got, c.t) {
				t.Errorf("round trip: got %v, want %v", got, c.t)
			}
			if buf.Len() != 0 {
				t.Errorf("%d bytes left unread", buf.Len())
			}
		})
	}
}

// npyItemSize is the element size WriteNPY uses for t.
func npyItemSize(t *testing.T, x *Tensor) int {
	if x.DType() != String {
		return x.DType().Size()
	}
	_, w, err := npyDescrOf(x)
	if err != nil {
		t.Fatal(err)
	}
	return 4 * w
}

// The files in testdata/npy were written by numpy 2.4 (gen.py).
func TestNPYReadNumpyFiles(t *testing.T) {
	cases := []struct {
		file string
		want *Tensor
	}{
		{"f4_2x3.npy", Must([]int{2, 3}, []float32{1.5, -2, 3, 4, 5, 6.25})},
		{"f8_be.npy", Must([]int{3}, []float64{1, 2.5, -3})},
		{"f2.npy", Must([]int{3}, []Float16Bits{0x3800, 0xbc00, 0x7bff})},
		{"i8_scalar.npy", Scalar(int64(-7))},
		{"i1.npy", Must([]int{3}, []int8{-128, 0, 127})},
		{"u2_be.npy", Must([]int{3}, []uint16{1, 258, 65535})},
		{"b1.npy", Must([]int{3}, []bool{true, false, true})},
		{"c8.npy", Must([]int{2}, []complex64{1 + 2i, complex(float32(math.Copysign(0, -1)), -3.5)})}, // numpy negates 3.5j to (-0-3.5j)
		{"u_str.npy", Must([]int{3}, []string{"ab", "héllo", ""})},
		// np.asfortranarray(np.arange(6).reshape(2, 3)): transposed back to row-major.
		{"i4_fortran.npy", Must([]int{2, 3}, []int32{0, 1, 2, 3, 4, 5})},
		{"f4_v2.npy", Must([]int{2}, []float32{7, 8})},
		{"u8_v3.npy", Must([]int{1}, []uint64{math.MaxUint64})},
		{"f4_empty.npy", Zeros(Float32, 0, 3)},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			path := filepath.Join("testdata", "npy", c.file)
			got, err := LoadNPY(path)
			if err != nil {
				t.Fatal(err)
			}
			if !Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			// Files numpy wrote in version 1.0, little-endian, C order are
			// reproduced byte for byte.
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if raw[6] != 1 || bytes.Contains(raw[:128], []byte("'>")) || bytes.Contains(raw[:128], []byte("True")) {
				return
			}
			var buf bytes.Buffer
			if err := WriteNPY(&buf, got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), raw) {
				t.Errorf("WriteNPY differs from numpy:\n got %q\nwant %q", buf.Bytes(), raw)
			}
		})
	}
}

func TestNPYFortranOrder(t *testing.T) {
	// A (2, 3, 2) int16 array stored column-major: element (i, j, k) is
	// 100*i + 10*j + k and sits at offset i + 2*j + 6*k.
	shape := []int{2, 3, 2}
	col := make([]int16, 12)
	var want []int16
	for i := 0; i < 2; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 2; k++ {
				v := int16(100*i + 10*j + k)
				col[i+2*j+6*k] = v
				want = append(want, v)
			}
		}
	}
	var data bytes.Buffer
	binary.Write(&data, binary.LittleEndian, col)
	f := npyFile(1, "{'descr': '<i2', 'fortran_order': True, 'shape': (2, 3, 2), }", data.Bytes())
	got, err := ReadNPY(bytes.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	if !Equal(got, Must(shape, want)) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// npyFile assembles a .npy file from a header dict and data.
func npyFile(major byte, header string, data []byte) []byte {
	b := []byte(npyMagic)
	b = append(b, major, 0)
	if major == 1 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(header)))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(header)))
	}
	b = append(b, header...)
	return append(b, data...)
}

func TestNPYHeaderVariants(t *testing.T) {
	four := []byte{0, 0, 128, 63, 0, 0, 0, 64} // float32 1, 2
	cases := []struct {
		name, header string
		shape        []int
	}{
		{"double quotes", `{"descr": "<f4", "fortran_order": False, "shape": (2,)}`, []int{2}},
		{"key order", "{'shape': (1, 2), 'fortran_order': False, 'descr': '<f4'}\n", []int{1, 2}},
		{"python2 longs", "{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }", []int{2}},
		{"spaces", " { 'descr' : '<f4' , 'fortran_order' : False , 'shape' : ( 2 , ) , } \n", []int{2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ReadNPY(bytes.NewReader(npyFile(1, c.header, four)))
			if err != nil {
				t.Fatal(err)
			}
			if !Equal(got, Must(c.shape, []float32{1, 2})) {
				t.Errorf("got %v", got)
			}
		})
	}
}

func TestNPYErrors(t *testing.T) {
	hdr := func(descr, shape string) string {
		return "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }"
	}
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "reading magic"},
		{"bad magic", []byte("PK\x03\x04rest of a zip"), "bad magic"},
		{"version", npyFile(4, hdr("<f4", "()"), make([]byte, 4)), "version 4.0"},
		{"huge claim", npyFile(1, hdr("<f4", "(1000000, 1000000)"), make([]byte, 10)), "data truncated"},
		{"truncated header", npyFile(1, hdr("<f4", "(1,)"), nil)[:20], "header truncated"},
		{"header length limit", npyFile(2, "", nil)[:8:8], "reading header length"},
		{"overflow", npyFile(1, hdr("<f8", "(1099511627776, 1099511627776)"), nil), "more than 2^40"},
		{"object", npyFile(1, hdr("|O", "(1,)"), make([]byte, 8)), "pickles"},
		{"structured", npyFile(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", make([]byte, 4)), "structured"},
		{"unknown dtype", npyFile(1, hdr("<f16", "(1,)"), make([]byte, 16)), "not supported"},
		{"zero width", npyFile(1, hdr("<U0", "(1000000000000,)"), nil), "not supported"},
		{"negative dim", npyFile(1, hdr("<f4", "(-1,)"), nil), "non-negative"},
		{"missing key", npyFile(1, "{'descr': '<f4', 'shape': (1,)}", make([]byte, 4)), "fortran_order"},
		{"duplicate key", npyFile(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", make([]byte, 4)), "twice"},
		{"extra key", npyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", make([]byte, 4)), "unexpected header key"},
		{"trailing", npyFile(1, hdr("<f4", "(1,)")+"xyz", make([]byte, 4)), "trailing"},
		{"non-ascii v1", npyFile(1, hdr("<f4", "(1,)")+"\xe9", make([]byte, 4)), "non-ASCII"},
		{"big header v2", func() []byte {
			b := npyFile(2, "", nil)
			binary.LittleEndian.PutUint32(b[8:], 1<<30)
			return b
		}(), "exceeds"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadNPY(bytes.NewReader(c.file))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrNPY) {
				t.Errorf("error %v does not wrap ErrNPY", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

func TestWriteNPYUnsupported(t *testing.T) {
	if err := WriteNPY(&bytes.Buffer{}, Zeros(Float32, slices.Repeat([]int{1}, 65)...)); err == nil || !strings.Contains(err.Error(), "rank 65") {
		t.Errorf("rank 65: got %v", err)
	}
	for _, x := range []*Tensor{
		Must([]int{1}, []BFloat16Bits{0x3f80}),
		Must([]int{1}, []F8E4M3FN{1}),
		Must([]int{1}, []I4{1}),
	} {
		err := WriteNPY(&bytes.Buffer{}, x)
		if err == nil || !strings.Contains(err.Error(), "Cast") {
			t.Errorf("%v: error %v, want one suggesting a Cast", x.DType(), err)
		}
	}
}

func TestSaveLoadNPY(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.npy")
	x := Must([]int{2, 2}, []float64{1, 2, 3, 4})
	if err := SaveNPY(path, x); err != nil {
		t.Fatal(err)
	}
	got, err := LoadNPY(path)
	if err != nil {
		t.Fatal(err)
	}
	if !Equal(got, x) {
		t.Fatalf("got %v", got)
	}
	if _, err := LoadNPY(filepath.Join(t.TempDir(), "missing.npy")); err == nil {
		t.Error("loading a missing file succeeded")
	}
}

func FuzzReadNPY(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "npy", "*.npy"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add(npyFile(1, "{'descr': '>c16', 'fortran_order': True, 'shape': (1, 1), }", make([]byte, 16)))
	f.Add(npyFile(2, "{'descr': '|S3', 'fortran_order': False, 'shape': (2,), }", []byte("ab\x00xyz")))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := ReadNPY(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrNPY) {
				t.Fatalf("error %v does not wrap ErrNPY", err)
			}
			return
		}
		if x.DType() == String {
			for _, s := range Data[string](x) {
				if !utf8.ValidString(s) {
					return // bytes ('S') strings are written back as unicode
				}
			}
		}
		var buf bytes.Buffer
		if err := WriteNPY(&buf, x); err != nil {
			t.Fatalf("writing what was read: %v", err)
		}
		y, err := ReadNPY(&buf)
		if err != nil {
			t.Fatalf("reading what was written: %v", err)
		}
		if !Equal(x, y) {
			t.Fatalf("round trip changed %v to %v", x, y)
		}
	})
}
