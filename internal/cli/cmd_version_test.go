package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pyattach/pyattach/internal/debugpydist"
)

// `pyattach version` names the supplied debugpy and where it is: the install
// tests (scripts/dist-test.sh) check its second line.
func TestVersionNamesTheSuppliedDebugpy(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(debugpydist.EnvDir, dir)
	var out bytes.Buffer
	if code := run([]string{"version"}, nil, &out, &out); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	want := "pyattach " + Version + " (supplies debugpy " + debugpydist.Version + ")\n" +
		"supplied debugpy: " + dir + " (set by PYATTACH_DEBUGPY_DIR; not installed: run `pyattach install-debugpy --dir " + dir + "`)\n"
	if out.String() != want {
		t.Errorf("pyattach version printed\n%s\nwant\n%s", out.String(), want)
	}

	if err := os.MkdirAll(filepath.Join(dir, "debugpy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "debugpy", "__init__.py"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	run([]string{"version"}, nil, &out, &out)
	if !strings.HasSuffix(out.String(), "supplied debugpy: "+dir+" (set by PYATTACH_DEBUGPY_DIR; installed)\n") {
		t.Errorf("with debugpy in %s, pyattach version printed\n%s", dir, out.String())
	}

	out.Reset()
	run([]string{"version", "--debugpy"}, nil, &out, &out)
	if out.String() != debugpydist.Version+"\n" {
		t.Errorf("pyattach version --debugpy printed %q", out.String())
	}
}
