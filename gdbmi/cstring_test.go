package gdbmi

import (
	"strings"
	"testing"
)

func TestReadCString(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantEnd int
		wantOK  bool
	}{
		{"plain", `"abc"rest`, "abc", 5, true},
		{"empty", `""`, "", 2, true},
		{"octal utf-8", `"\303\251"`, "é", 10, true},
		{"octal then digit", `"\0618"`, "18", 7, true},
		{"octal overflow keeps low byte", `"\777"`, "\xff", 6, true},
		{"one level only", `"\"a\\n\""`, `"a\n"`, 10, true},
		{"escape e", `"\e[0m"`, "\x1b[0m", 7, true},
		{"no opening quote", `abc"`, "", 0, false},
		{"unterminated", `"abc`, "", 4, false},
		{"unterminated after escape", `"a\n`, "", 4, false},
		{"dangling backslash", `"a\`, "", 3, false},
		{"empty input", ``, "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, end, ok := readCString(tt.in, 0)
			if ok != tt.wantOK || (ok && (got != tt.want || end != tt.wantEnd)) {
				t.Errorf("readCString(%q) = %q, %d, %v; want %q, %d, %v",
					tt.in, got, end, ok, tt.want, tt.wantEnd, tt.wantOK)
			}
		})
	}
}

func TestWriteCStringRoundTrip(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"plain", `"plain"`},
		{"café", `"café"`},
		{"\xc3", `"\303"`},
		{"quote\" backslash\\ nl\n", `"quote\" backslash\\ nl\n"`},
		{"\x00\x01\x1b\x7f", `"\000\001\e\177"`},
		{"\ufffd", "\"\ufffd\""},
	}
	for _, tt := range tests {
		var b strings.Builder
		writeCString(&b, tt.in)
		if b.String() != tt.want {
			t.Errorf("writeCString(%q) = %s, want %s", tt.in, b.String(), tt.want)
		}
		back, end, ok := readCString(b.String(), 0)
		if !ok || back != tt.in || end != b.Len() {
			t.Errorf("readCString(%s) = %q, %d, %v; want %q", b.String(), back, end, ok, tt.in)
		}
	}
}
