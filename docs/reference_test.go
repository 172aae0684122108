package docs

import (
	"strings"
	"testing"
)

func TestParseReferenceRefusesMalformedRows(t *testing.T) {
	for name, page := range map[string]string{
		"no table":         "# Configuration\n\nNothing here.\n",
		"five cells":       ReferenceHeader + "\n| --- |\n| `a` | — | `FEEDD_A` | `--a` | meaning |\n",
		"option unquoted":  ReferenceHeader + "\n| --- |\n| a | — | `FEEDD_A` | `--a` | > 0 | Meaning. |\n",
		"pipe inside cell": ReferenceHeader + "\n| --- |\n| `a` | — | `FEEDD_A` | `--a` | a | b | Meaning. |\n",
	} {
		if rows, err := ParseReference(page); err == nil {
			t.Errorf("%s: parsed as %+v", name, rows)
		}
	}
}

func TestSettingAsFlagHelp(t *testing.T) {
	page := "intro\n\n" + ReferenceHeader + "\n| --- | --- | --- | --- | --- | --- |\n" +
		"| `sequence.regex` | — | `FEEDD_SEQUENCE_REGEX` | `--sequence.regex` | a regular expression | Matches the number, e.g. `seq=(\\d+)`. Second sentence. |\n" +
		"| `serial.read_timeout` | `5ms` | `FEEDD_SERIAL_READ_TIMEOUT` | `--serial.read_timeout` | > 0 | Upper bound of one read ([decision 0010](decisions/0010.md)): **keep it short**. More. |\n" +
		"\nafter the table | not a row |\n"
	rows, err := ParseReference(page)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Line != 5 || rows[1].Option != "serial.read_timeout" {
		t.Fatalf("rows %+v", rows)
	}
	for _, c := range []struct{ got, want string }{
		{rows[0].Summary(), `Matches the number, e.g. seq=(\d+).`},
		{rows[0].ShownDefault(), ""},
		{rows[1].Summary(), "Upper bound of one read (decision 0010): keep it short."},
		{rows[1].ShownDefault(), "5ms"},
	} {
		if c.got != c.want {
			t.Errorf("got %q; want %q", c.got, c.want)
		}
	}
	for def, isValue := range map[string]bool{
		"`5ms`": true, "`none`": true, "—": false, "host name": false, "`feedd-<pipeline>`": false,
		"`82` for nmea, `4096` otherwise": false, "`0s` (per device)": false, "``": false,
	} {
		if got := (Setting{Default: def}).DefaultIsValue(); got != isValue {
			t.Errorf("default %s: DefaultIsValue() = %v", def, got)
		}
	}
}

// TestTheEmbeddedPageParses: the binary's copy of configuration.md has
// its reference, and every row has a sentence for a flag's help.
func TestTheEmbeddedPageParses(t *testing.T) {
	rows, err := Reference()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 80 {
		t.Fatalf("only %d settings in the reference", len(rows))
	}
	for _, r := range rows {
		if s := r.Summary(); !strings.HasSuffix(s, ".") || strings.ContainsAny(s, "`[]") || strings.Contains(s, "**") {
			t.Errorf("line %d: %s: summary %q is not one plain sentence", r.Line, r.Option, s)
		}
	}
}
