package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The status table and the testing pages prove their claims by naming
// tests; a renamed or deleted test would leave a claim that nothing checks.
// TestCitedTestsExist keeps every name they cite pointing at a test, a fuzz
// target or a benchmark in the repository, and every `make` target at a
// rule of the Makefile.
func TestCitedTestsExist(t *testing.T) {
	pages := []string{"../README.md"}
	for _, pattern := range []string{"*.md", "decisions/*.md"} {
		found, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, found...)
	}
	defined := definedTests(t, "..")
	targets := makeTargets(t, "../Makefile")

	cited := regexp.MustCompile("\\b(?:Test|Fuzz|Benchmark)[A-Z][A-Za-z0-9_]*\\*?")
	citedTarget := regexp.MustCompile("`make ([a-z][a-z0-9-]*)")
	checked := 0
	for _, page := range pages {
		text, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(text), "\n") {
			for _, name := range cited.FindAllString(line, -1) {
				checked++
				if !defines(defined, name) {
					t.Errorf("%s:%d cites %s, which no _test.go file defines", page, i+1, name)
				}
			}
			for _, m := range citedTarget.FindAllStringSubmatch(line, -1) {
				if !targets[m[1]] {
					t.Errorf("%s:%d cites `make %s`, which the Makefile has no rule for", page, i+1, m[1])
				}
			}
		}
	}
	if checked < 50 {
		t.Fatalf("found only %d citations of tests in %d pages; is the pattern still right?", checked, len(pages))
	}
}

// defines reports whether name, or with a trailing * some name it
// prefixes, is among the defined functions.
func defines(defined map[string]bool, name string) bool {
	prefix, isPrefix := strings.CutSuffix(name, "*")
	if !isPrefix {
		return defined[name]
	}
	for d := range defined {
		if strings.HasPrefix(d, prefix) {
			return true
		}
	}
	return false
}

func definedTests(t *testing.T, root string) map[string]bool {
	t.Helper()
	fn := regexp.MustCompile(`(?m)^func ((?:Test|Fuzz|Benchmark)[A-Za-z0-9_]*)\(`)
	defined := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range fn.FindAllStringSubmatch(string(src), -1) {
			defined[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return defined
}

func makeTargets(t *testing.T, makefile string) map[string]bool {
	t.Helper()
	src, err := os.ReadFile(makefile)
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^([a-z][a-z0-9-]*):`).FindAllStringSubmatch(string(src), -1) {
		targets[m[1]] = true
	}
	return targets
}
