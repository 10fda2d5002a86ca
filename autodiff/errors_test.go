package autodiff

import (
	"strings"
	"testing"

	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/tensor"
)

// TestRuleErrors checks that configurations a rule does not support give
// an error naming the reason, not a wrong graph or a panic.
func TestRuleErrors(t *testing.T) {
	cases := []struct {
		name  string
		opset int64
		in    map[string][]any
		build func(b *irbuild.Builder) string
		want  string
	}{
		{"GatherElements before opset 16", 15, map[string][]any{"a": {3, 4}}, func(b *irbuild.Builder) string {
			return b.Op("GatherElements", "a", intsShaped(b, []int{3, 1}, 0, 1, 2))
		}, "opset >= 16"},
		{"MaxPool overlapping before opset 16", 13, map[string][]any{"a": {1, 1, 4, 4}}, func(b *irbuild.Builder) string {
			return b.OpA("MaxPool", attrs{isA("kernel_shape", 3, 3)}, "a")
		}, "opset >= 16"},
		{"Clip trainable bound", 17, map[string][]any{"a": {3}, "lo": {}}, func(b *irbuild.Builder) string {
			return b.Op("Clip", "a", "lo")
		}, "bounds"},
		{"AveragePool partial ceil window", 17, map[string][]any{"a": {1, 1, 5}}, func(b *irbuild.Builder) string {
			return b.OpA("AveragePool", attrs{isA("kernel_shape", 2), isA("strides", 2), iA("ceil_mode", 1)}, "a")
		}, "ceil_mode"},
		{"Conv dynamic spatial sizes", 17, map[string][]any{"a": {1, 1, "h"}, "w": {1, 1, 2}}, func(b *irbuild.Builder) string {
			return b.Op("Conv", "a", "w")
		}, "spatial sizes"},
		{"loss class weights", 17, map[string][]any{"a": {2, 3}, "w": {3}}, func(b *irbuild.Builder) string {
			return b.Op("SoftmaxCrossEntropyLoss", "a", ints(b, 0, 1), "w")
		}, "class weights"},
		{"Einsum ellipsis", 17, map[string][]any{"a": {2, 3}}, func(b *irbuild.Builder) string {
			return b.OpA("Einsum", attrs{sA("equation", "...i->...")}, "a")
		}, "ellipsis"},
		{"Attention with a KV cache", 23, map[string][]any{"q": {1, 1, 2, 2}, "pk": {1, 1, 1, 2}}, func(b *irbuild.Builder) string {
			return b.OpN("Attention", 3, "q", "q", "q", "", "pk", "pk").Out(0)
		}, "KV cache"},
		{"BatchNormalization without its statistics", 17, map[string][]any{"a": {2, 3}, "s": {3}}, func(b *irbuild.Builder) string {
			return b.Op("BatchNormalization", "a", "s", "s")
		}, "malformed node"},
		{"Gelu unknown approximation", 20, map[string][]any{"a": {3}}, func(b *irbuild.Builder) string {
			return b.OpA("Gelu", attrs{sA("approximate", "cubic")}, "a")
		}, "approximate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := irbuild.New("g", irbuild.Opset{Version: c.opset})
			var wrt []string
			for name, dims := range c.in {
				b.Input(name, tensor.Float64, dims...)
				wrt = append(wrt, name)
			}
			b.Rename(b.Op("ReduceSum", c.build(b)), "loss")
			_, err := Gradients(b.Model(), "loss", wrt)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}
