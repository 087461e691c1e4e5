package diag

import (
	"testing"

	"github.com/pyattach/pyattach/internal/procfs"
)

func TestPydevdMapped(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/py/lib/python3.11/site-packages/debugpy/_vendored/pydevd/_pydevd_bundle/pydevd_cython.cpython-311-x86_64-linux-gnu.so", true},
		{"/py/lib/python3.13/site-packages/debugpy/_vendored/pydevd/_pydevd_sys_monitoring/_pydevd_sys_monitoring_cython.cpython-313-x86_64-linux-gnu.so", true},
		{"/py/lib/python3.9/site-packages/debugpy/_vendored/pydevd/_pydevd_frame_eval/pydevd_frame_evaluator.cpython-39-x86_64-linux-gnu.so", true},
		{"/py/lib/python3.11/site-packages/debugpy/_vendored/pydevd/pydevd_attach_to_process/attach_linux_amd64.so", true},
		{"/usr/lib/python3/dist-packages/_pydevd_bundle/pydevd_cython.cpython-311-x86_64-linux-gnu.so", true},
		{"/usr/lib/python3/dist-packages/pydevd_attach_to_process/attach.so", true},
		{"/py/lib/python3.11/lib-dynload/_socket.cpython-311-x86_64-linux-gnu.so", false},
		{"/home/alice/debugpy-notes/libfoo.so", false},
		{"", false},
	}
	for _, tt := range tests {
		maps := []procfs.Mapping{{Path: "/py/bin/python3.11"}, {Path: tt.path}}
		if got := pydevdMapped(maps); got != tt.want {
			t.Errorf("pydevdMapped(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestIsAdapter(t *testing.T) {
	tests := []struct {
		argv []string
		want bool
	}{
		{[]string{"/py/bin/python3.11", "/py/lib/python3.11/site-packages/debugpy/adapter", "--for-server", "47117", "--host", "127.0.0.1", "--port", "0"}, true},
		{[]string{"python3", "/home/a/.vscode/extensions/ms-python.debugpy/bundled/libs/debugpy/adapter/"}, true},
		{[]string{"python3", "/x/debugpy/adapter/__main__.py"}, true},
		{[]string{"python3", "-m", "debugpy.adapter", "--port", "5678"}, true},
		{[]string{"python3", "-m", "debugpy", "--listen", "5678", "app.py"}, false},
		{[]string{"python3", "/srv/adapter"}, false},
		{[]string{""}, false},
	}
	for _, tt := range tests {
		if got := IsDebugpyAdapter(tt.argv); got != tt.want {
			t.Errorf("IsDebugpyAdapter(%q) = %v, want %v", tt.argv, got, tt.want)
		}
	}
}

func TestParseTCPLine(t *testing.T) {
	tests := []struct {
		line  string
		want  tcpSocket
		inode string
		ok    bool
	}{
		{"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode", tcpSocket{}, "", false},
		{"   1: 0100007F:CCB1 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 76030 1 000000008616aa67 100 0 0 10 0",
			tcpSocket{localPort: 0xCCB1, state: tcpListen}, "76030", true},
		{"  11: 0100007F:ECF2 0100007F:CCB1 01 00000000:00000000 02:00000019 00000000     0        0 77369 2 000000004e883d28 20 4 29 14 -1",
			tcpSocket{localPort: 0xECF2, remotePort: 0xCCB1, state: tcpEstablished}, "77369", true},
		{"   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0",
			tcpSocket{localPort: 0x1F90, state: tcpListen}, "4242", true},
		{"   2: garbage", tcpSocket{}, "", false},
	}
	for _, tt := range tests {
		got, inode, ok := parseTCPLine(tt.line)
		if got != tt.want || inode != tt.inode || ok != tt.ok {
			t.Errorf("parseTCPLine(%q) = %+v, %q, %v; want %+v, %q, %v", tt.line, got, inode, ok, tt.want, tt.inode, tt.ok)
		}
	}
}
