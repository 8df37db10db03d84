package completion_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/cli"
	"github.com/ecsterm/ecsterm/internal/emulator"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/target/cache"
)

// TestMain lets the test binary stand in for ecsterm, so that the completion's background
// refresh (which runs os.Executable) runs the real command in a real detached process.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == cobra.ShellCompRequestCmd || os.Args[1] == cache.RefreshCommand) {
		os.Exit(cli.Run(context.Background(), iostreams.System(), os.Args[1:]))
	}
	os.Exit(m.Run())
}

func TestCompletionCommand(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"completion", "bash"}, "# bash completion V2 for ecsterm"},
		{[]string{"completion", "zsh"}, "#compdef ecsterm"},
		{[]string{"completion", "fish"}, "complete -c ecsterm"},
		{[]string{"completion", "powershell"}, "Register-ArgumentCompleter"},
		{[]string{"completion", "--no-descriptions", "bash"}, "__completeNoDesc"},
	} {
		ios, _, stdout, stderr := iostreams.Test()
		if code := cli.Run(context.Background(), ios, tt.args); code != 0 || !strings.Contains(stdout.String(), tt.want) {
			t.Errorf("%v: exit %d, output lacks %q; stderr %s", tt.args, code, tt.want, stderr)
		}
	}
	for _, args := range [][]string{{"completion"}, {"completion", "tcsh"}, {"completion", "bash", "zsh"}} {
		ios, _, _, stderr := iostreams.Test()
		if code := cli.Run(context.Background(), ios, args); code != 2 || !strings.Contains(stderr.String(), "bash, zsh, fish, powershell") {
			t.Errorf("%v: exit %d, stderr %q; want a usage error naming the shells", args, code, stderr)
		}
	}
}

// env gives the subprocesses (and this process, to compute the cache's name) a private home,
// config and cache, credentials for endpoint, and nothing of the machine's own settings.
func env(t *testing.T, endpoint, region, keyID, secret string) (home string) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		for _, prefix := range []string{"ALIBABA_CLOUD_", "ALIBABACLOUD_", "ALICLOUD_", "ECSTERM_"} {
			if strings.HasPrefix(name, prefix) {
				t.Setenv(name, "")
				os.Unsetenv(name)
			}
		}
	}
	home = t.TempDir()
	for name, value := range map[string]string{
		"HOME": home, "USERPROFILE": home, "XDG_CONFIG_HOME": filepath.Join(home, "config"),
		"XDG_CACHE_HOME": filepath.Join(home, "cache"), "LocalAppData": filepath.Join(home, "cache"), "AppData": filepath.Join(home, "config"),
		"ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true", "ALIBABA_CLOUD_ACCESS_KEY_ID": keyID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret, "ALIBABA_CLOUD_REGION_ID": region, "ECSTERM_ENDPOINT": endpoint,
		// Under -race a process sleeps 1 s at exit, for reports; nothing here needs it.
		"GORACE": strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0"),
	} {
		t.Setenv(name, value)
	}
	return home
}

// complete runs `ecsterm __complete args...` as the shell does, reading its stdout through a
// pipe to the end, and returns the candidates' values and how long that took. A background
// refresh that kept the pipe open would show here as a wait.
func complete(t *testing.T, args ...string) ([]string, time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{cobra.ShellCompRequestCmd}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("__complete %q: %v\n%s", args, err, stderr.String())
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if strings.HasPrefix(line, ":") { // the directive ends the list
			break
		}
		v, _, _ := strings.Cut(line, "\t")
		out = append(out, v)
	}
	return out, elapsed
}

// awaitRefresh waits until no background refresh holds file's lock. Refreshes are processes of
// their own, with no channel to this test, so this polls, with a deadline.
func awaitRefresh(t *testing.T, file string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(file + ".lock"); errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("the refresh of %s did not end within a minute", file)
}

func TestTargetCompletionAgainstEmulator(t *testing.T) {
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	e, err := emulator.New(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	cred := e.Credential()
	home := env(t, e.Endpoint(), e.Region(), cred.AccessKeyID, cred.AccessKeySecret)
	conf := filepath.Join(home, "config", "ecsterm", "config.yaml")
	if err := os.MkdirAll(filepath.Dir(conf), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("aliases: {demo: i-emu0demo000000001}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file, err := cache.Path(e.Region(), "", e.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { awaitRefresh(t, file) })

	// The first completion starts the refresh and waits for it a little; whether the list makes
	// it in time depends on this machine, so only the second is checked.
	complete(t, "doctor", "")
	awaitRefresh(t, file)
	got, _ := complete(t, "doctor", "")
	for _, want := range []string{"demo", "demo-web-01", "i-emu0demo000000001"} {
		if !slices.Contains(got, want) {
			t.Errorf("completion %q lacks %s", got, want)
		}
	}
	if got, _ := complete(t, "doctor", "root@demo-web"); !slices.Equal(got, []string{"root@demo-web-01"}) {
		t.Errorf("completion of root@demo-web = %q", got)
	}
	if got, _ := complete(t, "doctor", "demo", ""); len(got) != 0 {
		t.Errorf("doctor's second argument completed to %q", got)
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("cache %s: %v %v, want mode 600", file, fi.Mode(), err)
		}
	}
}

// slowAPI answers nothing for 5 s, then fails; the test's end releases it early.
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

func TestTargetCompletionNeverWaitsForASlowAPI(t *testing.T) {
	env(t, "", "cn-test", "LTAItest", "secret")
	// The refresh is awaited after the API is released (cleanups run last first).
	var file string
	t.Cleanup(func() { awaitRefresh(t, file) })
	endpoint := slowAPI(t)
	t.Setenv("ECSTERM_ENDPOINT", endpoint)
	file, _ = cache.Path("cn-test", "", endpoint)

	// The completion waits at most 1.5 s for a first list; 4 s is generous and still proves
	// that it did not wait for the 5 s API.
	const bound = 4 * time.Second
	got, elapsed := complete(t, "doctor", "")
	if len(got) != 0 || elapsed > bound {
		t.Errorf("with no cache: %q after %v; want nothing within %v", got, elapsed, bound)
	}

	stale, _ := json.Marshal(map[string]any{
		"version": 1, "fetched_at": time.Now().Add(-time.Hour),
		"instances": []map[string]string{{"id": "i-stale0001", "name": "stale-01"}},
	})
	if err := os.WriteFile(file, stale, 0o600); err != nil {
		t.Fatal(err)
	}
	got, elapsed = complete(t, "doctor", "")
	if !slices.Equal(got, []string{"stale-01", "i-stale0001"}) || elapsed > bound {
		t.Errorf("with a stale cache: %q after %v; want the stale list within %v", got, elapsed, bound)
	}
}
