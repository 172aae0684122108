package docs

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ReferenceHeader is the header row of every reference table of
// configuration.md: one row per setting.
const ReferenceHeader = "| option | default | environment | flag | valid | meaning |"

// Setting is one row of a reference table, each cell as written (Markdown).
type Setting struct {
	Line    int // 1-based line of the row in the page
	Option  string
	Default string
	Env     string
	Flag    string
	Valid   string
	Meaning string
}

// Reference returns the rows of every reference table of Configuration.
func Reference() ([]Setting, error) {
	return ParseReference(Configuration)
}

// ParseReference returns the rows of every reference table in page: the
// tables under a ReferenceHeader line, each row with six cells and the
// option in backticks.
func ParseReference(page string) ([]Setting, error) {
	var rows []Setting
	inTable := false
	for i, l := range strings.Split(page, "\n") {
		switch {
		case l == ReferenceHeader:
			inTable = true
			continue
		case !strings.HasPrefix(l, "|"):
			inTable = false
			continue
		case !inTable || strings.HasPrefix(l, "| ---"):
			continue
		}
		row, err := parseRow(l)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		row.Line = i + 1
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("no reference table (header %q)", ReferenceHeader)
	}
	return rows, nil
}

func parseRow(l string) (Setting, error) {
	cells := strings.Split(strings.Trim(l, "|"), " | ")
	if len(cells) != 6 {
		return Setting{}, fmt.Errorf("%d cells, want 6 (a '|' inside a cell?): %s", len(cells), l)
	}
	for k := range cells {
		cells[k] = strings.TrimSpace(cells[k])
	}
	opt, ok := strings.CutPrefix(cells[0], "`")
	opt, ok2 := strings.CutSuffix(opt, "`")
	if !ok || !ok2 {
		return Setting{}, errors.New("the option " + cells[0] + " is not in backticks")
	}
	return Setting{Option: opt, Default: cells[1], Env: cells[2], Flag: cells[3], Valid: cells[4], Meaning: cells[5]}, nil
}

// Summary is the first sentence of the setting's meaning, as plain text:
// the one line a flag's help shows.
func (s Setting) Summary() string {
	text := Plain(s.Meaning)
	for i := 0; i < len(text); i++ {
		if text[i] != '.' || (i+1 < len(text) && text[i+1] != ' ') {
			continue
		}
		if abbreviation(text[:i+1]) {
			continue
		}
		return text[:i+1]
	}
	return text
}

// ShownDefault is the default as a person reads it in a flag's help, or
// "" where the setting has none.
func (s Setting) ShownDefault() string {
	if s.Default == "—" {
		return ""
	}
	return Plain(s.Default)
}

// DefaultIsValue says whether the default is a value as it would be
// written (one code span without a placeholder such as <pipeline>) rather
// than a description of where it comes from ("host name", "`82` for nmea,
// `4096` otherwise"): only a value is quoted in a flag's help.
func (s Setting) DefaultIsValue() bool {
	v, ok := strings.CutPrefix(s.Default, "`")
	v, ok2 := strings.CutSuffix(v, "`")
	return ok && ok2 && v != "" && !strings.ContainsAny(v, "`<>")
}

// abbreviation says whether text ends with an abbreviation's full stop
// rather than a sentence's.
func abbreviation(text string) bool {
	for _, a := range []string{"e.g.", "i.e.", "etc.", "..."} {
		if strings.HasSuffix(text, a) {
			return true
		}
	}
	return false
}

var (
	mdLink = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	mdMark = strings.NewReplacer("`", "", "**", "")
)

// Plain turns a cell's Markdown into plain text: links become their text,
// code and emphasis marks are dropped.
func Plain(cell string) string {
	return mdMark.Replace(mdLink.ReplaceAllString(cell, "$1"))
}
