package completion

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/target/cache"
)

func TestCompletionRun(t *testing.T) {
	root := &cobra.Command{Use: "ecsterm"}
	root.AddCommand(&cobra.Command{Use: "connect", Run: func(*cobra.Command, []string) {}})
	for shell, want := range map[string]string{"bash": "# bash completion V2 for ecsterm", "fish": "complete -c ecsterm"} {
		ios, _, out, _ := iostreams.Test()
		if err := completionRun(context.Background(), &Options{IO: ios, Root: root, Shell: shell, Descriptions: true}); err != nil || !strings.Contains(out.String(), want) {
			t.Errorf("%s: %v, output lacks %q", shell, err, want)
		}
	}
	ios, _, _, _ := iostreams.Test()
	if err := completionRun(context.Background(), &Options{IO: ios, Root: root, Shell: "tcsh"}); err == nil {
		t.Error("tcsh gave a script")
	}
}

func TestNewCmdCompletion(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	var got *Options
	cmd := NewCmdCompletion(&cmdutil.Factory{IOStreams: ios}, func(_ context.Context, o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--no-descriptions", "zsh"})
	if err := cmd.Execute(); err != nil || got.Shell != "zsh" || got.Descriptions || got.Root != cmd || got.IO != ios {
		t.Errorf("err %v, options %+v", err, got)
	}
}

// fakeLister lists instances from memory.
type fakeLister []cloud.InstanceInfo

func (f fakeLister) ListInstances(context.Context, cloud.InstanceFilter) ([]cloud.InstanceInfo, error) {
	return f, nil
}

// The refresh writes the cache from the API and releases the completion's lock; without a
// client it still releases the lock, and says why.
func TestRefreshRun(t *testing.T) {
	file := filepath.Join(t.TempDir(), "instances.json")
	lock := file + ".lock"
	if err := os.WriteFile(lock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	api := fakeLister{{ID: "i-web1", Name: "web-01", Status: "Running"}}
	if err := refreshRun(context.Background(), &RefreshOptions{File: file, API: api}); err != nil {
		t.Fatal(err)
	}
	list, err := cache.Read(file)
	if err != nil || len(list.Instances) != 1 || list.Instances[0].Name != "web-01" {
		t.Errorf("cache %+v, %v", list, err)
	}
	if _, err := os.Stat(lock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock left behind: %v", err)
	}

	if err := os.WriteFile(lock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	noCreds := errors.New("no credentials")
	if err := refreshRun(context.Background(), &RefreshOptions{File: file, APIErr: noCreds}); !errors.Is(err, noCreds) {
		t.Errorf("err = %v", err)
	}
	if _, err := os.Stat(lock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock left behind after a failure: %v", err)
	}
}

// RunE of the refresh keeps a client that cannot be built as APIErr and still runs.
func TestNewCmdRefreshCache(t *testing.T) {
	bad := errors.New("bad cloud")
	var got *RefreshOptions
	cmd := NewCmdRefreshCache(&cmdutil.Factory{Cloud: func() (*cloud.Client, error) { return nil, bad }},
		func(_ context.Context, o *RefreshOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"/x/instances.json"})
	if err := cmd.Execute(); err != nil || got.File != "/x/instances.json" || got.API != nil || !errors.Is(got.APIErr, bad) {
		t.Errorf("err %v, options %+v", err, got)
	}
}
