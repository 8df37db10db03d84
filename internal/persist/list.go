package persist

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// List returns what each holder with a socket in dir says about itself, by instance. A socket
// that no one answers on and whose lock is free is a dead holder's: it is removed.
func List(dir string) ([]Info, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the persist directory: %w", err)
	}
	var out []Info
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), sockSuffix) {
			continue
		}
		sock := filepath.Join(dir, e.Name())
		typ, p, err := ask(sock, request{Op: "info"})
		if err != nil || typ != frameInfo {
			removeStale(sock)
			continue
		}
		var in Info
		if err := json.Unmarshal(p, &in); err != nil {
			continue
		}
		in.Socket = sock
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].InstanceID != out[j].InstanceID {
			return out[i].InstanceID < out[j].InstanceID
		}
		return out[i].User < out[j].User
	})
	return out, nil
}

// removeStale removes a socket if no holder holds its lock. The lock file stays: removed, a
// holder starting now could lock the old file while the next locks a new one.
func removeStale(sock string) {
	lock, err := lockFile(lockPath(sock))
	if err != nil {
		return
	}
	defer lock.Close()
	_ = os.Remove(sock)
}

// stopWait bounds how long Stop waits for a holder to end its sessions and exit.
const stopWait = 30 * time.Second

// Stop asks the holder at sock to stop and waits until it has ended every session it opened
// and exited (its lock is free).
func Stop(sock string) error {
	typ, _, err := ask(sock, request{Op: "stop"})
	if err != nil {
		return fmt.Errorf("asking the persist holder to stop: %w", err)
	}
	if typ != frameDone {
		return errors.New("the persist holder did not take the stop request")
	}
	deadline := time.Now().Add(stopWait)
	wait := 5 * time.Millisecond
	for {
		lock, err := lockFile(lockPath(sock))
		if err == nil {
			lock.Close()
			return nil
		}
		if !errors.Is(err, errLocked) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the persist holder did not exit within %v", stopWait)
		}
		time.Sleep(wait)
		wait = min(2*wait, 200*time.Millisecond)
	}
}
