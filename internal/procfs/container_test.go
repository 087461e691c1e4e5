package procfs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pyattach/pyattach/internal/testdocker"
)

// sample reads a recorded file of testdata/container ("" if name is "").
func sample(t *testing.T, name string) string {
	t.Helper()
	if name == "" {
		return ""
	}
	b, err := os.ReadFile(filepath.Join("testdata", "container", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestIdentify reads the container of each recorded sample (see
// testdata/container/README.md) from its cgroup and mountinfo.
func TestIdentify(t *testing.T) {
	const (
		dockerID = "d0b7a88d6761db131616103bbb66e68b98fcdada84346a91519d115bbe25b7ee"
		insideID = "a9d2e5568ab429386ddeedf83697040dba4e2209b26c3f784e0814cc426c7a14"
		podUID   = "7d1c6a52-8b0e-4a7f-9c55-2f3e4d5a6b7c"
	)
	tests := []struct {
		cgroup, mountinfo string
		want              *Container
	}{
		{"docker-cgroupv1.cgroup", "docker-bind.mountinfo", &Container{Runtime: "docker", ID: dockerID}},
		{"docker-cgroupv1.cgroup", "", &Container{Runtime: "docker", ID: dockerID}},
		// A cgroup namespace hides the cgroup: the mounts of docker's files tell.
		{"docker-private-cgroupns-inside.cgroup", "docker-private-cgroupns-inside.mountinfo", &Container{Runtime: "docker", ID: insideID}},
		{"docker-private-cgroupns-inside.cgroup", "", nil},
		{"docker-systemd-cgroupv2.cgroup", "", &Container{Runtime: "docker", ID: "3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d"}},
		{"kubernetes-containerd-systemd.cgroup", "", &Container{Runtime: "containerd", PodUID: podUID,
			ID: "4f2b8c3d9e1a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c"}},
		{"kubernetes-cgroupfs.cgroup", "", &Container{Runtime: "kubernetes", PodUID: "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
			ID: "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b"}},
		// Inside a pod: the kubelet's files name the pod and the container.
		{"kubernetes-cgroupns-inside.cgroup", "kubernetes-cgroupns-inside.mountinfo", &Container{Runtime: "containerd", Name: "web", PodUID: podUID}},
		{"podman-systemd-cgroupv2.cgroup", "", &Container{Runtime: "podman", ID: "1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c"}},
		{"podman-conmon.cgroup", "", nil},
		{"crio.cgroup", "", &Container{Runtime: "cri-o", PodUID: "11112222-3333-4444-5555-666677778888",
			ID: "abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcd"}},
		{"lxc.cgroup", "", &Container{Runtime: "lxc", Name: "builder"}},
		{"host.cgroup", "host-with-dockerd.mountinfo", nil},
	}
	for _, tt := range tests {
		got := identify(sample(t, tt.cgroup), sample(t, tt.mountinfo))
		if got == nil && tt.want == nil {
			continue
		}
		if got == nil || tt.want == nil || *got != *tt.want {
			t.Errorf("identify(%s, %s) = %+v; want %+v", tt.cgroup, tt.mountinfo, got, tt.want)
		}
	}
}

// TestDockerRootsOf finds docker's data root from the files it mounts into
// a container.
func TestDockerRootsOf(t *testing.T) {
	roots := dockerRootsOf(sample(t, "docker-bind.mountinfo"))
	if len(roots) == 0 || roots[0] != "/root/.cache/pyattach/docker/data" || roots[len(roots)-1] != "/var/lib/docker" {
		t.Errorf("dockerRootsOf = %q; want the sample's data root first and /var/lib/docker last", roots)
	}
}

func TestFlagValue(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"dockerd", "--data-root", "/srv/docker"}, "/srv/docker"},
		{[]string{"dockerd", "--data-root=/srv/d"}, "/srv/d"},
		{[]string{"dockerd", "-g", "/old"}, "/old"},
		{[]string{"dockerd", "--data-root"}, ""},
		{[]string{"dockerd", "-H", "unix:///x"}, ""},
	}
	for _, tt := range tests {
		if got := flagValue(tt.args, "--data-root", "-g", "--graph"); got != tt.want {
			t.Errorf("flagValue(%q) = %q; want %q", tt.args, got, tt.want)
		}
	}
}

func TestContainerWords(t *testing.T) {
	const id = "d0b7a88d6761db131616103bbb66e68b98fcdada84346a91519d115bbe25b7ee"
	tests := []struct {
		c               Container
		short, describe string
	}{
		{Container{Runtime: "docker", ID: id, Name: "web"}, "docker:web", "docker container web (ID d0b7a88d6761…)"},
		{Container{Runtime: "docker", ID: id}, "docker:d0b7a88d6761", "docker container (ID d0b7a88d6761…)"},
		{Container{Runtime: "lxc", Name: "builder"}, "lxc:builder", "lxc container builder"},
		{Container{Runtime: "containerd", Name: "web", PodUID: "7d1c6a52-8b0e-4a7f-9c55-2f3e4d5a6b7c"}, "containerd:web",
			"containerd container web of Kubernetes pod 7d1c6a52-8b0e-4a7f-9c55-2f3e4d5a6b7c"},
	}
	for _, tt := range tests {
		if got := tt.c.Short(); got != tt.short {
			t.Errorf("%+v.Short() = %q; want %q", tt.c, got, tt.short)
		}
		if got := tt.c.Describe(); got != tt.describe {
			t.Errorf("%+v.Describe() = %q; want %q", tt.c, got, tt.describe)
		}
	}
}

// TestContainerOfDocker identifies a real docker container's process,
// with the name the daemon gave it, and the host's own process as none.
func TestContainerOfDocker(t *testing.T) {
	d := testdocker.Require(t)
	c := d.Start(t, testdocker.RunOptions{Image: d.Image(t, testdocker.Bookworm), Command: []string{"sleep", "600"}})
	got, err := ContainerOf(c.PID)
	if err != nil {
		t.Fatal(err)
	}
	want := Container{Runtime: "docker", ID: c.ID, Name: c.Name}
	if got == nil || *got != want {
		t.Errorf("ContainerOf(%d) = %+v; want %+v", c.PID, got, want)
	}
	if self, err := ContainerOf(os.Getpid()); err != nil || self != nil {
		t.Errorf("ContainerOf(self) = %+v, %v; want none", self, err)
	}
}
