// Package cache is the completion cache of instance names: one file per account and region,
// rewritten by a refresh that runs detached in a process of its own, so that completion never
// waits on the API.
package cache

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/config"
	"github.com/ecsterm/ecsterm/internal/target"
)

// RefreshCommand is the hidden command that refreshes a completion cache in a process of its
// own: `ecsterm __refresh-completion-cache [root flags] FILE`.
const RefreshCommand = "__refresh-completion-cache"

// The cache's clock. A refresh lists every instance of the region: one DescribeInstances walk.
const (
	// MaxAge is the age after which a completion starts a refresh; the stale list still
	// answers meanwhile.
	MaxAge = 5 * time.Minute
	// RefreshTimeout bounds the background refresh.
	RefreshTimeout = 30 * time.Second
	// lockStale is when a refresh's lock is taken to be left by a process that died.
	lockStale    = 2 * RefreshTimeout
	cacheVersion = 1
)

// List is the file's content: what completion offers, and when it was listed.
type List struct {
	Version   int       `json:"version"`
	FetchedAt time.Time `json:"fetched_at"`
	Instances []Entry   `json:"instances"`
}

// Entry is one instance of the list. It came from the service: escape it before printing.
type Entry struct {
	ID     string            `json:"id"`
	Name   string            `json:"name,omitempty"`
	Status string            `json:"status,omitempty"`
	Tags   map[string]string `json:"tags,omitempty"`
}

// Path names the completion cache of an account and region in the user's cache directory:
// instances-<region>-<hash>.json, where the hash covers the profile, the endpoint and an AccessKey
// ID from the environment, so that two accounts (or the emulator and the real service) never
// share a list. The hash hides nothing secret; it keeps the name short and filename-safe.
func Path(region, profile, endpoint string) (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte(profile + "\x00" + endpoint + "\x00" + os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_ID")))
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, strings.ToLower(region))
	return filepath.Join(dir, "ecsterm", fmt.Sprintf("instances-%s-%x.json", safe, h[:6])), nil
}

// Read reads the list in file; a list of another version is an error.
func Read(file string) (List, error) {
	var c List
	b, err := os.ReadFile(file)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return List{}, err
	}
	if c.Version != cacheVersion {
		return List{}, fmt.Errorf("%s: cache version %d, want %d", file, c.Version, cacheVersion)
	}
	return c, nil
}

// Write writes insts, listed at now, to file, readable by the user only.
func Write(file string, insts []cloud.InstanceInfo, now time.Time) error {
	c := List{Version: cacheVersion, FetchedAt: now.UTC(), Instances: make([]Entry, 0, len(insts))}
	for _, in := range insts {
		c.Instances = append(c.Instances, Entry{ID: in.ID, Name: in.Name, Status: in.Status, Tags: in.Tags})
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return config.WritePrivate(file, b) // 0600 in a 0700 directory: instance names are the account's
}

// Refresh lists the region's instances and rewrites the completion cache file. It is what
// the hidden RefreshCommand runs, in the background. It always releases the refresh lock that
// the completion took before starting it, even when listing fails.
func Refresh(ctx context.Context, file string, lister func() (target.Lister, error)) error {
	defer os.Remove(lockFile(file))
	l, err := lister()
	if err != nil {
		return err
	}
	insts, err := l.ListInstances(ctx, cloud.InstanceFilter{})
	if err != nil {
		return err
	}
	return Write(file, insts, time.Now())
}

func lockFile(file string) string { return file + ".lock" }

// takeLock creates the refresh lock, so that a burst of Tab presses starts one refresh and not
// one each. A lock older than lockStale was left by a refresh that died and is taken over.
func takeLock(lock string) bool {
	if err := os.MkdirAll(filepath.Dir(lock), 0o700); err != nil {
		return false
	}
	for range 2 {
		f, err := os.OpenFile(lock, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			f.Close()
			return true
		}
		if !errors.Is(err, fs.ErrExist) {
			return false
		}
		fi, err := os.Stat(lock)
		if err != nil || time.Since(fi.ModTime()) < lockStale {
			return false
		}
		os.Remove(lock)
	}
	return false
}

// Spawn starts `ecsterm RefreshCommand args... file` as a detached process with no
// standard streams, so that it outlives the completion and never holds the shell's pipe open,
// and returns a channel closed when it exits. It returns nil when a refresh is already running
// or the process cannot start.
func Spawn(file string, args []string) <-chan struct{} {
	lock := lockFile(file)
	if !takeLock(lock) {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		os.Remove(lock)
		return nil
	}
	cmd := exec.Command(exe, append(append([]string{RefreshCommand}, args...), file)...)
	// Stdin, Stdout and Stderr stay nil: the null device. An inherited stdout would make the
	// shell's $(…) wait for the refresh, the very wait this design avoids.
	detach(cmd)
	if err := cmd.Start(); err != nil {
		os.Remove(lock)
		return nil
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	return done
}
