package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/gort-ml/gort/conformance"
)

func cmdConformance(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("conformance", "usage: gort conformance [--provider native|ort] [--filter REGEX] [--json FILE] DIR...", stderr)
	prov := fs.String("provider", "native", "execution provider: native or ort")
	filter := fs.String("filter", "", "run only tests whose folder name matches this regular expression")
	jsonOut := fs.String("json", "", "write per-test results as JSON to this file")
	par := fs.Int("parallel", 2, "tests run at once")
	verbose := fs.Bool("v", false, "print every test, not only failures")
	optimize := newOptimizeFlag(fs)
	report := fs.String("report", "", "also run the suite through ONNX Runtime and write the markdown report (per-op table, both totals, expected failures) to this file")
	expDir := fs.String("expected", "conformance/expected", "folder of expected-failure lists, for --report")
	dirs, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		fs.Usage()
		return errExit(2)
	}
	p, err := provider(*prov)
	if err != nil {
		return err
	}
	p = optimize.wrap(p)
	var re *regexp.Regexp
	if *filter != "" {
		if re, err = regexp.Compile(*filter); err != nil {
			return fmt.Errorf("--filter: %w", err)
		}
	}
	tests, err := conformance.Discover(dirs...)
	if err != nil {
		return err
	}
	start := time.Now()
	rs := conformance.Run(context.Background(), tests, conformance.Options{
		Provider: p, Filter: re, Parallel: *par,
		Progress: func(done, total int, r conformance.Result) {
			if r.Status != conformance.Passed || *verbose {
				fmt.Fprintf(stdout, "%-7s %s: %s\n", r.Status, r.Name, firstLine(r.Err))
			}
		},
	})
	printOpSummary(stdout, rs)
	if *report != "" {
		if err := writeReport(*report, *expDir, dirs, tests, re, *par, rs); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "report written to %s\n", *report)
	}
	if *jsonOut != "" {
		data, err := json.MarshalIndent(rs, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonOut, data, 0o644); err != nil {
			return err
		}
	}
	passed, failed, skipped := conformance.Count(rs)
	fmt.Fprintf(stdout, "provider %s, %d tests in %.1fs\n", p.Name(), len(rs), time.Since(start).Seconds())
	fmt.Fprintf(stdout, "conformance: %d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if failed > 0 {
		return errExit(1)
	}
	return nil
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

func printOpSummary(w io.Writer, rs []conformance.Result) {
	type row struct{ pass, fail, skip int }
	by := map[string]*row{}
	for _, r := range rs {
		op := r.Op
		if op == "" {
			op = "(unloaded)"
		}
		x := by[op]
		if x == nil {
			x = &row{}
			by[op] = x
		}
		switch r.Status {
		case conformance.Passed:
			x.pass++
		case conformance.Failed:
			x.fail++
		default:
			x.skip++
		}
	}
	ops := sortedKeys(by)
	sort.Strings(ops)
	fmt.Fprintf(w, "\n%-32s %6s %6s %6s\n", "op", "passed", "failed", "skipped")
	for _, op := range ops {
		x := by[op]
		fmt.Fprintf(w, "%-32s %6d %6d %6d\n", op, x.pass, x.fail, x.skip)
	}
}

func writeReport(path, expDir string, dirs []string, tests []conformance.Test, re *regexp.Regexp, par int, native []conformance.Result) error {
	ortP, err := provider("ort")
	if err != nil {
		return err
	}
	ortRes := conformance.Run(context.Background(), tests, conformance.Options{Provider: ortP, Filter: re, Parallel: par})
	exp, err := conformance.LoadExpected(expDir)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return conformance.WriteReport(f, strings.Join(dirs, " "), native, ortRes, exp)
}
