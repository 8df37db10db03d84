package complete

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/config"
	"github.com/ecsterm/ecsterm/internal/emulator"
	"github.com/ecsterm/ecsterm/internal/target"
	"github.com/ecsterm/ecsterm/internal/target/cache"
)

var cached = []cloud.InstanceInfo{
	{ID: "i-web1", Name: "web-01", Status: "Running", Tags: map[string]string{"env": "prod", "role": "web"}},
	{ID: "i-web2", Name: "web-02", Status: "Stopped", Tags: map[string]string{"env": "prod"}},
	{ID: "i-db1", Name: "db", Status: "Running", Tags: map[string]string{"env": "dev"}},
	{ID: "i-db2", Name: "db", Status: "Running"},
	{ID: "i-lookalike", Name: "i-abc123"},    // a name Parse would read as an ID
	{ID: "i-spaces", Name: "my web"},         // cannot be offered intact
	{ID: "i-evil", Name: "x\x1b[31m"},        // control characters
	{ID: "not an id", Name: "corrupt-entry"}, // a hand-edited cache
}

func entries(insts []cloud.InstanceInfo) []cache.Entry {
	var out []cache.Entry
	for _, in := range insts {
		out = append(out, cache.Entry{ID: in.ID, Name: in.Name, Status: in.Status, Tags: in.Tags})
	}
	return out
}

func values(cands []string) []string {
	out := []string{}
	for _, c := range cands {
		v, _, _ := strings.Cut(c, "\t")
		out = append(out, v)
	}
	return out
}

func TestCandidates(t *testing.T) {
	aliases := map[string]string{"web": "admin@i-web1", "bastion": "tag:role=bastion"}
	tests := []struct {
		toComplete string
		want       []string
	}{
		{"", []string{"bastion", "web", "corrupt-entry", "db", "name:i-abc123", "web-01", "web-02", "i-web1", "i-web2", "i-db1", "i-db2", "i-lookalike", "i-spaces", "i-evil"}},
		{"we", []string{"web", "web-01", "web-02"}},
		{"web-0", []string{"web-01", "web-02"}},
		{"root@we", []string{"root@web", "root@web-01", "root@web-02"}},
		{"i-d", []string{"i-db1", "i-db2"}},
		{"name:", []string{"name:corrupt-entry", "name:db", "name:i-abc123", "name:web-01", "name:web-02"}},
		{"name:i", []string{"name:i-abc123"}},
		{"tag:", []string{"tag:env", "tag:env=dev", "tag:env=prod", "tag:role", "tag:role=web"}},
		{"tag:env=p", []string{"tag:env=prod"}},
		{"ops@tag:r", []string{"ops@tag:role", "ops@tag:role=web"}},
		{"zzz", []string{}},
	}
	for _, tt := range tests {
		got := values(candidates(entries(cached), aliases, tt.toComplete))
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("candidates(%q) =\n %q\nwant\n %q", tt.toComplete, got, tt.want)
		}
	}
	descs := map[string]string{}
	for _, c := range candidates(entries(cached), aliases, "") {
		v, d, _ := strings.Cut(c, "\t")
		descs[v] = d
	}
	for v, want := range map[string]string{
		"web": "alias for admin@i-web1", "web-01": "i-web1 (Running)", "db": "2 instances",
		"i-web2": "web-02 (Stopped)", "i-evil": `x\x1b[31m`,
	} {
		if descs[v] != want {
			t.Errorf("description of %s = %q, want %q", v, descs[v], want)
		}
	}
}

// writeTestCache writes a cache listed at the given time.
func writeTestCache(t *testing.T, file string, at time.Time) {
	t.Helper()
	if err := cache.Write(file, cached, at); err != nil {
		t.Fatal(err)
	}
}

func TestCompleteFreshCacheAnswersWithoutRefresh(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ecsterm", "instances.json")
	writeTestCache(t, file, time.Now().Add(-time.Minute))
	c := &Completer{File: file, Refresh: func() <-chan struct{} {
		t.Error("a fresh cache started a refresh")
		return nil
	}}
	start := time.Now()
	got := values(c.Complete(context.Background(), "web-"))
	if !reflect.DeepEqual(got, []string{"web-01", "web-02"}) {
		t.Errorf("Complete = %q", got)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("a cache hit took %v", d)
	}
}

func TestCompleteStaleCacheAnswersAndRefreshes(t *testing.T) {
	for name, at := range map[string]time.Time{
		"old":             time.Now().Add(-time.Hour),
		"from the future": time.Now().Add(time.Hour), // the clock went back: distrust it
	} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "instances.json")
			writeTestCache(t, file, at)
			var refreshes atomic.Int32
			never := make(chan struct{}) // a refresh that never ends: the answer must not wait for it
			c := &Completer{File: file, Refresh: func() <-chan struct{} { refreshes.Add(1); return never }}
			start := time.Now()
			got := values(c.Complete(context.Background(), "i-db"))
			if !reflect.DeepEqual(got, []string{"i-db1", "i-db2"}) {
				t.Errorf("Complete = %q, want the stale list", got)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("a stale cache took %v", d)
			}
			if refreshes.Load() != 1 {
				t.Errorf("%d refreshes started, want 1", refreshes.Load())
			}
		})
	}
}

func TestCompleteNoCacheWaitsForTheRefresh(t *testing.T) {
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	e, err := emulator.New(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	cred := e.Credential()
	client, err := cloud.New(cloud.Config{Region: e.Region(), Endpoint: e.Endpoint(), AccessKeyID: cred.AccessKeyID, AccessKeySecret: cred.AccessKeySecret})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "cache", "ecsterm")
	file := filepath.Join(dir, "instances.json")
	c := &Completer{File: file, Wait: time.Minute, Refresh: func() <-chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := cache.Refresh(context.Background(), file, func() (target.Lister, error) { return client, nil }); err != nil {
				t.Error(err)
			}
		}()
		return done
	}}
	got := values(c.Complete(context.Background(), "i-emu0demo"))
	if !reflect.DeepEqual(got, []string{"i-emu0demo000000001"}) {
		t.Errorf("Complete = %q, want the emulator's demo instance", got)
	}
	if runtime.GOOS != "windows" {
		for path, want := range map[string]os.FileMode{file: 0o600, dir: 0o700} {
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
				t.Errorf("%s: %v, want mode %o", path, fi.Mode().Perm(), want)
			}
		}
	}
}

// slowAPI is an endpoint that answers nothing for 5 s, then fails; released early when the test
// ends, so that its cleanup does not wait either.
func slowAPI(t *testing.T) string {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-release:
		case <-r.Context().Done():
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"Code":"Forbidden.Test","Message":"too slow","RequestId":"slow"}`))
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv.URL
}

func TestCompleteNoCacheSlowAPIReturnsWithinTheWait(t *testing.T) {
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	file := filepath.Join(t.TempDir(), "instances.json")
	refreshed := make(chan error, 1)
	// Cleanups run last first: the API is released, then the refresh is awaited.
	t.Cleanup(func() {
		select {
		case err := <-refreshed:
			if err == nil {
				t.Error("the refresh against the failing API succeeded")
			}
		case <-time.After(time.Minute):
			t.Error("the refresh never ended")
		}
		if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a failed refresh wrote the cache (%v)", err)
		}
	})
	client, err := cloud.New(cloud.Config{Region: "cn-test", Endpoint: slowAPI(t), AccessKeyID: "ak", AccessKeySecret: "sk", Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	c := &Completer{File: file, Refresh: func() <-chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			refreshed <- cache.Refresh(context.Background(), file, func() (target.Lister, error) { return client, nil })
		}()
		return done
	}}
	start := time.Now()
	got := c.Complete(context.Background(), "")
	elapsed := time.Since(start)
	if len(got) != 0 {
		t.Errorf("Complete = %q with no cache and no answer, want nothing", got)
	}
	// The default wait is 1.5 s; 4 s is generous and still proves it did not wait for the 5 s API.
	if elapsed > 4*time.Second {
		t.Errorf("Complete took %v against a 5 s API", elapsed)
	}
}

// factory loads a real config (aliases and all) from a file, with the machine's settings kept out.
func factory(t *testing.T, file string) *cmdutil.Factory {
	t.Helper()
	home := t.TempDir()
	for _, name := range []string{"XDG_CACHE_HOME", "XDG_CONFIG_HOME", "HOME", "LocalAppData"} {
		t.Setenv(name, home)
	}
	for _, name := range []string{"ALIBABA_CLOUD_PROFILE", "ALIBABA_CLOUD_REGION_ID", "ALIBABACLOUD_REGION_ID", "ALICLOUD_REGION_ID", "ECSTERM_REGION", "ECSTERM_ENDPOINT", "ALIBABA_CLOUD_CONFIG_FILE"} {
		t.Setenv(name, "")
	}
	path := filepath.Join(home, "config.yaml")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	return &cmdutil.Factory{Config: func() (*config.Config, error) {
		return config.Load(pflag.NewFlagSet("x", pflag.ContinueOnError), path)
	}}
}

func TestNewCompleter(t *testing.T) {
	c := NewCompleter(factory(t, "aliases: {web: i-web1}\n"))
	if c.File != "" || c.Refresh != nil || c.Aliases["web"] != "i-web1" {
		t.Errorf("with no region: %+v, want aliases only", c)
	}
	c = NewCompleter(factory(t, "region: cn-test\nendpoint: http://127.0.0.1:1\n"))
	want, _ := cache.Path("cn-test", "", "http://127.0.0.1:1")
	if c.File != want || c.Refresh == nil {
		t.Errorf("with a region: file %q, want %q; refresh set: %v", c.File, want, c.Refresh != nil)
	}
	if c := NewCompleter(factory(t, "output: xml\n")); c.File != "" || len(c.Aliases) != 0 {
		t.Errorf("with a broken config: %+v, want nothing", c)
	}
}

func TestCompleteTargetsFunctions(t *testing.T) {
	f := factory(t, "region: cn-test\naliases: {web: admin@i-web1}\n")
	c := NewCompleter(f)
	writeTestCache(t, c.File, time.Now())
	cmd := &cobra.Command{}

	got, dir := Targets(f)(cmd, nil, "web")
	if v := values(got); !reflect.DeepEqual(v, []string{"web", "web-01", "web-02"}) || dir != cobra.ShellCompDirectiveNoFileComp {
		t.Errorf("Targets = %q, %v", v, dir)
	}
	if got, _ := Targets(f)(cmd, []string{"web"}, ""); len(got) != 0 {
		t.Errorf("completed a second argument: %q", got)
	}
	if got, _ := TargetFlag(f)(cmd, []string{"web"}, "i-web1,i-db"); !reflect.DeepEqual(values(got), []string{"i-web1,i-db1", "i-web1,i-db2"}) {
		t.Errorf("after a comma: %q", values(got))
	}

	t.Chdir(t.TempDir())
	if err := os.WriteFile("db.sql", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cp := Copy(f)
	for _, tt := range []struct {
		toComplete string
		want       []string
		dir        cobra.ShellCompDirective
	}{
		{"", nil, cobra.ShellCompDirectiveDefault},
		{"./w", nil, cobra.ShellCompDirectiveDefault},
		{"d", nil, cobra.ShellCompDirectiveDefault}, // db.sql is here: local files first
		{"web-0", []string{"web-01:", "web-02:"}, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp},
		{"root@web-01", []string{"root@web-01:"}, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp},
		{"web-01:/tm", nil, cobra.ShellCompDirectiveNoFileComp},
		{"nothing", nil, cobra.ShellCompDirectiveDefault},
	} {
		got, dir := cp(cmd, nil, tt.toComplete)
		var v []string
		if got != nil {
			v = values(got)
		}
		if !reflect.DeepEqual(v, tt.want) || dir != tt.dir {
			t.Errorf("Copy(%q) = %q, %v; want %q, %v", tt.toComplete, v, dir, tt.want, tt.dir)
		}
	}
}
