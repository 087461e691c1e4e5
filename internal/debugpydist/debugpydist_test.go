package debugpydist

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// layout creates each directory under root.
func layout(t *testing.T, root string, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, filepath.FromSlash(d)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// debugpyIn puts a debugpy package of version v, with its dist-info, in dir.
func debugpyIn(t *testing.T, dir, v string) {
	t.Helper()
	layout(t, dir, "debugpy", "debugpy-"+v+".dist-info")
	if err := os.WriteFile(filepath.Join(dir, "debugpy", "__init__.py"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBeside(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, prefix string)
		want  string // relative to the prefix; "" for none
	}{
		{"a virtual environment (pipx, uv tool)", func(t *testing.T, p string) {
			debugpyIn(t, filepath.Join(p, "lib/python3.11/site-packages"), Version)
			layout(t, p, "lib/python3.11/site-packages/pyattach-0.1.0.dist-info")
		}, "lib/python3.11/site-packages"},
		{"no debugpy: a source build copied into some bin/", func(t *testing.T, p string) {
			layout(t, p, "lib/python3.11/site-packages/pyattach-0.1.0.dist-info")
		}, ""},
		{"another debugpy version than the pinned one", func(t *testing.T, p string) {
			debugpyIn(t, filepath.Join(p, "lib/python3.11/site-packages"), "1.6.6")
		}, ""},
		{"a debugpy package without its installation record", func(t *testing.T, p string) {
			debugpyIn(t, filepath.Join(p, "lib/python3.11/site-packages"), Version)
			if err := os.RemoveAll(filepath.Join(p, "lib/python3.11/site-packages/debugpy-"+Version+".dist-info")); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"pip --user with two Pythons: the one pyattach was installed with", func(t *testing.T, p string) {
			debugpyIn(t, filepath.Join(p, "lib/python3.10/site-packages"), Version)
			debugpyIn(t, filepath.Join(p, "lib/python3.12/site-packages"), Version)
			layout(t, p, "lib/python3.12/site-packages/pyattach-0.1.0.dist-info")
		}, "lib/python3.12/site-packages"},
		{"Debian's system Python (dist-packages)", func(t *testing.T, p string) {
			debugpyIn(t, filepath.Join(p, "lib/python3.11/dist-packages"), Version)
			layout(t, p, "lib/python3.11/dist-packages/pyattach-0.1.0.dist-info")
		}, "lib/python3.11/dist-packages"},
		{"lib64 a link to lib, as in a venv made on Fedora", func(t *testing.T, p string) {
			debugpyIn(t, filepath.Join(p, "lib/python3.12/site-packages"), Version)
			if err := os.Symlink("lib", filepath.Join(p, "lib64")); err != nil {
				t.Fatal(err)
			}
		}, "lib/python3.12/site-packages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := t.TempDir()
			layout(t, prefix, "bin")
			tt.setup(t, prefix)
			want := ""
			if tt.want != "" {
				want = filepath.Join(prefix, filepath.FromSlash(tt.want))
			}
			if got := Beside(filepath.Join(prefix, "bin", "pyattach")); got != want {
				t.Errorf("Beside = %q, want %q", got, want)
			}
		})
	}
}

func TestLocateEnvironmentWins(t *testing.T) {
	t.Setenv(EnvDir, "/somewhere/else")
	if dir, how := Locate(); dir != "/somewhere/else" || how != FromEnv {
		t.Errorf("Locate() = %q, %q; want the environment's directory", dir, how)
	}
}

func TestDataDir(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/data")
	if got, want := DataDir(), "/data/pyattach/debugpy-"+Version; got != want {
		t.Errorf("DataDir() = %q, want %q", got, want)
	}
}

// Install replaces its directory whole: never a site-packages.
func TestInstallRefusesADirectoryOfOtherThings(t *testing.T) {
	site := t.TempDir()
	debugpyIn(t, site, Version)
	layout(t, site, "requests")
	err := Install(t.Context(), site, "/nonexistent/python", nil)
	if err == nil || !strings.Contains(err.Error(), "refusing to replace") {
		t.Fatalf("Install into a site-packages: err = %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(site, "requests")); err != nil {
		t.Errorf("the directory was changed: %v", err)
	}

	ours := t.TempDir()
	debugpyIn(t, ours, Version)
	layout(t, ours, "__pycache__")
	if err := replaceable(ours); err != nil {
		t.Errorf("a directory Install made: %v", err)
	}
	if err := replaceable(filepath.Join(ours, "missing")); err != nil {
		t.Errorf("a missing directory: %v", err)
	}
}
