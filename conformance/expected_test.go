package conformance

import (
	"strings"
	"testing"

	"github.com/gort-ml/gort/tensor"
)

// TestExpectedCheck: an unlisted failure and a listed pass are problems; a
// listed failure is not, nor is a listed test the suite does not hold (the
// lists cover the shared and the wheel-generated suites, which differ).
func TestExpectedCheck(t *testing.T) {
	exp := Expected{"test_a": "reason a", "test_b": "reason b", "test_only_in_other_suite": "reason c"}
	rs := []Result{
		{Name: "test_a", Status: Failed, Err: "off by one"},
		{Name: "test_b", Status: Passed},
		{Name: "test_c", Status: Failed, Err: "boom"},
		{Name: "test_d", Status: Passed},
		{Name: "test_e", Status: Skipped},
	}
	got := exp.Check(rs)
	if len(got) != 2 || !strings.HasPrefix(got[0], "test_b passes") || !strings.HasPrefix(got[1], "test_c fails") {
		t.Fatalf("problems %q, want test_b passing and test_c failing", got)
	}
}

// TestCompareBFloat16Tolerance: bfloat16 outputs get rtol 2^-6, as the
// onnx runner gives them; other dtypes keep the tolerance asked for.
func TestCompareBFloat16Tolerance(t *testing.T) {
	bf := func(v ...float64) *tensor.Tensor {
		b := make([]tensor.BFloat16Bits, len(v))
		for i, x := range v {
			b[i] = tensor.BFloat16FromFloat64(x)
		}
		return tensor.Must([]int{len(v)}, b)
	}
	f32 := func(v float32) *tensor.Tensor { return tensor.Must([]int{1}, []float32{v}) }
	for _, tc := range []struct {
		want, got *tensor.Tensor
		ok        bool
	}{
		{bf(0.5), bf(0.5 + 1.0/128), true},      // 2 ulps, rel 2^-6
		{bf(0.5), bf(0.5 + 1.0/64), false},      // 4 ulps, rel 2^-5
		{bf(1.5, -3), bf(1.5+1.0/64, -3), true}, // 2 ulps, rel 0.0104
		{f32(0.5), f32(0.5 + 1.0/128), false},   // float32: rtol 1e-3
		{f32(0.5), f32(0.5 + 1.0/4096), true},   // rel 2^-11
	} {
		err := CompareValues(tc.want, tc.got, ONNXTolerance)
		if (err == nil) != tc.ok {
			t.Errorf("want %v got %v: err %v, want ok=%v", tc.want, tc.got, err, tc.ok)
		}
	}
}
