package persist

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/attach"
	"github.com/ecsterm/ecsterm/internal/config"
)

// coldSessions is the seam without --persist: it counts the commands it runs.
type coldSessions struct {
	Sessions
	execs int
}

func (c *coldSessions) Exec(ctx context.Context, o attach.ExecOptions) (int, error) {
	c.execs++
	return 77, nil
}

// warmWrap wraps a cold seam whose holder runs in the test process against svc.
func warmWrap(t *testing.T, svc *service) (*coldSessions, Sessions) {
	t.Helper()
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	cold := &coldSessions{}
	s := Wrap(cold, Settings{Idle: time.Minute, Region: "cn-test"})
	var holders []*Holder
	finished := make(chan struct{}, 8)
	s.(*warmSessions).start = func(dir string, key Key) (<-chan error, error) {
		h, err := Listen(dir, Config{Key: key, Idle: time.Minute, Open: svc.open, NewWarm: svc.newWarm, CommandLine: "warm-bootstrap"})
		if err != nil {
			return nil, err
		}
		holders = append(holders, h)
		go func() {
			_ = h.Serve(context.Background())
			finished <- struct{}{}
		}()
		return nil, nil
	}
	t.Cleanup(func() {
		for _, h := range holders {
			h.Stop(errStopped)
			<-finished
		}
		if o, e := svc.counts(); o != e {
			t.Errorf("%d sessions opened, %d ended", o, e)
		}
	})
	return cold, s
}

func TestWrapRunsCommandsWarm(t *testing.T) {
	svc := newService()
	cold, s := warmWrap(t, svc)
	for range 3 {
		var out bytes.Buffer
		st, err := s.Exec(context.Background(), attach.ExecOptions{Target: attach.Target{InstanceID: "i-1"}, Command: "cat",
			Streams: attach.Streams{Stdin: strings.NewReader("warm\n"), Stdout: &out}})
		if err != nil || st != 0 || out.String() != "warm\n" {
			t.Fatalf("%d %q %v", st, out.String(), err)
		}
	}
	if cold.execs != 0 {
		t.Errorf("%d commands ran cold", cold.execs)
	}
	if o, _ := svc.counts(); o != 1 {
		t.Errorf("%d sessions for three commands", o)
	}
	// A terminal is not warm: -t runs cold.
	if st, err := s.Exec(context.Background(), attach.ExecOptions{Target: attach.Target{InstanceID: "i-1"}, Command: "true", TTY: true}); st != 77 || err != nil || cold.execs != 1 {
		t.Errorf("-t: %d %v, %d cold", st, err, cold.execs)
	}
}

func TestWrapGoesColdWhenNoSessionOpens(t *testing.T) {
	svc := newService()
	svc.openErr = errors.New("InternalError.Dispatch")
	cold, s := warmWrap(t, svc)
	if st, err := s.Exec(context.Background(), attach.ExecOptions{Target: attach.Target{InstanceID: "i-1"}, Command: "true"}); st != 77 || err != nil || cold.execs != 1 {
		t.Errorf("%d %v, %d cold", st, err, cold.execs)
	}
}

func TestWrapWithoutPersistIsTheColdSeam(t *testing.T) {
	cold := &coldSessions{}
	if s := Wrap(cold, Settings{}); s != Sessions(cold) {
		t.Error("Wrap without an idle time changed the seam")
	}
}

func TestServeArgs(t *testing.T) {
	got := strings.Join(ServeArgs(Settings{Idle: time.Minute, Debug: true}, Key{Region: "r", Endpoint: "http://127.0.0.1:1", InstanceID: "i-1", User: "admin"}), " ")
	want := "persist serve --idle 1m0s --endpoint=http://127.0.0.1:1 --region=r --user=admin --debug -- i-1"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestIdle(t *testing.T) {
	cfg := &config.Config{Persist: time.Minute}
	for _, tc := range []struct {
		flag string
		cfg  *config.Config
		want time.Duration
		err  bool
	}{
		{"", cfg, time.Minute, false},
		{"10s", cfg, 10 * time.Second, false},
		{"no", cfg, 0, false},
		{"", nil, 0, false},
		{"soon", cfg, 0, true},
	} {
		got, err := Idle(tc.flag, tc.cfg)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("Idle(%q): %v %v", tc.flag, got, err)
		}
	}
}
