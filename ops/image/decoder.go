package image

import "github.com/gort-ml/gort/ops"

func decoderOps() []*ops.Op { return nil }
