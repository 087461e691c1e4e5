package session

import (
	"encoding/json"
	"testing"
)

func TestStripAttach(t *testing.T) {
	body := `{"seq":2,"type":"request","command":"attach","arguments":{"processId":42,"gdbPath":"/g","debugpyPath":"/d",` +
		`"debugpyLogDir":"/l","timeout":3,"logFile":"/f","strategy":"auto","listen":{"port":1},"connect":{"port":2},"host":"h","port":3,` +
		`"justMyCode":false,"pathMappings":[{"localRoot":"/a","remoteRoot":"/b"}],"rules":[{"path":"x","include":false}],"subProcess":true,"custom":{"k":[1,2.50,"\u00e9"]}}}`
	out, err := StripAttach([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Seq       int                        `json:"seq"`
		Command   string                     `json:"command"`
		Arguments map[string]json.RawMessage `json:"arguments"`
	}
	if err := json.Unmarshal(out, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Seq != 2 || msg.Command != "attach" {
		t.Errorf("envelope changed: %s", out)
	}
	want := map[string]string{
		"request":      `"attach"`,
		"justMyCode":   `false`,
		"pathMappings": `[{"localRoot":"/a","remoteRoot":"/b"}]`,
		"rules":        `[{"path":"x","include":false}]`,
		"subProcess":   `true`,
		"custom":       `{"k":[1,2.50,"\u00e9"]}`,
	}
	if len(msg.Arguments) != len(want) {
		t.Errorf("arguments = %v; want exactly %v", keys(msg.Arguments), keys(want))
	}
	for k, v := range want {
		if string(msg.Arguments[k]) != v {
			t.Errorf("argument %s = %s; want %s byte for byte", k, msg.Arguments[k], v)
		}
	}
}

func TestStripAttachWithoutArguments(t *testing.T) {
	out, err := StripAttach([]byte(`{"seq":1,"type":"request","command":"attach"}`))
	if err != nil || string(out) != `{"arguments":{"request":"attach"},"command":"attach","seq":1,"type":"request"}` {
		t.Errorf("StripAttach = %s, %v", out, err)
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
