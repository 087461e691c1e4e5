package attacherr

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestREADMEListsEveryCode keeps the README's table of failures complete:
// users look an error id up there.
func TestREADMEListsEveryCode(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for code, name := range names {
		if row := fmt.Sprintf("%d `%s`", int(code), name); !strings.Contains(string(readme), row) {
			t.Errorf("README.md's table of failures has no row for %s", row)
		}
	}
}

func TestFrom(t *testing.T) {
	known := New(PtraceDenied, "denied.", "fix it.")
	if got := From(fmt.Errorf("context: %w", known)); got != known {
		t.Errorf("From(wrapped) = %v; want the *Error it wraps", got)
	}
	cause := errors.New("boom")
	got := From(cause)
	if got.Code != Internal || !errors.Is(got, cause) || !strings.Contains(got.Message, "boom") {
		t.Errorf("From(plain) = %+v; want an Internal error carrying the cause", got)
	}
	if got := Code(4242).String(); got != "code-4242" {
		t.Errorf("unknown code's String() = %q", got)
	}
}
