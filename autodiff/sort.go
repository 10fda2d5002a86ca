package autodiff

import (
	"sort"

	"github.com/gort-ml/gort/ops"
)

func sortKeys(keys []ops.Key) {
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Domain != keys[j].Domain {
			return keys[i].Domain < keys[j].Domain
		}
		return keys[i].Type < keys[j].Type
	})
}
