package inject

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
)

// symbolFile returns the file gdb should read the symbols of path from: a
// copy without debug information when path carries some (pyenv's
// libpython holds 17 MB of it) and objcopy is at hand, cached between
// attaches; path itself otherwise. pyattach needs function names (from the
// ELF symbol table) and unwinding information (.eh_frame), both kept in
// the copy; reading the debug information would cost gdb a few hundred
// milliseconds per attach and, when a frame's compilation unit is expanded
// during the backtrace, tens of milliseconds with the target stopped.
func symbolFile(path string, log *slog.Logger) string {
	if !hasDebugInfo(path) {
		return path
	}
	objcopy, err := exec.LookPath("objcopy")
	if err != nil {
		log.Info("objcopy not found; gdb reads the debug information too", "file", path)
		return path
	}
	cached, err := cachedCopyPath(path)
	if err != nil {
		return path
	}
	if _, err := os.Stat(cached); err == nil {
		return cached
	}
	if err := os.MkdirAll(filepath.Dir(cached), 0o700); err != nil {
		return path
	}
	tmp := cached + ".tmp" + fmt.Sprint(os.Getpid())
	if out, err := exec.Command(objcopy, "--strip-debug", path, tmp).CombinedOutput(); err != nil {
		log.Warn("objcopy could not strip the debug information", "file", path, "err", err, "output", string(out))
		os.Remove(tmp)
		return path
	}
	if err := os.Rename(tmp, cached); err != nil {
		os.Remove(tmp)
		return path
	}
	return cached
}

func hasDebugInfo(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return f.Section(".debug_info") != nil
}

// cachedCopyPath names the stripped copy of the file at path, by what
// identifies this version of it.
func cachedCopyPath(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	id := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d\x00%d", path, st.Size(), st.ModTime().UnixNano())))
	return filepath.Join(cache, "pyattach", "symbols", hex.EncodeToString(id[:12])+"-"+filepath.Base(path)), nil
}
