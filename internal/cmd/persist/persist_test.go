package persist

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/config"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/persist"
	"github.com/ecsterm/ecsterm/internal/target"
)

// holders starts a holder per instance in dir, whose sessions never open (so they hold none),
// each stopped, and waited for, at the end of the test.
func holders(t *testing.T, dir string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		h, err := persist.Listen(dir, persist.Config{Key: persist.Key{InstanceID: id, User: "root"}, Idle: time.Minute,
			Open: func(ctx context.Context, _ string) (persist.Channel, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			}})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = h.Serve(context.Background())
		}()
		t.Cleanup(func() {
			h.Stop(errors.New("test over"))
			<-done
		})
	}
}

func ls(t *testing.T, dir string) []record {
	t.Helper()
	ios, _, out, _ := iostreams.Test()
	if err := lsRun(t.Context(), &LsOptions{IO: ios, Dir: dir, JSON: true}); err != nil {
		t.Fatal(err)
	}
	var recs []record
	if err := json.Unmarshal(out.Bytes(), &recs); err != nil {
		t.Fatalf("%v: %q", err, out.String())
	}
	return recs
}

func TestLsAndStop(t *testing.T) {
	dir := t.TempDir()
	holders(t, dir, "i-b", "i-a")
	recs := ls(t, dir)
	if len(recs) != 2 || recs[0].InstanceID != "i-a" || recs[1].InstanceID != "i-b" || recs[0].User != "root" || recs[0].ExitsInSec < 50 {
		t.Fatalf("ls: %+v", recs)
	}
	ios, _, out, _ := iostreams.Test()
	if err := lsRun(t.Context(), &LsOptions{IO: ios, Dir: dir}); err != nil || !strings.HasPrefix(out.String(), "i-a\troot\t0\t0\t") {
		t.Errorf("ls as text: %q %v", out.String(), err)
	}

	spec, _ := target.Parse("i-b")
	ios, _, _, _ = iostreams.Test()
	if err := stopRun(context.Background(), &StopOptions{IO: ios, Dir: dir, Target: &spec}); err != nil {
		t.Fatal(err)
	}
	if recs := ls(t, dir); len(recs) != 1 || recs[0].InstanceID != "i-a" {
		t.Fatalf("after stop i-b: %+v", recs)
	}
	// A name is resolved to instances; another user's holder is not this one's.
	spec, _ = target.Parse("admin@web-a")
	resolved := func(_ context.Context, s target.Spec) ([]string, error) { return []string{"i-a"}, nil }
	if err := stopRun(context.Background(), &StopOptions{IO: ios, Dir: dir, Target: &spec, Resolve: resolved}); err != nil {
		t.Fatal(err)
	}
	if recs := ls(t, dir); len(recs) != 1 {
		t.Fatalf("admin@ stopped root's holder: %+v", recs)
	}
	if err := stopRun(context.Background(), &StopOptions{IO: ios, Dir: dir}); err != nil {
		t.Fatal(err)
	}
	if recs := ls(t, dir); len(recs) != 0 {
		t.Fatalf("after stop: %+v", recs)
	}
}

func TestNewCmdStopParsesTarget(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios, Config: func() (*config.Config, error) { return &config.Config{}, nil }}
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	var got *StopOptions
	cmd := NewCmdStop(f, func(_ context.Context, o *StopOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"admin@i-abc"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Target == nil || got.Target.User != "admin" || got.Target.Value != "i-abc" || got.Dir == "" {
		t.Errorf("%+v", got)
	}
	cmd = NewCmdStop(f, func(context.Context, *StopOptions) error { return nil })
	cmd.SetArgs([]string{"a", "b"})
	if err := cmd.Execute(); err == nil {
		t.Error("two targets accepted")
	}
}

func TestCredentialsFailed(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{cloud.ErrNoCredentials, true},
		{&cloud.APIError{Code: "InvalidAccessKeyId.NotFound"}, true},
		{&cloud.APIError{Code: "InvalidSecurityToken.Expired"}, true},
		{&cloud.APIError{Code: "Throttling"}, false},
		{errors.New("dial tcp: refused"), false},
	} {
		if got := credentialsFailed(tc.err); got != tc.want {
			t.Errorf("%v: %v", tc.err, got)
		}
	}
}

// TestServeRun: the holder's run function listens for its key until it is stopped, and a second
// one for the same key returns at once, leaving the first in place.
func TestServeRun(t *testing.T) {
	dir := t.TempDir()
	opts := &ServeOptions{Key: persist.Key{InstanceID: "i-serve", User: "root"}, Idle: time.Minute, Dir: dir,
		Open: func(ctx context.Context, _ string) (persist.Channel, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}}
	done := make(chan error, 1)
	go func() { done <- serveRun(t.Context(), opts) }()

	// The holder is up once it lists; the ticker only paces the looking, the bound is a failsafe.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	failsafe := time.After(time.Minute)
	var infos []persist.Info
	for len(infos) == 0 {
		select {
		case err := <-done:
			t.Fatalf("serveRun returned before it was stopped: %v", err)
		case <-failsafe:
			t.Fatal("the holder never listed")
		case <-tick.C:
			infos, _ = persist.List(dir)
		}
	}
	if len(infos) != 1 || infos[0].InstanceID != "i-serve" || infos[0].User != "root" {
		t.Fatalf("listed %+v, want the one holder for i-serve as root", infos)
	}

	if err := serveRun(t.Context(), opts); err != nil {
		t.Errorf("a second holder for the key: %v, want nil (the first serves)", err)
	}
	if err := persist.Stop(infos[0].Socket); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serveRun after stop: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("serveRun did not return after stop")
	}
}
