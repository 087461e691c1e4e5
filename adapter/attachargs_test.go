package adapter

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/childjoin"
	"github.com/pyattach/pyattach/internal/inject"
	"github.com/pyattach/pyattach/session"
)

func TestParseAttachArgs(t *testing.T) {
	yes := true
	tests := []struct {
		raw     string
		want    AttachArgs
		wantErr string // a fragment of the message; "" for success
	}{
		{raw: `{"processId": 1234}`, want: AttachArgs{PID: 1234, Strategy: inject.Auto}},
		{raw: `{"processId": "1234"}`, want: AttachArgs{PID: 1234, Strategy: inject.Auto}},
		{raw: `{"processId": " 77 "}`, want: AttachArgs{PID: 77, Strategy: inject.Auto}},
		{raw: `{"processId": 1234.0}`, want: AttachArgs{PID: 1234, Strategy: inject.Auto}},
		{raw: `{"processId": 5, "gdbPath": "/opt/gdb", "debugpyPath": "/d", "logFile": "/l", "debugpyLogDir": "/g",
			"timeout": 2.5, "strategy": "pending-call", "subProcess": true, "justMyCode": false, "pathMappings": [], "keepDebugpy": true}`,
			want: AttachArgs{PID: 5, GDBPath: "/opt/gdb", DebugpyPath: "/d", LogFile: "/l", DebugpyLogDir: "/g",
				Timeout: 2500 * time.Millisecond, Strategy: inject.PendingCall, SubProcess: &yes, KeepDebugpy: true, PathMappings: true}},
		{raw: `{"pyattachJoin": {"socket": "/run/j/join.sock", "token": "t"}, "subProcessId": 9}`,
			want: AttachArgs{Join: &childjoin.Ticket{Socket: "/run/j/join.sock", Token: "t"}, Strategy: inject.Auto, SubProcessID: 9}},
		{raw: `{"pyattachJoin": {"socket": "join.sock", "token": "t"}}`, wantErr: `"pyattachJoin" must be`},
		{raw: `{"connect": {"host": "127.0.0.1", "port": 5678}, "subProcessId": 9}`, want: AttachArgs{Connect: &Endpoint{"127.0.0.1", 5678}, Strategy: inject.Auto, SubProcessID: 9}},
		{raw: `{"connect": {"host": "10.1.2.3", "port": 5678}}`, wantErr: "not this machine"},
		{raw: `{"connect": {"port": 5678}}`, wantErr: `"connect" must be`},
		{raw: `{"processId": 1, "remoteDebug": "gdb"}`, want: AttachArgs{PID: 1, Strategy: inject.Auto, RemoteDebug: session.RemoteDebugGDB}},
		{raw: `{"processId": 1, "remoteDebug": "ptrace"}`, wantErr: `unknown remote debugging mode "ptrace"`},
		{raw: `{"processId": 1, "keepDebugpy": "yes"}`, wantErr: `"keepDebugpy" must be true or false`},
		{raw: `{"processId": 5, "timeout": null, "strategy": null, "gdbPath": null}`, want: AttachArgs{PID: 5, Strategy: inject.Auto}},
		{raw: ``, wantErr: `no "processId"`},
		{raw: `null`, wantErr: `no "processId"`},
		{raw: `{}`, wantErr: `no "processId"`},
		{raw: `[1]`, wantErr: "not a JSON object"},
		{raw: `{"processId": "${command:pickProcess}"}`, wantErr: "did not substitute"},
		{raw: `{"processId": "abc"}`, wantErr: "not a process ID"},
		{raw: `{"processId": -4}`, wantErr: "positive whole number"},
		{raw: `{"processId": 0}`, wantErr: "positive whole number"},
		{raw: `{"processId": 1.5}`, wantErr: "positive whole number"},
		{raw: `{"processId": 1e300}`, wantErr: "positive whole number"},
		{raw: `{"processId": true}`, wantErr: "number or a string of digits"},
		{raw: `{"processId": 1, "timeout": "10"}`, wantErr: `"timeout" must be`},
		{raw: `{"processId": 1, "timeout": -1}`, wantErr: `"timeout" must be`},
		{raw: `{"processId": 1, "gdbPath": 3}`, wantErr: `"gdbPath" must be a string`},
		{raw: `{"processId": 1, "strategy": "magic"}`, wantErr: `unknown strategy "magic"`},
		{raw: `{"processId": 1, "subProcess": "yes"}`, wantErr: `"subProcess" must be true or false`},
		{raw: `{"processId": 1, "processTree": true}`, want: AttachArgs{PID: 1, Strategy: inject.Auto, ProcessTree: true}},
		{raw: `{"processId": 1, "processTree": 1}`, wantErr: `"processTree" must be true or false`},
		{raw: `{"processId": 1, "__pyattachTree": 77}`, want: AttachArgs{PID: 1, Strategy: inject.Auto, TreeParent: 77}},
		{raw: `{"processId": 1, "__pyattachTree": "x"}`, wantErr: `"__pyattachTree" must be a process ID`},
	}
	for _, tc := range tests {
		got, err := ParseAttachArgs(json.RawMessage(tc.raw))
		if tc.wantErr != "" {
			var ae *attacherr.Error
			if !errors.As(err, &ae) || ae.Code != attacherr.BadArguments || !strings.Contains(ae.Error(), tc.wantErr) {
				t.Errorf("ParseAttachArgs(%s) error = %v; want BadArguments containing %q", tc.raw, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseAttachArgs(%s) error = %v", tc.raw, err)
			continue
		}
		if !sameArgs(got, tc.want) {
			t.Errorf("ParseAttachArgs(%s) = %+v; want %+v", tc.raw, got, tc.want)
		}
	}
}

func sameArgs(a, b AttachArgs) bool { return reflect.DeepEqual(a, b) }

// FuzzParseAttachArgs: any input yields either arguments with a positive
// PID (or a session to join) and a known strategy, or a BadArguments
// error — never a panic.
func FuzzParseAttachArgs(f *testing.F) {
	for _, seed := range []string{`{"processId": 1}`, `{"processId": "12", "timeout": 3}`, `{"strategy": "auto"}`, `[]`, `{"processId": {}}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		args, err := ParseAttachArgs(raw)
		if err != nil {
			var ae *attacherr.Error
			if !errors.As(err, &ae) || ae.Code != attacherr.BadArguments {
				t.Fatalf("error %v is not BadArguments", err)
			}
			return
		}
		if (args.PID <= 0) == (args.Connect == nil && args.Join == nil) || args.Timeout < 0 {
			t.Fatalf("accepted %+v", args)
		}
		if _, err := inject.ParseStrategy(string(args.Strategy)); err != nil {
			t.Fatalf("accepted strategy %q", args.Strategy)
		}
	})
}
