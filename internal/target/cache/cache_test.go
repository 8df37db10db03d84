package cache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/target"
)

func TestTakeLock(t *testing.T) {
	lock := filepath.Join(t.TempDir(), "sub", "c.json.lock")
	if !takeLock(lock) {
		t.Fatal("could not take a free lock")
	}
	if takeLock(lock) {
		t.Error("took a held lock")
	}
	old := time.Now().Add(-2 * lockStale)
	if err := os.Chtimes(lock, old, old); err != nil {
		t.Fatal(err)
	}
	if !takeLock(lock) {
		t.Error("could not take over a lock left by a dead refresh")
	}
	// Refresh releases it, even when listing fails.
	err := Refresh(context.Background(), strings.TrimSuffix(lock, ".lock"), func() (target.Lister, error) { return nil, errors.New("no credentials") })
	if err == nil {
		t.Error("RefreshCache hid the lister's error")
	}
	if _, err := os.Stat(lock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the lock is still there (%v)", err)
	}
}

func TestPath(t *testing.T) {
	cacheDir := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cacheDir)
	t.Setenv("HOME", cacheDir)
	t.Setenv("LocalAppData", cacheDir)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
	base, err := Path("cn-hangzhou", "", "")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := os.UserCacheDir()
	if filepath.Dir(base) != filepath.Join(dir, "ecsterm") || !strings.HasPrefix(filepath.Base(base), "instances-cn-hangzhou-") {
		t.Errorf("Path = %s", base)
	}
	seen := map[string]string{base: "base"}
	for name, f := range map[string]func() (string, error){
		"profile":  func() (string, error) { return Path("cn-hangzhou", "prod", "") },
		"endpoint": func() (string, error) { return Path("cn-hangzhou", "", "http://127.0.0.1:1") },
		"region":   func() (string, error) { return Path("cn-beijing", "", "") },
		"key": func() (string, error) {
			t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIother")
			defer os.Unsetenv("ALIBABA_CLOUD_ACCESS_KEY_ID")
			return Path("cn-hangzhou", "", "")
		},
	} {
		got, err := f()
		if err != nil {
			t.Fatal(err)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("%s and %s share the cache %s", name, other, got)
		}
		seen[got] = name
	}
	if got, _ := Path("../../etc/x y", "", ""); filepath.Dir(got) != filepath.Join(dir, "ecsterm") {
		t.Errorf("a hostile region escaped the cache directory: %s", got)
	}
}
