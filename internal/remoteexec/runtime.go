package remoteexec

import (
	"debug/elf"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/pyattach/pyattach/internal/procfs"
)

// pyRuntime is where a process keeps _PyRuntime.
type pyRuntime struct {
	file string // the ELF file whose .PyRuntime section holds it, as the target's maps name it
	addr uint64 // run-time address of the section
	size uint64
}

// findRuntime looks, as CPython's own sys.remote_exec does, for a .PyRuntime
// section in the files mapped into process p whose name contains "python"
// (python3.14, libpython3.14.so.1.0), and also in its executable, whatever
// its name (an application embedding a static CPython).
func findRuntime(p *procfs.Process) (*pyRuntime, error) {
	maps, err := p.Maps()
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool)
	var tried []string
	for _, m := range maps { // in address order: the first mapping of a file maps its start
		if m.Inode == 0 || seen[m.Path] || !strings.Contains(filepath.Base(m.Path), "python") && m.Path != p.Exe {
			continue
		}
		seen[m.Path] = true
		rt, err := runtimeIn(p.PID, m)
		if err != nil || rt != nil {
			return rt, err
		}
		tried = append(tried, m.Path)
	}
	if len(tried) == 0 {
		return nil, fmt.Errorf("process %d maps no python executable or library: %w", p.PID, procfs.ErrNotPython)
	}
	return nil, fmt.Errorf("no .PyRuntime section in %s (a CPython older than 3.12?): %w", strings.Join(tried, ", "), ErrNotSupported)
}

// runtimeIn returns where the .PyRuntime section of the file that m, its
// first mapping, maps into process pid is loaded; nil if it has none.
func runtimeIn(pid int, m procfs.Mapping) (*pyRuntime, error) {
	file, err := procfs.OpenMapped(pid, m)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	f, err := elf.NewFile(file)
	if err != nil {
		return nil, nil // not ELF: a python-named data file
	}
	s := f.Section(".PyRuntime")
	if s == nil {
		return nil, nil
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_LOAD {
			// The first PT_LOAD segment is what the first mapping maps; the
			// load bias is what the loader added to its addresses.
			bias := m.Start - m.Offset - (prog.Vaddr - prog.Off)
			return &pyRuntime{file: m.Path, addr: bias + s.Addr, size: s.Size}, nil
		}
	}
	return nil, fmt.Errorf("%s has no loadable segment", m.Path)
}
