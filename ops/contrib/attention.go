package contrib

import "github.com/gort-ml/gort/ops"

func attentionOps() []*ops.Op { return nil }
