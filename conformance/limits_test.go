package conformance

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
)

// Size bombs: small models whose ops size their outputs from data
// (shape inputs, repeats, counts, attributes, broadcasting) and ask for far
// more than the session allows. Each must be refused with an error naming
// the node, before the memory is touched: every case runs in its own child
// process whose peak RSS must stay small.

const (
	bombMaxElements = 1 << 20  // the session's MaxTensorElements (4 MiB of float32)
	bombMaxLive     = 64 << 20 // the session's MaxLiveBytes
	bombMaxRSS      = 100 << 10
)

type bombCase struct {
	name string
	node string // op type of the node the error must name ("": any node)
	// sizeErr, when set, accepts an error that is not ops.ErrLimit but names
	// the size problem (this fragment), e.g. Reshape's element count.
	sizeErr string
	build   func(b *irbuild.Builder) string // returns the output to fetch
	live    int64                           // MaxLiveBytes when not bombMaxLive
}

func i64s(v ...int64) *tensor.Tensor { return tensor.Must([]int{len(v)}, v) }
func i64c(v int64) *tensor.Tensor    { return tensor.Scalar(v) }
func f32c(v float32) *tensor.Tensor  { return tensor.Scalar(v) }

func bombCases() []bombCase {
	return []bombCase{
		{"Expand", "Expand", "", func(b *irbuild.Builder) string {
			return b.Op("Expand", "x", b.Const(i64s(1<<14, 1<<14, 2)))
		}, 0},
		{"ConstantOfShape", "ConstantOfShape", "", func(b *irbuild.Builder) string {
			return b.Op("ConstantOfShape", b.Const(i64s(1<<14, 1<<14, 16)))
		}, 0},
		{"Tile", "Tile", "", func(b *irbuild.Builder) string {
			return b.Op("Tile", "x", b.Const(i64s(1<<28)))
		}, 0},
		{"Range int64", "Range", "", func(b *irbuild.Builder) string {
			return b.Op("Range", b.Const(i64c(0)), b.Const(i64c(1<<40)), b.Const(i64c(1)))
		}, 0},
		{"Range float", "Range", "", func(b *irbuild.Builder) string {
			return b.Op("Range", b.Const(f32c(0)), b.Const(f32c(1e12)), b.Const(f32c(0.5)))
		}, 0},
		{"Resize scales", "Resize", "", func(b *irbuild.Builder) string {
			x := b.Const(tensor.Zeros(tensor.Float32, 1, 1, 2, 2))
			return b.Op("Resize", x, "", b.Const(tensor.Must([]int{4}, []float32{1, 1, 16384, 16384})))
		}, 0},
		{"Resize sizes", "Resize", "", func(b *irbuild.Builder) string {
			x := b.Const(tensor.Zeros(tensor.Float32, 1, 1, 2, 2))
			return b.Op("Resize", x, "", "", b.Const(i64s(1, 1, 1<<15, 1<<15)))
		}, 0},
		{"Upsample", "Upsample", "", func(b *irbuild.Builder) string {
			x := b.Const(tensor.Zeros(tensor.Float32, 1, 1, 2, 2))
			return b.Op("Upsample", x, b.Const(tensor.Must([]int{4}, []float32{1, 1, 16384, 16384})))
		}, 0},
		{"Expand beyond 2^40", "Expand", "more than 2^40 elements", func(b *irbuild.Builder) string {
			return b.Op("Expand", "x", b.Const(i64s(1<<30, 1<<30, 2)))
		}, 0},
		{"Reshape", "Reshape", "cannot reshape", func(b *irbuild.Builder) string {
			return b.Op("Reshape", "x", b.Const(i64s(1<<20, 1<<20)))
		}, 0},
		{"Pad", "Pad", "", func(b *irbuild.Builder) string {
			return b.Op("Pad", "x", b.Const(i64s(0, 1<<28)))
		}, 0},
		{"CenterCropPad", "CenterCropPad", "", func(b *irbuild.Builder) string {
			return b.Op("CenterCropPad", "x", b.Const(i64s(1<<28)))
		}, 0},
		{"OneHot", "OneHot", "", func(b *irbuild.Builder) string {
			return b.Op("OneHot", b.Const(i64s(0, 1)), b.Const(i64c(1<<28)), b.Const(tensor.Must([]int{2}, []float32{0, 1})))
		}, 0},
		{"ConcatFromSequence", "ConcatFromSequence", "", func(b *irbuild.Builder) string {
			// 300 references to one 2 MiB tensor: the sequence is cheap, the
			// concatenation is 600 MiB.
			big := b.Op("ConstantOfShape", b.Const(i64s(1<<19)))
			refs := make([]string, 300)
			for i := range refs {
				refs[i] = big
			}
			seq := b.Op("SequenceConstruct", refs...)
			return b.OpA("ConcatFromSequence", []irbuild.Attr{irbuild.Int("axis", 0)}, seq)
		}, -1}, // the live-bytes count charges every reference to the shared tensor
		{"Loop scan output", "Loop", "", func(b *irbuild.Builder) string {
			body := irbuild.New("body", irbuild.Opset{Version: 17})
			body.Input("i", tensor.Int64)
			body.Input("cond", tensor.Bool)
			body.Output(body.Op("Identity", "cond"), tensor.Bool)
			body.Output(body.Op("Identity", body.Const(tensor.Zeros(tensor.Float32, 1024))), tensor.Float32)
			return b.OpN("Loop", 1, b.Const(i64c(1<<30)), b.Const(tensor.Scalar(true))).
				With(irbuild.Graph("body", body.Graph())).Out(0)
		}, 0},
		{"Add broadcast", "Add", "", func(b *irbuild.Builder) string {
			return b.Op("Add", b.Const(tensor.Zeros(tensor.Float32, 1<<14, 1)), b.Const(tensor.Zeros(tensor.Float32, 1, 1<<14)))
		}, 0},
		{"MatMul broadcast", "MatMul", "", func(b *irbuild.Builder) string {
			return b.Op("MatMul", b.Const(tensor.Zeros(tensor.Float32, 1<<14, 1, 1, 1)), b.Const(tensor.Zeros(tensor.Float32, 1<<14, 1, 1)))
		}, 0},
		{"RandomNormal", "RandomNormal", "", func(b *irbuild.Builder) string {
			return b.OpA("RandomNormal", []irbuild.Attr{irbuild.Ints("shape", 1<<14, 1<<14, 4)})
		}, 0},
		{"HannWindow", "HannWindow", "", func(b *irbuild.Builder) string {
			return b.Op("HannWindow", b.Const(i64c(1<<30)))
		}, 0},
		{"MelWeightMatrix", "MelWeightMatrix", "", func(b *irbuild.Builder) string {
			return b.Op("MelWeightMatrix", b.Const(i64c(1<<15)), b.Const(i64c(1<<16)), b.Const(i64c(16000)), b.Const(f32c(0)), b.Const(f32c(8000)))
		}, 0},
		{"DFT", "DFT", "", func(b *irbuild.Builder) string {
			x := b.Const(tensor.Zeros(tensor.Float32, 1, 2, 1))
			return b.Op("DFT", x, b.Const(i64c(1<<30)), b.Const(i64c(1)))
		}, 0},
		{"ConvTranspose output_shape", "ConvTranspose", "", func(b *irbuild.Builder) string {
			x := b.Const(tensor.Zeros(tensor.Float32, 1, 1, 1, 1))
			w := b.Const(tensor.Zeros(tensor.Float32, 1, 1, 1, 1))
			return b.OpA("ConvTranspose", []irbuild.Attr{irbuild.Ints("output_shape", 1<<15, 1<<15), irbuild.Ints("strides", 1<<15, 1<<15)}, x, w)
		}, 0},
		{"MaxUnpool output_shape", "MaxUnpool", "", func(b *irbuild.Builder) string {
			x := b.Const(tensor.Zeros(tensor.Float32, 1, 1, 1, 1))
			idx := b.Const(tensor.Zeros(tensor.Int64, 1, 1, 1, 1))
			return b.OpA("MaxUnpool", []irbuild.Attr{irbuild.Ints("kernel_shape", 1, 1)}, x, idx, b.Const(i64s(1, 1, 1<<15, 1<<15)))
		}, 0},
		{"MaxLiveBytes", "", "", func(b *irbuild.Builder) string {
			// 100 distinct 2 MiB tensors, each within MaxTensorElements, all
			// live at once as the inputs of one Sum: 200 MiB > MaxLiveBytes.
			parts := make([]string, 100)
			for i := range parts {
				parts[i] = b.Op("ConstantOfShape", b.Const(i64s(1<<19, 1)))
				// distinct addends, so common-subexpression elimination
				// cannot merge the 100 tensors into one
				parts[i] = b.Op("Add", parts[i], b.Const(tensor.Must([]int{1}, []float32{float32(i)})))
			}
			return b.Op("Sum", parts...)
		}, 16 << 20},
	}
}

// bombModel builds one case's model: input x float32 (2).
func bombModel(c bombCase) *ir.Model {
	b := irbuild.New("bomb", irbuild.Opset{Version: 20})
	b.Input("x", tensor.Float32, 2)
	b.Output(c.build(b), tensor.Undefined)
	return b.Model()
}

// runBomb compiles and runs one case with small limits.
func runBomb(c bombCase) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("PANIC: %v", r)
		}
	}()
	s, err := runtime.NewSession(bombModel(c), runtime.Options{MaxTensorElements: bombMaxElements, MaxLiveBytes: cmp.Or(c.live, bombMaxLive), Seed: 1})
	if err != nil {
		return err
	}
	_, err = s.RunValues(context.Background(), map[string]tensor.Value{"x": tensor.Zeros(tensor.Float32, 2)})
	return err
}

// TestSizeBombs runs every case in a child process and checks the error
// and the child's peak RSS.
func TestSizeBombs(t *testing.T) {
	if os.Getenv("GORT_BOMB_CHILD") != "" {
		t.Skip("child process")
	}
	for _, c := range bombCases() {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run", "^TestSizeBombChild$")
			cmd.Env = append(os.Environ(), "GORT_BOMB_CHILD="+c.name)
			out, err := cmd.CombinedOutput()
			rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux
			msg := strings.TrimSpace(string(out))
			if i := strings.Index(msg, "bomb: "); i >= 0 {
				msg = firstLine(msg[i+len("bomb: "):])
			}
			if err != nil {
				t.Fatalf("child failed (peak RSS %d KiB): %v\n%s", rss, err, out)
			}
			t.Logf("peak RSS %6d KiB: %s", rss, msg)
			if rss > bombMaxRSS {
				t.Errorf("peak RSS %d KiB exceeds %d KiB: the op allocates before checking the limit", rss, bombMaxRSS)
			}
		})
	}
}

// TestSizeBombChild runs the case named by GORT_BOMB_CHILD.
func TestSizeBombChild(t *testing.T) {
	name := os.Getenv("GORT_BOMB_CHILD")
	if name == "" {
		t.Skip("runs as TestSizeBombs' child process")
	}
	for _, c := range bombCases() {
		if c.name != name {
			continue
		}
		err := runBomb(c)
		switch {
		case err == nil:
			t.Fatalf("%s: accepted", c.name)
		case strings.HasPrefix(err.Error(), "PANIC"), errors.Is(err, runtime.ErrInternal):
			t.Fatalf("%s: %v", c.name, err)
		case !strings.Contains(err.Error(), `node "`+c.node):
			t.Fatalf("%s: error %q does not name the %s node", c.name, firstLine(err.Error()), c.node)
		case !errors.Is(err, ops.ErrLimit) && (c.sizeErr == "" || !strings.Contains(err.Error(), c.sizeErr)):
			t.Fatalf("%s: error %q is not a size limit error", c.name, firstLine(err.Error()))
		}
		fmt.Printf("bomb: %s\n", firstLine(err.Error()))
		return
	}
	t.Fatalf("no case %q", name)
}
