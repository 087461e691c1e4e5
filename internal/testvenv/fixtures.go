package testvenv

import (
	"embed"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pyattach/pyattach/internal/testtarget"
)

// Fixture scripts and their breakpoint markers (find the line with
// testtarget.Line).
const (
	// MarkHandler is in gunicorn_app.py's handle(path), in the worker
	// serving the request, where pid == os.getpid() and path is the path
	// asked for.
	MarkHandler = "# BREAK:handler"
	// MarkPoolWork is in pool.py's work(x), in a pool worker, where
	// x is in range(4).
	MarkPoolWork = "# BREAK:poolwork"
)

//go:embed scripts/*.py
var scripts embed.FS

// Script writes the fixture script name into a new temporary directory
// and returns its path.
func Script(t testing.TB, name string) string {
	t.Helper()
	b, err := scripts.ReadFile("scripts/" + name)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Service is a running gunicorn service.
type Service struct {
	*testtarget.Target // the master
	URL                string
	Workers            []int // the workers' PIDs, in the order they booted
}

// bootTimeout bounds gunicorn's start.
const bootTimeout = 30 * time.Second

var (
	listening = regexp.MustCompile(`Listening at: (http://127\.0\.0\.1:\d+)`)
	booting   = regexp.MustCompile(`Booting worker with pid: (\d+)`)
)

// Gunicorn starts gunicorn_app.py under py's gunicorn venv with the given
// number of sync workers, and returns once it listens and every worker
// has booted. Cleanup stops the master's process group (its workers).
func Gunicorn(t testing.TB, py testtarget.Interpreter, workers int) *Service {
	t.Helper()
	venv := GunicornPython(t, py)
	target := testtarget.Start(t, venv, Script(t, "gunicorn_app.py"), testtarget.WithEnv("PYTHONNOUSERSITE=1", "PYATTACH_GUNICORN_WORKERS="+strconv.Itoa(workers)))
	s := &Service{Target: target}
	deadline := time.Now().Add(bootTimeout)
	for time.Now().Before(deadline) && target.Alive() {
		out := target.Output()
		m := listening.FindStringSubmatch(out)
		boots := booting.FindAllStringSubmatch(out, -1)
		if m != nil && len(boots) >= workers {
			s.URL = m[1]
			for _, b := range boots {
				pid, _ := strconv.Atoi(b[1])
				s.Workers = append(s.Workers, pid)
			}
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("gunicorn (%s) did not boot %d workers within %v:\n%s", venv.Label, workers, bootTimeout, target.Output())
	return nil
}

// Get asks the service for path and returns the PID of the worker that
// served it.
func (s *Service) Get(path string, timeout time.Duration) (int, error) {
	client := http.Client{Timeout: timeout}
	resp, err := client.Get(s.URL + path)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	pid, served, _ := strings.Cut(strings.TrimSpace(string(body)), " ")
	if served != path {
		return 0, fmt.Errorf("%s answered %q, not \"PID %s\"", s.URL+path, body, path)
	}
	return strconv.Atoi(pid)
}
