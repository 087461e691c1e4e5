package pathmap

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/pyattach/pyattach/internal/procfs"
)

func mounts(t *testing.T, text string) []procfs.Mount {
	t.Helper()
	m, err := procfs.ParseMountInfo(text)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func recorded(t *testing.T, name string) []procfs.Mount {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return mounts(t, string(b))
}

// TestDeriveRecorded derives the mappings of a real docker container: a
// directory whose name has a space, a read-only one, and a mount of a
// subdirectory that the mount above it implies; the container's root, its
// pseudo file systems and docker's files (/etc/hosts...) get none.
func TestDeriveRecorded(t *testing.T) {
	got := Derive(recorded(t, "docker-bind.mountinfo"), recorded(t, "host-with-dockerd.mountinfo"))
	want := []Mapping{
		{LocalRoot: "/tmp/pa sample/src", RemoteRoot: "/app"},
		{LocalRoot: "/tmp/pa-sample2", RemoteRoot: "/data", ReadOnly: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Derive = %+v\nwant %+v", got, want)
	}
}

// ours is a host's table: an ext4 root, /home from a btrfs subvolume, a
// bind mount of /srv/data at /data, and tmpfs at /dev/shm.
const ours = `27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
30 27 0:40 /@home /home rw,relatime - btrfs /dev/vdb rw
31 27 254:0 /srv/data /data rw,relatime - ext4 /dev/vda rw
32 27 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw
`

func TestDerive(t *testing.T) {
	tests := []struct {
		name, theirs string
		want         []Mapping
	}{
		{"root, proc and a tmpfs of its own: nothing",
			"79 53 0:42 / / rw - overlay overlay rw\n80 79 0:45 / /proc rw - proc proc rw\n81 79 0:99 / /tmp rw - tmpfs tmpfs rw\n", nil},
		{"a subvolume's directory",
			"96 79 0:40 /@home/ann/src /src ro - btrfs /dev/vdb rw\n",
			[]Mapping{{LocalRoot: "/home/ann/src", RemoteRoot: "/src", ReadOnly: true}}},
		{"the closest of our mounts of the file system",
			"96 79 254:0 /srv/data/x /x rw - ext4 /dev/vda rw\n",
			[]Mapping{{LocalRoot: "/data/x", RemoteRoot: "/x"}}},
		{"a directory from elsewhere mounted inside a bound one comes first",
			"96 79 254:0 /work/app /app rw - ext4 /dev/vda rw\n97 96 254:0 /etc/app /app/config ro - ext4 /dev/vda rw\n98 96 254:0 /work/app/lib /app/lib rw - ext4 /dev/vda rw\n",
			[]Mapping{{LocalRoot: "/etc/app", RemoteRoot: "/app/config", ReadOnly: true}, {LocalRoot: "/work/app", RemoteRoot: "/app"}}},
		{"a mount hidden under a later one at the same point",
			"96 79 254:0 /old /app rw - ext4 /dev/vda rw\n97 79 254:0 /new /app rw - ext4 /dev/vda rw\n",
			[]Mapping{{LocalRoot: "/new", RemoteRoot: "/app"}}},
		{"the same path inside and out needs no mapping",
			"96 79 254:0 /work /work rw - ext4 /dev/vda rw\n", nil},
		{"our tmpfs bound in",
			"96 79 0:23 /ipc /ipc rw - tmpfs tmpfs rw\n", []Mapping{{LocalRoot: "/dev/shm/ipc", RemoteRoot: "/ipc"}}},
		{"a file system we do not have mounted",
			"96 79 259:1 /home/dev/src/app /app ro - ext4 /dev/nvme0n1p1 rw\n", nil},
		{"the runtime's own files",
			"99 79 254:0 /var/lib/docker/containers/abc/hosts /etc/hosts rw - ext4 /dev/vda rw\n", nil},
		{"escaped names",
			`96 79 254:0 /my\040src /app\011x rw - ext4 /dev/vda rw` + "\n", []Mapping{{LocalRoot: "/my src", RemoteRoot: "/app\tx"}}},
	}
	for _, tt := range tests {
		got := Derive(mounts(t, tt.theirs), mounts(t, ours))
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Derive = %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}

func TestLocal(t *testing.T) {
	ms := []Mapping{{LocalRoot: "/etc/app", RemoteRoot: "/app/config"}, {LocalRoot: "/work/app", RemoteRoot: "/app"}}
	tests := map[string]string{
		"/app/main.py":                         "/work/app/main.py",
		"/app/config/a.toml":                   "/etc/app/a.toml",
		"/application/x.py":                    "/proc/42/root/application/x.py",
		"/usr/lib/python3.11/json/__init__.py": "/proc/42/root/usr/lib/python3.11/json/__init__.py",
	}
	for remote, want := range tests {
		if got := Local(42, ms, remote); got != want {
			t.Errorf("Local(%s) = %s; want %s", remote, got, want)
		}
	}
}

func TestNarration(t *testing.T) {
	m := Mapping{LocalRoot: "/home/ann/src", RemoteRoot: "/app", ReadOnly: true}
	if got, want := m.Narration(), "/app in the target is /home/ann/src here (mounted read-only)"; got != want {
		t.Errorf("Narration = %q; want %q", got, want)
	}
}

// TestForSelf: a process that sees our files by our paths needs no mapping.
func TestForSelf(t *testing.T) {
	ms, lines, err := For(os.Getpid())
	if err != nil || ms != nil || lines != nil {
		t.Errorf("For(self) = %+v, %q, %v; want none", ms, lines, err)
	}
}
