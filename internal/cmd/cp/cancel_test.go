//go:build linux

package cp

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/attach"
	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/emulator"
	"github.com/ecsterm/ecsterm/internal/iostreams"
)

// TestCancelLeavesNothing cancels a copy mid-transfer, both ways, a file and a tree, through an
// in-process emulator whose instance is this machine: once cp has returned and the emulator's
// sessions are gone, neither side holds a temporary, and the destination is as it was. The
// emulator paces the stream so that the copy is still under way when it is cancelled.
func TestCancelLeavesNothing(t *testing.T) {
	const demo = "i-emu0demo000000001"
	for _, tt := range []struct {
		name     string
		download bool
		tree     bool
	}{
		{"upload a file", false, false},
		{"upload a tree", false, true},
		{"download a file", true, false},
		{"download a tree", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// 250 kB/s: 8 MiB takes half a minute.
			e, opts, closeEmu := testEmulator(t, emulator.Options{StreamRate: 2_000_000})

			local, remote := t.TempDir(), t.TempDir()
			from := local // where the source is
			if tt.download {
				from = remote
			}
			src := filepath.Join(from, "big")
			if tt.tree {
				os.Mkdir(src, 0o755)
				src = filepath.Join(src, "data")
			}
			data := make([]byte, 8<<20)
			rand.Read(data)
			if err := os.WriteFile(src, data, 0o644); err != nil {
				t.Fatal(err)
			}
			opts.Quiet, opts.Recursive = true, tt.tree
			srcArg, dstArg, into := filepath.Join(local, "big"), demo+":"+remote, remote
			if tt.download {
				srcArg, dstArg, into = demo+":"+filepath.Join(remote, "big"), local, local
			}
			if err := opts.parseArgs(srcArg, dstArg); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- cpRun(ctx, opts) }()

			// Mid-transfer: the temporary next to the destination has some of the data.
			tmp := waitForTemporary(t, into, done)
			cancel()
			if err := <-done; err == nil {
				t.Fatal("a cancelled copy reported success")
			}
			if e.Calls("EndTerminalSession") == 0 {
				t.Error("the session was not ended")
			}
			closeEmu()
			if got := names(t, into); got != "" {
				t.Errorf("the destination holds %s after the cancel (the temporary was %s)", got, tmp)
			}
			if got := names(t, from); got != "big" {
				t.Errorf("the source's directory holds %s after the cancel", got)
			}
			if tt.tree && names(t, filepath.Join(from, "big")) != "data" {
				t.Errorf("the source tree changed: %s", names(t, filepath.Join(from, "big")))
			}
		})
	}
}

// testEmulator starts an in-process emulator and returns it, Options whose API and Sessions
// talk to it, and a function that closes it (once; it returns once every session's processes
// are reaped).
func testEmulator(t *testing.T, opts emulator.Options) (*emulator.Emulator, *Options, func()) {
	t.Helper()
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	e, err := emulator.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	closeEmu := func() { once.Do(func() { e.Close() }) }
	t.Cleanup(closeEmu)
	cred := e.Credential()
	client, err := cloud.New(cloud.Config{Region: e.Region(), Endpoint: e.Endpoint(),
		AccessKeyID: cred.AccessKeyID, AccessKeySecret: cred.AccessKeySecret, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	ios, _, _, _ := iostreams.Test()
	o := &Options{IO: ios,
		API:      func() (API, error) { return client, nil },
		Sessions: func() (cmdutil.Sessions, error) { return attach.New(attach.Config{API: client}), nil }}
	return e, o, closeEmu
}

// waitForTemporary waits until dir holds a copy's temporary with data in it, and returns its
// name. It fails the test if the copy ends first. The ticker only paces the looking; the
// bound is a failsafe.
func waitForTemporary(t *testing.T, dir string, done <-chan error) string {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	failsafe := time.After(time.Minute)
	for {
		ents, _ := os.ReadDir(dir)
		for _, ent := range ents {
			if !strings.HasPrefix(ent.Name(), ".ecsterm") {
				continue
			}
			var size int64
			filepath.Walk(filepath.Join(dir, ent.Name()), func(_ string, fi os.FileInfo, err error) error {
				if err == nil && fi.Mode().IsRegular() {
					size += fi.Size()
				}
				return nil
			})
			if size > 0 {
				return ent.Name()
			}
		}
		select {
		case err := <-done:
			t.Fatalf("the copy ended (%v) before any temporary held data", err)
		case <-failsafe:
			t.Fatal("no temporary with data after a minute")
		case <-tick.C:
		}
	}
}
