package pathmap

import (
	"os"
	"reflect"
	"testing"

	"github.com/pyattach/pyattach/internal/testdocker"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testdocker.Shutdown()
	os.Exit(code)
}

// TestForDocker derives the mappings of a real container's process: a
// bound source directory, another directory bound read-only inside it,
// and a subdirectory bound where the first already shows it; an image file
// is read through the container's root.
func TestForDocker(t *testing.T) {
	d := testdocker.Require(t)
	src, config := t.TempDir(), t.TempDir()
	if err := os.Mkdir(src+"/lib", 0o755); err != nil {
		t.Fatal(err)
	}
	c := d.Start(t, testdocker.RunOptions{
		Image: d.Image(t, testdocker.Bookworm),
		Mounts: []testdocker.Mount{
			{Host: src, Container: "/app"},
			{Host: config, Container: "/app/config", ReadOnly: true},
			{Host: src + "/lib", Container: "/app/lib"},
		},
		Command: []string{"sleep", "600"},
	})
	got, lines, err := For(c.PID)
	if err != nil {
		t.Fatal(err)
	}
	want := []Mapping{{LocalRoot: config, RemoteRoot: "/app/config", ReadOnly: true}, {LocalRoot: src, RemoteRoot: "/app"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("For(%d) = %+v\nwant %+v", c.PID, got, want)
	}
	for _, l := range lines {
		t.Log(l)
	}
	image := Local(c.PID, got, "/etc/debian_version")
	if b, err := os.ReadFile(image); err != nil || len(b) == 0 {
		t.Errorf("reading the image's /etc/debian_version as %s: %q, %v", image, b, err)
	}
	if host := Local(c.PID, got, "/app/lib/x.py"); host != src+"/lib/x.py" {
		t.Errorf("Local(/app/lib/x.py) = %s; want %s/lib/x.py", host, src)
	}
}
