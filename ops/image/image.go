// Package image holds gort's kernels for the image operator family.
//
// # Overview
//
// Resize (and the deprecated Upsample) resample N-D tensors with nearest,
// linear or cubic filters, optionally antialiased; GridSample and AffineGrid
// sample at arbitrary normalized coordinates; RoiAlign pools regions of
// interest; NonMaxSuppression selects boxes; ImageDecoder decodes encoded
// images into HWC uint8 tensors: baseline JPEG with a decoder of its own
// that reproduces libjpeg (and so PIL) bit for bit, other JPEGs, PNG and GIF
// through the standard library, BMP, PNM and uncompressed TIFF with small
// readers here. WebP and JPEG 2000 are not supported.
//
// Resize is separable: it precomputes, once per run, every output position's
// source indices and weights along each resized axis and applies one axis at
// a time (downsampled axes first, so intermediates never exceed the larger of
// input and output). GridSample precomputes the taps of a block of output
// points once and applies them to every channel. Neither allocates per
// pixel.
//
// Sizes that come from data (scales, sizes, box counts, ROI sampling grids,
// image headers) are checked before anything is allocated: outputs go
// through Ctx.New, which enforces the session's element limit.
package image

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/kernelutil"
	"github.com/gort-ml/gort/tensor"
)

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join(
		resizeOps(),
		gridSampleOps(),
		roiAlignOps(),
		nmsOps(),
		decoderOps(),
	)
}

// inferSameRank returns an Infer whose single output has input 0's dtype
// and rank, with unknown dimensions (they depend on input values).
func inferSameRank(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("input 0 missing")
	}
	t := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType}
	if in[0].HasShape {
		t.HasShape = true
		t.Shape = make([]tensor.Dim, len(in[0].Shape))
		for i := range t.Shape {
			t.Shape[i] = tensor.Dim{Size: -1}
		}
	}
	return []tensor.Type{t}, nil
}

// Shared helpers, named briefly for this package.
var (
	parallel    = kernelutil.Parallel
	checkElems  = kernelutil.CheckElems
	floats64    = kernelutil.Floats64
	scalarFloat = kernelutil.ScalarFloat
	scalarInt   = kernelutil.ScalarInt
)
