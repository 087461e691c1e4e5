package procfs

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"iter"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Symbols resolves ELF symbols (.dynsym first, then .symtab) in the file at
// path and returns their addresses relocated by base (pass
// [Python.LibraryBase] for [Python.Library]). Missing names are simply absent
// from the map, and so are thread-local symbols, whose values are offsets in
// a TLS block rather than addresses.
func Symbols(path string, base uint64, names ...string) (map[string]uint64, error) {
	syms, err := LookupSymbols(path, base, names...)
	if err != nil {
		return nil, err
	}
	addrs := make(map[string]uint64, len(syms))
	for name, s := range syms {
		addrs[name] = s.Addr
	}
	return addrs, nil
}

// Symbol is a symbol resolved in a running process.
type Symbol struct {
	Addr uint64 // run-time address
	Size uint64 // size in bytes, as the ELF file records it (0 if unknown)
}

// LookupSymbols is [Symbols] with each symbol's size.
func LookupSymbols(path string, base uint64, names ...string) (map[string]Symbol, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read symbols: %w", err)
	}
	defer f.Close()
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	syms := make(map[string]Symbol, len(names))
	for s, err := range definedSymbols(f) {
		if err != nil {
			return nil, fmt.Errorf("read symbols of %s: %w", path, err)
		}
		if !want[s.Name] || elf.ST_TYPE(s.Info) == elf.STT_TLS {
			continue
		}
		syms[s.Name] = Symbol{Addr: relocate(s, base), Size: s.Size}
		delete(want, s.Name)
		if len(want) == 0 {
			break
		}
	}
	return syms, nil
}

// relocate returns the run-time address of s in a file loaded with bias base.
func relocate(s elf.Symbol, base uint64) uint64 {
	if s.Section == elf.SHN_ABS {
		return s.Value
	}
	return base + s.Value
}

// definedSymbols yields the defined symbols of f, those of .dynsym first (what
// the dynamic linker sees, present even in stripped files), then those of
// .symtab, and stops with an error if a table is malformed.
func definedSymbols(f *elf.File) iter.Seq2[elf.Symbol, error] {
	return func(yield func(elf.Symbol, error) bool) {
		for _, table := range []func() ([]elf.Symbol, error){f.DynamicSymbols, f.Symbols} {
			syms, err := table()
			if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
				yield(elf.Symbol{}, err)
				return
			}
			for _, s := range syms {
				if s.Section != elf.SHN_UNDEF && !yield(s, nil) {
					return
				}
			}
		}
	}
}

// elfFacts is what one ELF file says about the Python runtime it may hold.
type elfFacts struct {
	firstLoad elf.ProgHeader // the first PT_LOAD segment, which the load bias is computed from
	cpython   bool           // defines Py_IsInitialized and PyRun_SimpleString
	pypy      bool           // defines PyPy_* or pypy_* symbols
	// hexVersion is the value of Py_Version (PY_VERSION_HEX, CPython 3.11+), 0 if absent.
	hexVersion uint64
}

// inspectELF reads the facts about the ELF file at path.
func inspectELF(path string) (*elfFacts, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	facts := &elfFacts{}
	load, err := firstLoad(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	facts.firstLoad = load
	if err := facts.readSymbols(f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return facts, nil
}

func firstLoad(f *elf.File) (elf.ProgHeader, error) {
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			return p.ProgHeader, nil
		}
	}
	return elf.ProgHeader{}, errors.New("no loadable segment")
}

// readSymbols classifies the file by its symbols and reads Py_Version.
func (facts *elfFacts) readSymbols(f *elf.File) error {
	var initialized, simpleString bool
	for s, err := range definedSymbols(f) {
		if err != nil {
			return err
		}
		switch {
		case s.Name == "Py_IsInitialized":
			initialized = true
		case s.Name == "PyRun_SimpleString":
			simpleString = true
		case s.Name == "Py_Version" && facts.hexVersion == 0:
			if facts.hexVersion, err = symbolValue(f, s); err != nil {
				return fmt.Errorf("read Py_Version: %w", err)
			}
		case strings.HasPrefix(s.Name, "PyPy_") || strings.HasPrefix(s.Name, "pypy_"):
			facts.pypy = true
		}
	}
	facts.cpython = initialized && simpleString && !facts.pypy
	return nil
}

// symbolValue reads the integer stored in the file at data symbol s.
func symbolValue(f *elf.File, s elf.Symbol) (uint64, error) {
	if int(s.Section) >= len(f.Sections) || s.Size != 4 && s.Size != 8 {
		return 0, fmt.Errorf("unexpected symbol section %d or size %d", s.Section, s.Size)
	}
	sec := f.Sections[s.Section]
	buf := make([]byte, s.Size)
	if _, err := sec.ReadAt(buf, int64(s.Value-sec.Addr)); err != nil {
		return 0, err
	}
	if s.Size == 4 {
		return uint64(f.ByteOrder.Uint32(buf)), nil
	}
	return f.ByteOrder.Uint64(buf), nil
}

// rodataVersions returns the versions found by versionLiterals in the
// .rodata section of the ELF file at path.
func rodataVersions(path string) ([]Version, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sec := f.Section(".rodata")
	if sec == nil {
		return nil, nil
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("%s: read .rodata: %w", path, err)
	}
	return versionLiterals(data), nil
}

// versionLiteral matches a NUL-terminated string of .rodata that ends in a
// Python version "X.Y.Z" (with an optional pre-release tag and Debian's "+").
// Only the end is anchored: the linker merges a string that is the tail of
// another one into it, and pyenv builds do exactly that to PY_VERSION and the
// install prefix "/root/.pyenv/versions/3.8.18".
var versionLiteral = regexp.MustCompile(`(?:^|[^0-9.])([23])\.(\d+)\.(\d+)(?:(?:a|b|rc)\d+)?\+?$`)

// versionLiterals returns the distinct versions that strings in the
// .rodata contents data end with, in order of appearance.
func versionLiterals(data []byte) []Version {
	var found []Version
	for _, s := range bytes.Split(data, []byte{0}) {
		m := versionLiteral.FindSubmatch(s)
		if m == nil {
			continue
		}
		v := Version{atoi(string(m[1])), atoi(string(m[2])), atoi(string(m[3]))}
		if !slices.Contains(found, v) {
			found = append(found, v)
		}
	}
	return found
}

// atoi converts digits that a regexp has already matched.
func atoi(digits string) int {
	n, _ := strconv.Atoi(digits)
	return n
}

// loadBias returns what the loader added to the file's virtual addresses, from
// the mappings of the file in the target: the mapping of the first loadable
// segment starts at the segment's page-aligned address plus the bias. It is 0
// for a non-PIE executable, which is loaded at its link-time address.
func loadBias(load elf.ProgHeader, maps []Mapping) (uint64, error) {
	page := uint64(os.Getpagesize())
	offset := load.Off &^ (page - 1)
	for _, m := range maps {
		if m.Offset == offset {
			return m.Start - load.Vaddr&^(page-1), nil
		}
	}
	return 0, fmt.Errorf("no mapping of file offset %#x", offset)
}
