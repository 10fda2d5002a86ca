package contrib

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
)

func compileRotary(n *ops.Node) (*ops.Kernel, error) { return nil, fmt.Errorf("todo") }
