package ssh

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// errNoticePath is why ssh's login cannot be noticed; the key then goes after removeAfter.
var errNoticePath = errors.New("no way to learn when ssh has logged in")

// maxPinned bounds what is read of the pinned known-hosts file.
const maxPinned = 4 << 20

// pinnedFile is where `ecsterm ssh` keeps the host keys it read through sessions, for the
// blocks `ecsterm ssh-config` prints: one line per key, under the instance ID.
func pinnedFile() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "ecsterm", "known_hosts"), nil
}

// pin replaces alias's keys in file by keys. It writes a temporary file beside it and renames
// it into place, so that a reader never sees half a file.
func pin(file, alias string, keys []string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	var kept bytes.Buffer
	if f, err := os.Open(file); err == nil {
		sc := bufio.NewScanner(io.LimitReader(f, maxPinned))
		sc.Buffer(make([]byte, 0, 4096), 64<<10)
		for sc.Scan() {
			line := sc.Text()
			if first, _, _ := strings.Cut(line, " "); first != alias {
				kept.WriteString(line + "\n")
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	kept.WriteString(knownHostsLines(alias, keys))
	tmp, err := os.CreateTemp(filepath.Dir(file), ".known_hosts-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, there is nothing to remove
	if _, err := tmp.Write(kept.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
