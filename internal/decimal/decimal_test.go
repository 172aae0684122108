package decimal

import "testing"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true},
		{"42", 42, true},
		{"007", 7, true},
		{"18446744073709551615", 1<<64 - 1, true},
		{"00000000000000000001", 1, true},
		{"18446744073709551616", 0, false},
		{"99999999999999999999", 0, false},
		{"000000000000000000001", 0, false}, // 21 digits
		{"", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{" 1", 0, false},
		{"1_000", 0, false},
		{"12a", 0, false},
	} {
		v, ok := Parse([]byte(tc.in))
		if v != tc.want || ok != tc.ok {
			t.Errorf("Parse(%q) = %d, %v; want %d, %v", tc.in, v, ok, tc.want, tc.ok)
		}
	}
}

func TestParseAllocates(t *testing.T) {
	b := []byte("123456789")
	if n := testing.AllocsPerRun(100, func() { Parse(b) }); n != 0 {
		t.Fatalf("Parse allocates %v times", n)
	}
}
