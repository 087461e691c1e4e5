package procfs

import (
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// Container says which container a process runs in, as far as its cgroup
// and its mounts tell: the runtime that started it, its ID, and its name
// where the runtime keeps one that pyattach can read.
type Container struct {
	// Runtime is "docker", "podman", "containerd", "cri-o" or "lxc"; for a
	// Kubernetes container whose runtime does not show, "kubernetes".
	Runtime string `json:"runtime"`
	ID      string `json:"id"`             // the full ID; "" when only a name is known (LXC)
	Name    string `json:"name,omitempty"` // the runtime's name for it (Kubernetes: the container's name in its pod)
	PodUID  string `json:"podUID,omitempty"`
}

// Short returns the container's name, or its ID's first 12 characters (as
// docker ps shows it), with the runtime: "docker:web".
func (c *Container) Short() string {
	name := c.Name
	if name == "" {
		name = c.ID
		if len(name) > 12 {
			name = name[:12]
		}
	}
	return c.Runtime + ":" + name
}

// Describe names the container in words, for messages: "docker container
// web (ID d0b7a88d6761…)".
func (c *Container) Describe() string {
	s := c.Runtime + " container"
	if c.Name != "" {
		s += " " + c.Name
	}
	switch {
	case len(c.ID) > 12:
		s += " (ID " + c.ID[:12] + "…)"
	case c.ID != "":
		s += " (ID " + c.ID + ")"
	}
	if c.PodUID != "" {
		s += " of Kubernetes pod " + c.PodUID
	}
	return s
}

// ContainerOf returns the container process pid runs in, or nil when it
// runs in none that pyattach can tell (a process of the host, or of the
// container pyattach itself runs in, when the cgroup and mounts hide it).
// It reads /proc/PID/cgroup, and /proc/PID/mountinfo where the cgroup does
// not name the container (cgroup namespaces), then the runtime's own
// record for the name: best effort, read-only, no runtime is asked.
func ContainerOf(pid int) (*Container, error) {
	cgroup, err := os.ReadFile(procPath(pid, "cgroup"))
	if err != nil {
		return nil, processError(pid, err)
	}
	mountinfo, _ := os.ReadFile(procPath(pid, "mountinfo")) // another user's: the cgroup alone
	c := identify(string(cgroup), string(mountinfo))
	if c != nil {
		name(c, pid, string(mountinfo))
	}
	return c, nil
}

// identify finds the container in a process's cgroup file, else in its
// mountinfo.
func identify(cgroup, mountinfo string) *Container {
	if c := fromCgroup(cgroup); c != nil {
		if c.ID == "" || c.Name == "" {
			if m := fromMounts(mountinfo); m != nil && (c.ID == "" || m.ID == c.ID) {
				fill(c, m)
			}
		}
		return c
	}
	return fromMounts(mountinfo)
}

// fill completes c with what m knows and c does not.
func fill(c, m *Container) {
	if c.ID == "" {
		c.ID = m.ID
	}
	if c.Name == "" {
		c.Name = m.Name
	}
	if c.PodUID == "" {
		c.PodUID = m.PodUID
	}
	if c.Runtime == "kubernetes" && m.Runtime != "kubernetes" && m.Runtime != "" {
		c.Runtime = m.Runtime
	}
}

var (
	// containerID is a container's ID as docker, podman, containerd and
	// CRI-O make them.
	containerID = `[0-9a-f]{64}`
	// scopeUnit is a container's systemd scope (systemd cgroup driver):
	// docker-ID.scope, libpod-ID.scope, cri-containerd-ID.scope, crio-ID.scope.
	scopeUnit = regexp.MustCompile(`^(docker|libpod|cri-containerd|crio)-(` + containerID + `)\.scope$`)
	// bareID is a path component that is an ID alone (cgroupfs driver:
	// /docker/ID, /libpod_parent/libpod-ID, /kubepods/burstable/podUID/ID).
	bareID = regexp.MustCompile(`^(?:libpod-)?(` + containerID + `)$`)
	// podSlice is a Kubernetes pod's cgroup: podUID (cgroupfs) or
	// kubepods-QOS-podUID.slice with the UID's dashes as underscores (systemd).
	podSlice = regexp.MustCompile(`^(?:kubepods(?:-[a-z]+)?-)?pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$`)
	// lxcPayload is an LXC container's cgroup: lxc.payload.NAME or lxc/NAME.
	lxcPayload = regexp.MustCompile(`^lxc\.payload\.(.+)$`)
)

// scopeRuntimes names the runtime of each scope prefix.
var scopeRuntimes = map[string]string{"docker": "docker", "libpod": "podman", "cri-containerd": "containerd", "crio": "cri-o"}

// parentRuntimes names the runtime of a cgroupfs parent directory that
// holds containers' cgroups by ID.
var parentRuntimes = map[string]string{"docker": "docker", "libpod_parent": "podman", "machine.slice": "podman"}

// fromCgroup finds the container in the lines of /proc/PID/cgroup
// ("ID:controllers:path"), the first line that names one.
func fromCgroup(cgroup string) *Container {
	for line := range strings.Lines(cgroup) {
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) == 3 {
			if c := fromCgroupPath(parts[2]); c != nil {
				return c
			}
		}
	}
	return nil
}

// fromCgroupPath reads one cgroup path, component by component: the last
// container scope or ID wins (a container nested in another's cgroup is
// the inner one), and a pod's cgroup above it makes it Kubernetes'.
func fromCgroupPath(p string) *Container {
	var c *Container
	pod, parent := "", ""
	for _, part := range strings.Split(p, "/") {
		switch m := matchCgroupPart(part); {
		case m.pod != "":
			pod = m.pod
		case m.id != "":
			runtime := m.runtime
			if runtime == "" {
				runtime = parentRuntimes[parent]
			}
			c = &Container{Runtime: runtime, ID: m.id}
		case m.lxc != "":
			c = &Container{Runtime: "lxc", Name: m.lxc}
		case parent == "lxc" && part != "":
			c = &Container{Runtime: "lxc", Name: part}
		}
		parent = part
	}
	switch {
	case c == nil:
		return nil
	case pod != "":
		c.PodUID = pod
		if c.Runtime == "" {
			c.Runtime = "kubernetes"
		}
	case c.Runtime == "":
		return nil // a bare ID under a parent no runtime of ours uses
	}
	return c
}

// cgroupPart is what one component of a cgroup path names.
type cgroupPart struct{ runtime, id, pod, lxc string }

func matchCgroupPart(part string) cgroupPart {
	if m := scopeUnit.FindStringSubmatch(part); m != nil {
		return cgroupPart{runtime: scopeRuntimes[m[1]], id: m[2]}
	}
	if m := bareID.FindStringSubmatch(part); m != nil {
		return cgroupPart{id: m[1]}
	}
	if m := podSlice.FindStringSubmatch(part); m != nil {
		return cgroupPart{pod: strings.ReplaceAll(m[1], "_", "-")}
	}
	if m := lxcPayload.FindStringSubmatch(part); m != nil {
		return cgroupPart{lxc: m[1]}
	}
	return cgroupPart{}
}

var (
	// dockerRecord is a file docker keeps for a container and mounts into
	// it: DATA_ROOT/containers/ID/{hostname,hosts,resolv.conf}.
	dockerRecord = regexp.MustCompile(`^(.*)/containers/(` + containerID + `)/(?:hostname|hosts|resolv\.conf)$`)
	// podmanRecord: .../overlay-containers/ID/userdata/{hostname,hosts,resolv.conf,.containerenv}.
	podmanRecord = regexp.MustCompile(`/overlay-containers/(` + containerID + `)/userdata/`)
	// kubeletRecord: the kubelet's /var/lib/kubelet/pods/POD/containers/NAME/N,
	// mounted at /dev/termination-log, and .../pods/POD/etc-hosts.
	kubeletRecord = regexp.MustCompile(`/pods/([0-9a-f-]{36})/(?:containers/([^/]+)/|etc-hosts$)`)
	// criSandbox: containerd's CRI plugin's sandbox files (the pod's, not the container's).
	criSandbox = regexp.MustCompile(`/io\.containerd\.grpc\.v1\.cri/sandboxes/`)
)

// fromMounts finds the container in the roots of the files its runtime
// bind-mounts into it (/etc/hostname, /etc/hosts, /etc/resolv.conf,
// /dev/termination-log), which name the runtime's directory for the
// container even where a cgroup namespace hides its cgroup.
func fromMounts(mountinfo string) *Container {
	mounts, err := ParseMountInfo(mountinfo)
	if err != nil {
		return nil
	}
	var kube *Container
	containerd := false
	for _, m := range mounts {
		switch {
		case dockerRecord.MatchString(m.Root):
			r := dockerRecord.FindStringSubmatch(m.Root)
			return &Container{Runtime: "docker", ID: r[2]}
		case podmanRecord.MatchString(m.Root):
			return &Container{Runtime: "podman", ID: podmanRecord.FindStringSubmatch(m.Root)[1]}
		case kubeletRecord.MatchString(m.Root):
			r := kubeletRecord.FindStringSubmatch(m.Root)
			if kube == nil {
				kube = &Container{Runtime: "kubernetes"}
			}
			kube.PodUID = r[1]
			if r[2] != "" {
				kube.Name = r[2]
			}
		case criSandbox.MatchString(m.Root):
			containerd = true
		}
	}
	if kube != nil && containerd {
		kube.Runtime = "containerd"
	}
	return kube
}

// name fills in c's name from the runtime's record of it, if it has none
// yet and the record can be read.
func name(c *Container, pid int, mountinfo string) {
	if c.Name != "" || c.ID == "" {
		return
	}
	switch c.Runtime {
	case "docker":
		c.Name = dockerName(c.ID, dockerRootsOf(mountinfo))
	case "podman":
		c.Name = podmanName(pid)
	}
}

// dockerName reads the container's name from DATA_ROOT/containers/ID/
// config.v2.json ("Name": "/web") in the first of roots that has it.
func dockerName(id string, roots []string) string {
	for _, root := range roots {
		data, err := os.ReadFile(filepath.Join(root, "containers", id, "config.v2.json"))
		if err != nil {
			continue
		}
		var config struct{ Name string }
		if json.Unmarshal(data, &config) == nil && config.Name != "" {
			return strings.TrimPrefix(config.Name, "/")
		}
	}
	return ""
}

// dockerRootsOf returns where docker's data root may be: the directory
// the container's own mounts name (when it is on the root file system),
// then those of the daemons that run (dockerRoots).
func dockerRootsOf(mountinfo string) []string {
	var roots []string
	if mounts, err := ParseMountInfo(mountinfo); err == nil {
		for _, m := range mounts {
			if r := dockerRecord.FindStringSubmatch(m.Root); r != nil && r[1] != "" {
				roots = append(roots, r[1])
				break
			}
		}
	}
	return append(roots, dockerRoots()...)
}

// dockerRoots returns the data roots of the docker daemons that run here
// (--data-root, or -g of old), then /etc/docker/daemon.json's, then the
// default; found once per process.
var dockerRoots = sync.OnceValue(func() []string {
	var roots []string
	pids, _ := PIDs()
	for _, pid := range pids {
		comm, err := os.ReadFile(procPath(pid, "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != "dockerd" {
			continue
		}
		cmdline, _ := os.ReadFile(procPath(pid, "cmdline"))
		if root := flagValue(splitNUL(cmdline), "--data-root", "-g", "--graph"); root != "" {
			roots = append(roots, filepath.Join(procPath(pid, "root"), root))
		}
	}
	if data, err := os.ReadFile("/etc/docker/daemon.json"); err == nil {
		var config struct {
			DataRoot string `json:"data-root"`
		}
		if json.Unmarshal(data, &config) == nil && config.DataRoot != "" {
			roots = append(roots, config.DataRoot)
		}
	}
	return append(roots, "/var/lib/docker")
})

// flagValue returns the value of the first of names in args, given as
// "--name value" or "--name=value".
func flagValue(args []string, names ...string) string {
	for i, a := range args {
		for _, n := range names {
			if v, ok := strings.CutPrefix(a, n+"="); ok {
				return v
			}
			if a == n && i+1 < len(args) {
				return args[i+1]
			}
		}
	}
	return ""
}

// containerEnvName matches the name in podman's /run/.containerenv.
var containerEnvName = regexp.MustCompile(`(?m)^name="([^"]*)"`)

// podmanName reads the container's name from the /run/.containerenv that
// podman writes into every container.
func podmanName(pid int) string {
	data, err := os.ReadFile(path.Join(procPath(pid, "root"), "run/.containerenv"))
	if err != nil {
		return ""
	}
	if m := containerEnvName.FindSubmatch(data); m != nil {
		return string(m[1])
	}
	return ""
}
