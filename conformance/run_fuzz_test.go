package conformance

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
)

// runSeeds are node tests whose models seed FuzzRunModel when the ONNX
// backend tests are present (testdata/fuzz/FuzzRunModel holds a few more).
var runSeeds = []string{"test_add", "test_argmax_default_axis_example", "test_concat_2d_axis_0",
	"test_conv_with_strides_padding", "test_cumsum_1d", "test_einsum_batch_matmul", "test_expand_dim_changed",
	"test_gather_0", "test_gathernd_example_int32", "test_if", "test_layer_normalization_2d_axis0", "test_loop11",
	"test_matmul_2d", "test_nonzero_example", "test_onehot_with_axis", "test_range_float_type_positive_delta",
	"test_reduce_sum_keepdims_example", "test_reshape_reordered_all_dims", "test_resize_upsample_scales_nearest",
	"test_scan9_sum", "test_scatter_elements_with_axis", "test_slice", "test_softmax_axis_0", "test_tile",
	"test_unique_sorted_with_axis", "test_where_example"}

// FuzzRunModel parses, compiles and runs arbitrary model bytes with small
// limits and a one-second deadline: any error is fine, a kernel panic
// (runtime.ErrInternal) is not.
func FuzzRunModel(f *testing.F) {
	dir := NodeTestDir()
	for _, name := range runSeeds {
		if dir == "" {
			break
		}
		if b, err := os.ReadFile(filepath.Join(dir, name, "model.onnx")); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := onnx.Parse(data, "")
		if err != nil {
			return
		}
		s, err := runtime.NewSession(m, runtime.Options{MaxTensorElements: 1 << 16, MaxLiveBytes: 64 << 20, IntraOpThreads: 1, Seed: 1})
		if errors.Is(err, runtime.ErrInternal) {
			t.Fatalf("compile: %v", err)
		}
		if err != nil {
			return
		}
		for _, in := range s.Inputs() {
			n := 1
			for _, d := range in.Type.Shape {
				if d.Known() {
					n *= max(int(d.Size), 0)
				} else {
					n *= 8
				}
				if n > 1<<12 {
					return // the harness would allocate the feed
				}
			}
		}
		feeds, err := RandomFeeds(m, 1, nil)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		vf := make(map[string]tensor.Value, len(feeds))
		for k, v := range feeds {
			vf[k] = v
		}
		if _, err := s.RunValues(ctx, vf); errors.Is(err, runtime.ErrInternal) {
			t.Fatalf("run: %v", err)
		}
	})
}
