package conformance

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Expected maps a test name to the reason it is expected to fail.
type Expected map[string]string

// LoadExpected reads every *.txt file in dir: one `test_name<TAB>reason` a
// line; blank lines and lines starting with # are ignored. A line without a
// reason, or a test listed twice, is an error.
func LoadExpected(dir string) (Expected, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	exp := Expected{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(fh)
		line := 0
		for sc.Scan() {
			line++
			s := strings.TrimSpace(sc.Text())
			if s == "" || strings.HasPrefix(s, "#") {
				continue
			}
			name, reason, ok := strings.Cut(s, "\t")
			reason = strings.TrimSpace(reason)
			if !ok || reason == "" {
				fh.Close()
				return nil, fmt.Errorf("%s:%d: want `test_name<TAB>reason`", f, line)
			}
			if _, dup := exp[name]; dup {
				fh.Close()
				return nil, fmt.Errorf("%s:%d: %s listed twice", f, line, name)
			}
			exp[name] = reason
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return exp, nil
}

// Check compares results with the expected failures: an unlisted failure or
// a listed test that passes is a problem. Tests not run are ignored.
func (e Expected) Check(rs []Result) []string {
	var problems []string
	for _, r := range rs {
		reason, listed := e[r.Name]
		switch {
		case r.Status == Failed && !listed:
			problems = append(problems, fmt.Sprintf("%s fails and is not listed as expected: %s", r.Name, r.Err))
		case r.Status == Passed && listed:
			problems = append(problems, fmt.Sprintf("%s passes but is listed as an expected failure (%s): remove it from conformance/expected", r.Name, reason))
		}
	}
	return problems
}
