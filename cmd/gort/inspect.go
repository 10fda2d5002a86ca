package main

import (
	"fmt"
	"io"
	"sort"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/all"
	"github.com/gort-ml/gort/runtime"
)

func cmdInspect(args []string, stdout, stderr io.Writer) error {
	modelPath, err := oneArg(newFlags("inspect", "usage: gort inspect MODEL", stderr), args)
	if err != nil {
		return err
	}
	m, err := onnx.Load(modelPath)
	if err != nil {
		return err
	}
	g := m.Graph
	fmt.Fprintf(stdout, "model %s\n", modelPath)
	fmt.Fprintf(stdout, "  ir_version %d, producer %q %s\n", m.IRVersion, m.ProducerName, m.ProducerVersion)
	fmt.Fprint(stdout, "  opsets:")
	for _, o := range m.Opsets {
		d := o.Domain
		if d == "" {
			d = "ai.onnx"
		}
		fmt.Fprintf(stdout, " %s=%d", d, o.Version)
	}
	fmt.Fprintln(stdout)
	inits := map[string]bool{}
	params := 0
	for _, t := range g.Initializers {
		inits[t.Name] = true
		params += t.T.Len()
	}
	fmt.Fprintln(stdout, "inputs:")
	for _, v := range g.Inputs {
		if !inits[v.Name] {
			fmt.Fprintf(stdout, "  %s: %s\n", v.Name, runtime.FormatType(v.Type))
		}
	}
	fmt.Fprintln(stdout, "outputs:")
	for _, v := range g.Outputs {
		fmt.Fprintf(stdout, "  %s: %s\n", v.Name, runtime.FormatType(v.Type))
	}
	fmt.Fprintf(stdout, "parameters: %d in %d initializers\n", params, len(g.Initializers))
	hist := map[string]int{}
	missing := map[string]bool{}
	reg := all.Registry()
	var walk func(g *ir.Graph, depth int)
	walk = func(g *ir.Graph, depth int) {
		if depth > ir.MaxSubgraphDepth {
			return
		}
		for _, n := range g.Nodes {
			key := ops.Key{Domain: ops.NormDomain(n.Domain), Type: n.OpType}.String()
			hist[key]++
			if !hasKernel(reg, m, n) {
				missing[key] = true
			}
			for _, sg := range n.Subgraphs() {
				walk(sg, depth+1)
			}
		}
	}
	walk(g, 0)
	keys := sortedKeys(hist)
	sort.SliceStable(keys, func(i, j int) bool { return hist[keys[i]] > hist[keys[j]] })
	fmt.Fprintf(stdout, "ops: %d nodes, %d distinct\n", len(g.Nodes), len(keys))
	for _, k := range keys {
		mark := ""
		if missing[k] {
			mark = "  (not supported natively)"
		}
		fmt.Fprintf(stdout, "  %-32s %5d%s\n", k, hist[k], mark)
	}
	if len(missing) == 0 {
		fmt.Fprintln(stdout, "native provider: supports every op")
	} else {
		fmt.Fprintf(stdout, "native provider lacks: %v (run with --provider ort)\n", sortedKeys(missing))
	}
	return nil
}

func hasKernel(reg *ops.Registry, m *ir.Model, n *ir.Node) bool {
	for _, f := range m.Functions {
		if f.Name == n.OpType && ops.NormDomain(f.Domain) == ops.NormDomain(n.Domain) {
			return true
		}
	}
	v := m.Opset(n.Domain)
	if v == 0 {
		v = 1
	}
	_, err := reg.Lookup(n.Domain, n.OpType, v)
	return err == nil
}
