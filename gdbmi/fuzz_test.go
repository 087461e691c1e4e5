package gdbmi

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzParseRecord checks that ParseRecord never panics, that a line it does
// not understand comes back verbatim, and that Record.String is a faithful
// encoding: parsing it again gives the same record, on a single line.
func FuzzParseRecord(f *testing.F) {
	for _, file := range []string{"attach.mi", "errors.mi", "interrupt.mi"} {
		lines, _ := readTranscript(f, file)
		for _, l := range lines {
			f.Add(l)
		}
	}
	for _, s := range []string{
		"", "(gdb) ", `^done,a={},b=[]`, `^done,l=[f={},f={a="1"}]`, `^done,v="\"\\n\""`,
		`~"\303\251\e\a\b\f\r\v\'\?\q"`, `1^error,msg="x",code="y"`, "18446744073709551616^done",
		`^done,a=[[[{b=["c"]}]]]`, "garbage\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r := ParseRecord(line)
		if r.Kind == KindOther && r.Text != strings.TrimRight(line, "\r\n") {
			t.Fatalf("KindOther Text = %q, want the line %q", r.Text, line)
		}
		s := r.String()
		if r.Kind != KindOther && strings.ContainsAny(s, "\r\n") {
			t.Fatalf("String() = %q spans lines", s)
		}
		if again := ParseRecord(s); !reflect.DeepEqual(again, r) {
			t.Fatalf("ParseRecord(%q) = %#v\nbut String() = %q parses to %#v", line, r, s, again)
		}
	})
}
