package procfs

import (
	"os"
	"testing"
)

func TestParseMountInfo(t *testing.T) {
	mounts, err := ParseMountInfo(sample(t, "docker-bind.mountinfo"))
	if err != nil {
		t.Fatal(err)
	}
	var app, data *Mount
	for i, m := range mounts {
		switch m.Point {
		case "/app":
			app = &mounts[i]
		case "/data":
			data = &mounts[i]
		}
	}
	if app == nil || app.Root != "/tmp/pa sample/src" || app.Device != "254:0" || app.FSType != "ext4" || app.Source != "/dev/vda" || app.ReadOnly() {
		t.Errorf("/app mount = %+v; want /tmp/pa sample/src from 254:0 (ext4 /dev/vda), writable", app)
	}
	if data == nil || !data.ReadOnly() {
		t.Errorf("/data mount = %+v; want read-only", data)
	}
	if mounts[0].ID != 79 || mounts[0].Parent != 53 || mounts[0].Point != "/" || mounts[0].FSType != "overlay" {
		t.Errorf("first mount = %+v; want the overlay root", mounts[0])
	}
}

func TestParseMountInfoOptionalFields(t *testing.T) {
	line := `36 35 98:0 /mnt1 /mnt\0402\134x rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue`
	m, err := ParseMountInfo(line + "\n")
	if err != nil || len(m) != 1 {
		t.Fatalf("ParseMountInfo = %+v, %v", m, err)
	}
	if m[0].Point != `/mnt 2\x` || m[0].FSType != "ext3" || m[0].Source != "/dev/root" {
		t.Errorf("mount = %+v; want /mnt 2\\x, ext3 from /dev/root", m[0])
	}
	for _, bad := range []string{"36 35 98:0 / /", "36 35 98:0 / / rw - ext3", "x 35 98:0 / / rw - ext3 /dev/root rw"} {
		if _, err := ParseMountInfo(bad); err == nil {
			t.Errorf("ParseMountInfo(%q) succeeded; want an error", bad)
		}
	}
}

func TestMountsSelf(t *testing.T) {
	mounts, err := Mounts(0)
	if err != nil {
		t.Fatal(err)
	}
	root := false
	for _, m := range mounts {
		root = root || m.Point == "/"
	}
	if !root {
		t.Errorf("no root mount among our %d mounts", len(mounts))
	}
	if _, err := Mounts(os.Getpid()); err != nil {
		t.Error(err)
	}
}
