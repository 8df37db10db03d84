package persist

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Key names one holder: the account (endpoint, region, profile, network of the session URL) and
// the instance and user its sessions log in as. Commands with the same key share a holder.
type Key struct {
	Endpoint       string
	Region         string
	Profile        string
	ConnectionType string
	InstanceID     string
	User           string
}

// name is the key hashed into a short file name: a Unix socket's path is limited to about 104
// bytes, and the key's parts may be long or contain anything.
func (k Key) name() string {
	h := sha256.New()
	for _, s := range []string{k.Endpoint, k.Region, k.Profile, k.ConnectionType, k.InstanceID, k.User} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// maxSocketPath is the longest socket path every supported system takes (darwin's sun_path is
// 104 bytes with its terminating NUL).
const maxSocketPath = 103

// sockSuffix and lockSuffix end a holder's socket and lock file names.
const (
	sockSuffix = ".sock"
	lockSuffix = ".lock"
)

// Dir returns the directory of the holders' sockets, private to the user: $XDG_RUNTIME_DIR/ecsterm
// when that is set, else ecsterm/persist in the user's cache directory. It is created (0700) if
// absent, and refused if it is not a directory owned by the user or is open to anyone else:
// whoever can reach a holder's socket can run commands on the instance.
func Dir() (string, error) {
	var dir string
	if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" && filepath.IsAbs(rt) {
		dir = filepath.Join(rt, "ecsterm")
	} else {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("--persist needs a private directory for its sockets: %w", err)
		}
		dir = filepath.Join(cache, "ecsterm", "persist")
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return "", fmt.Errorf("creating the persist directory: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("creating the persist directory: %w", err)
	}
	if err := checkPrivate(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// socketPath is key's socket in dir; it fails if the path is too long for a Unix socket.
func socketPath(dir string, k Key) (string, error) {
	p := filepath.Join(dir, k.name()+sockSuffix)
	if len(p) > maxSocketPath {
		return "", fmt.Errorf("the persist socket path %q is longer than a Unix socket allows (%d bytes): set XDG_RUNTIME_DIR to a shorter directory", p, maxSocketPath)
	}
	return p, nil
}

// lockPath is the lock file a holder keeps for as long as it runs.
func lockPath(sock string) string { return strings.TrimSuffix(sock, sockSuffix) + lockSuffix }
