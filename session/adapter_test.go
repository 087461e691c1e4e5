package session

import "testing"

func TestInterpreterName(t *testing.T) {
	for name, want := range map[string]bool{
		"python": true, "python3": true, "python3.12": true, "python3.13t": true,
		"uwsgi": false, "embedding-host": false, "python3-config": false, "ipython3": false, "python3.12 (deleted)": false,
	} {
		if got := interpreterName.MatchString(name); got != want {
			t.Errorf("%q: interpreter = %v, want %v", name, got, want)
		}
	}
}
