package procfs

import (
	"debug/elf"
	"fmt"
	"path/filepath"
	"regexp"
)

// Library is an ELF file mapped into a process.
type Library struct {
	Path string // as the target names it (in its own mount namespace)
	File string // a path through which this process can open it
	Base uint64 // load bias: what to add to the file's symbol values
}

// FindLibrary returns the first file mapped into the process whose base
// name matches name, such as libc's (`^libc[.-]`).
func (p *Process) FindLibrary(name *regexp.Regexp) (*Library, error) {
	maps, err := p.Maps()
	if err != nil {
		return nil, err
	}
	for _, m := range maps {
		if m.Path == "" || !name.MatchString(filepath.Base(m.Path)) {
			continue
		}
		fileMaps := mappingsOf(maps, m.Path)
		host, err := hostPath(p.PID, fileMaps[0])
		if err != nil {
			return nil, err
		}
		f, err := elf.Open(host)
		if err != nil {
			return nil, err
		}
		load, err := firstLoad(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Path, err)
		}
		base, err := loadBias(load, fileMaps)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Path, err)
		}
		return &Library{Path: m.Path, File: host, Base: base}, nil
	}
	return nil, fmt.Errorf("process %d has no library matching %s mapped", p.PID, name)
}
