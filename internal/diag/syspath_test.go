package diag

import (
	"reflect"
	"slices"
	"testing"

	"github.com/pyattach/pyattach/internal/procfs"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		argv []string
		want pythonFlags
	}{
		{[]string{"python3", "app.py", "-E"}, pythonFlags{script: "app.py"}},
		{[]string{"/usr/bin/python3.11", "-u", "-E", "app.py"}, pythonFlags{ignoreEnv: true, script: "app.py"}},
		{[]string{"python3", "-uEs", "app.py"}, pythonFlags{ignoreEnv: true, noUserSite: true, script: "app.py"}},
		{[]string{"python3", "-I", "app.py"}, pythonFlags{ignoreEnv: true, noUserSite: true, safePath: true, script: "app.py"}},
		{[]string{"python3", "-S", "-P", "-m", "http.server", "-E"}, pythonFlags{noSite: true, safePath: true}},
		{[]string{"python3", "-c", "import x", "-I"}, pythonFlags{}},
		{[]string{"python3", "-Wignore", "-W", "error", "-X", "dev", "-Xdisable-remote-debug", "app.py"},
			pythonFlags{xOptions: []string{"dev", "disable-remote-debug"}, script: "app.py"}},
		{[]string{"python3", "-X", "-E", "app.py"}, pythonFlags{xOptions: []string{"-E"}, script: "app.py"}},
		{[]string{"python3", "--check-hash-based-pycs", "always", "-s", "app.py"}, pythonFlags{noUserSite: true, script: "app.py"}},
		{[]string{"python3", "--", "-weird.py"}, pythonFlags{script: "-weird.py"}},
		{[]string{"python3", "-", "app.py"}, pythonFlags{}},
		{[]string{"python3"}, pythonFlags{}},
		{[]string{"pypy3", "-E", "app.py"}, pythonFlags{ignoreEnv: true, script: "app.py"}},
		{[]string{"gunicorn: worker [app]"}, pythonFlags{}},
		{[]string{"uwsgi", "-E", "app.ini"}, pythonFlags{}},
		{nil, pythonFlags{}},
	}
	for _, tt := range tests {
		if got := parseFlags(tt.argv); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseFlags(%q) = %+v, want %+v", tt.argv, got, tt.want)
		}
	}
}

func TestSearchPath(t *testing.T) {
	pyenv := pathInputs{
		impl:    procfs.CPython,
		version: procfs.Version{Major: 3, Minor: 11, Patch: 7},
		exe:     "/py/bin/python3.11",
		library: "/py/lib/libpython3.11.so.1.0",
		argv:    []string{"/py/bin/python3", "app/main.py"},
		env:     []string{"HOME=/home/alice", "PYTHONPATH=/extra:rel"},
		cwd:     "/work",
		uid:     1000, euid: 1000,
	}
	const (
		site     = "/py/lib/python3.11/site-packages"
		site64   = "/py/lib64/python3.11/site-packages"
		userSite = "/home/alice/.local/lib/python3.11/site-packages"
	)
	// debian lists the dist-packages directories searched under prefix.
	debian := func(prefix string) []string {
		return []string{prefix + "/local/lib/python3.11/dist-packages", prefix + "/lib/python3/dist-packages", prefix + "/lib/python3.11/dist-packages"}
	}
	pyenvSites := append([]string{site, site64}, debian("/py")...)
	tests := []struct {
		name   string
		change func(*pathInputs)
		want   []string
	}{
		{"plain", func(*pathInputs) {}, concat([]string{"/work/app", "/extra", "/work/rel", userSite}, pyenvSites)},
		{"-c runs in the working directory", func(in *pathInputs) { in.argv = []string{"python3", "-c", "pass"} },
			concat([]string{"/work", "/extra", "/work/rel", userSite}, pyenvSites)},
		{"-E", func(in *pathInputs) { in.argv = []string{"python3", "-E", "/srv/app.py"} }, concat([]string{"/srv", userSite}, pyenvSites)},
		{"-I", func(in *pathInputs) { in.argv = []string{"python3", "-I", "/srv/app.py"} }, pyenvSites},
		{"-S", func(in *pathInputs) { in.argv = []string{"python3", "-S", "/srv/app.py"} }, []string{"/srv", "/extra", "/work/rel"}},
		{"PYTHONSAFEPATH", func(in *pathInputs) { in.env = []string{"PYTHONSAFEPATH=1"}; in.home = "/home/alice" },
			concat([]string{userSite}, pyenvSites)},
		{"PYTHONNOUSERSITE", func(in *pathInputs) { in.env = []string{"PYTHONNOUSERSITE=1"} }, concat([]string{"/work/app"}, pyenvSites)},
		{"no HOME: the user's home", func(in *pathInputs) { in.env = nil; in.home = "/home/bob" },
			concat([]string{"/work/app", "/home/bob/.local/lib/python3.11/site-packages"}, pyenvSites)},
		{"PYTHONUSERBASE", func(in *pathInputs) { in.env = []string{"PYTHONUSERBASE=/ub"} },
			concat([]string{"/work/app", "/ub/lib/python3.11/site-packages"}, pyenvSites)},
		{"setuid: no user site", func(in *pathInputs) { in.env, in.euid = nil, 0 }, concat([]string{"/work/app"}, pyenvSites)},
		{"PYTHONHOME", func(in *pathInputs) { in.env = []string{"PYTHONHOME=/home/py:/home/pyexec"} },
			concat([]string{"/work/app", "/home/py/lib/python3.11/site-packages", "/home/py/lib64/python3.11/site-packages"}, debian("/home/py"))},
		{"venv", func(in *pathInputs) { in.venv, in.env = "/proj/.venv", nil },
			[]string{"/work/app", "/proj/.venv/lib/python3.11/site-packages", "/proj/.venv/lib64/python3.11/site-packages"}},
		{"venv with system site packages", func(in *pathInputs) {
			in.venv, in.venvSystem, in.venvHome, in.env = "/proj/.venv", true, "/base/bin", []string{"HOME=/h"}
		}, concat([]string{"/work/app", "/proj/.venv/lib/python3.11/site-packages", "/proj/.venv/lib64/python3.11/site-packages",
			"/h/.local/lib/python3.11/site-packages", "/base/lib/python3.11/site-packages", "/base/lib64/python3.11/site-packages"},
			debian("/base"), pyenvSites)},
		{"debian", func(in *pathInputs) {
			in.exe, in.library, in.argv, in.env = "/usr/bin/python3.11", "", []string{"/usr/bin/python3", "-s", "/srv/app.py"}, nil
		}, concat([]string{"/srv", "/usr/lib/python3.11/site-packages", "/usr/lib64/python3.11/site-packages"}, debian("/usr"))},
		{"embedded: prefix from libpython", func(in *pathInputs) {
			in.exe, in.argv, in.env = "/opt/app/server", []string{"server", "-E"}, nil
		}, concat([]string{"/work"}, pyenvSites)},
		{"free-threaded 3.13", func(in *pathInputs) {
			in.version, in.argv, in.env = procfs.Version{Major: 3, Minor: 13, Patch: 0}, []string{"python3", "-s", "-c", ""}, nil
		}, []string{"/work", "/py/lib/python3.13/site-packages", "/py/lib64/python3.13/site-packages",
			"/py/lib/python3.13t/site-packages", "/py/lib64/python3.13t/site-packages",
			"/py/local/lib/python3.13/dist-packages", "/py/local/lib/python3.13t/dist-packages", "/py/lib/python3/dist-packages",
			"/py/lib/python3.13/dist-packages", "/py/lib/python3.13t/dist-packages"}},
		{"pypy", func(in *pathInputs) {
			in.impl, in.version, in.exe, in.library = procfs.PyPy, procfs.Version{Major: 3, Minor: 9, Patch: -1}, "/pypy/bin/pypy3.9", "/pypy/bin/libpypy3.9-c.so"
			in.argv, in.env = []string{"pypy3", "-s", "/srv/app.py"}, nil
		}, []string{"/srv", "/pypy/lib/pypy3.9/site-packages", "/pypy/lib64/pypy3.9/site-packages",
			"/pypy/local/lib/pypy3.9/dist-packages", "/pypy/lib/python3/dist-packages", "/pypy/lib/pypy3.9/dist-packages"}},
		{"unknown version", func(in *pathInputs) {
			in.version, in.argv, in.env = procfs.Version{}, []string{"python3", "-s", "/srv/app.py"}, nil
		}, []string{"/srv", "/py/lib/python3/dist-packages"}},
	}
	for _, tt := range tests {
		in := pyenv
		tt.change(&in)
		var got []string
		for _, e := range searchPath(in) {
			got = append(got, e.dir)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: searchPath =\n  %q\nwant\n  %q", tt.name, got, tt.want)
		}
	}
}

func TestSearchPathMarksSiteDirectories(t *testing.T) {
	in := pathInputs{version: procfs.Version{Major: 3, Minor: 11}, exe: "/py/bin/python3", argv: []string{"python3", "app.py"},
		env: []string{"PYTHONPATH=/extra", "PYTHONNOUSERSITE=1"}, cwd: "/w"}
	for _, e := range searchPath(in) {
		if wantSite := e.dir != "/w" && e.dir != "/extra"; e.site != wantSite {
			t.Errorf("%s: site = %v, want %v", e.dir, e.site, wantSite)
		}
	}
}

func concat(parts ...[]string) []string {
	return slices.Concat(parts...)
}
