package adapterproc

import (
	"strings"
	"testing"
)

func TestLauncherCarriesTheMarker(t *testing.T) {
	if first, _, _ := strings.Cut(launcher, "\n"); !strings.Contains(first, Marker) {
		t.Fatalf("the launcher's first line %q lacks %q", first, Marker)
	}
}
