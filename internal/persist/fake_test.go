package persist

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/pkg/rexec"
	"github.com/ecsterm/ecsterm/pkg/session"
)

// service is a fake of the instance's side: it counts the sessions opened and ended, and its
// warm sessions run a tiny command language (fakeWarm.Run).
type service struct {
	mu      sync.Mutex
	opened  int
	ended   int
	openErr error
	warms   []*fakeWarm
	// gate, if set, holds every "block" command until it is closed.
	gate chan struct{}
	// started hears each "block" command as it starts.
	started chan string
	// openGate, if set, holds every open until it is closed; opening hears each as it waits.
	openGate chan struct{}
	opening  chan struct{}
	// opens hears the count of sessions opened, at each open (while it has room).
	opens chan int
}

func newService() *service {
	return &service{started: make(chan string, 64), opening: make(chan struct{}, 64), opens: make(chan int, 64)}
}

func (s *service) counts() (opened, ended int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opened, s.ended
}

func (s *service) open(ctx context.Context, commandLine string) (Channel, error) {
	if s.openGate != nil {
		s.opening <- struct{}{}
		<-s.openGate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.openErr != nil {
		return nil, s.openErr
	}
	if commandLine != "warm-bootstrap" {
		return nil, fmt.Errorf("unexpected command line %q", commandLine)
	}
	s.opened++
	select {
	case s.opens <- s.opened:
	default:
	}
	return &fakeChannel{s: s, dropped: make(chan struct{})}, nil
}

func (s *service) newWarm() (Warm, error) {
	w := &fakeWarm{s: s, broken: make(chan struct{})}
	s.mu.Lock()
	s.warms = append(s.warms, w)
	s.mu.Unlock()
	return w, nil
}

// fakeChannel is a session: Run lasts until its context ends or it is dropped.
type fakeChannel struct {
	s        *service
	dropped  chan struct{}
	endOnce  sync.Once
	dropOnce sync.Once
}

func (c *fakeChannel) Run(ctx context.Context, o session.Options) error {
	if o.OnEOF != session.EOFNothing {
		return errors.New("a warm session must send nothing for end of file")
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-c.dropped:
		return errors.New("dropped")
	}
}

func (c *fakeChannel) End() {
	c.endOnce.Do(func() {
		c.s.mu.Lock()
		c.s.ended++
		c.s.mu.Unlock()
	})
}

// fakeWarm runs commands: "echo WORDS" (stdout), "warn WORDS" (stderr), "cat" (stdin to
// stdout), "exit N", "block NAME" (until the service's gate opens, or an interrupt: 130),
// "break" (the session breaks mid-command: an error and no status).
type fakeWarm struct {
	s         *service
	mu        sync.Mutex
	running   bool
	broken    chan struct{}
	closeOnce sync.Once
}

func (w *fakeWarm) Input() io.Reader                { return strings.NewReader("") }
func (w *fakeWarm) Output() io.Writer               { return io.Discard }
func (w *fakeWarm) Ready(ctx context.Context) error { return nil }
func (w *fakeWarm) Broken() <-chan struct{}         { return w.broken }
func (w *fakeWarm) Close()                          { w.closeOnce.Do(func() {}) }

func (w *fakeWarm) Run(ctx context.Context, req rexec.Request) (int, error) {
	w.mu.Lock()
	if w.running {
		w.mu.Unlock()
		return 0, errors.New("two commands at once on one warm session")
	}
	w.running = true
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.running = false
		w.mu.Unlock()
	}()
	verb, arg, _ := strings.Cut(req.Command, " ")
	switch verb {
	case "echo":
		_, err := io.WriteString(req.Stdout, arg+"\n")
		return 0, err
	case "warn":
		_, err := io.WriteString(req.Stderr, arg+"\n")
		return 1, err
	case "cat":
		_, err := io.Copy(req.Stdout, req.Stdin)
		return 0, err
	case "exit":
		return strconv.Atoi(arg)
	case "block":
		w.s.started <- arg
		select {
		case <-w.s.gate:
			_, err := io.WriteString(req.Stdout, arg+" done\n")
			return 0, err
		case <-ctx.Done(): // as rexec.Warm: the status the remote reports, with ctx's error
			return 130, ctx.Err()
		}
	case "break":
		close(w.broken)
		return 0, errors.New("the session broke")
	}
	return 127, nil
}

// testHolder starts a holder on a fresh directory with svc behind it; it is stopped at the
// end of the test, and the test fails if it left a session open.
func testHolder(t *testing.T, svc *service, idle time.Duration) (*Holder, *Client, <-chan error) {
	t.Helper()
	return testHolderAged(t, svc, idle, 0)
}

// testHolderAged is testHolder whose sessions are replaced after maxAge.
func testHolderAged(t *testing.T, svc *service, idle, maxAge time.Duration) (*Holder, *Client, <-chan error) {
	t.Helper()
	dir := t.TempDir()
	key := Key{Region: "cn-test", InstanceID: "i-test", User: "root"}
	h, err := Listen(dir, Config{Key: key, Idle: idle, MaxAge: maxAge, Open: svc.open, NewWarm: svc.newWarm, CommandLine: "warm-bootstrap",
		Fatal: func(err error) bool { return errors.Is(err, errBadCredentials) }})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		served <- h.Serve(context.Background())
	}()
	t.Cleanup(func() {
		h.Stop(errStopped)
		select {
		case <-finished:
		case <-time.After(30 * time.Second):
			t.Error("the holder did not stop")
		}
		if o, e := svc.counts(); o != e {
			t.Errorf("%d sessions opened, %d ended", o, e)
		}
	})
	return h, &Client{Key: key, Dir: dir}, served
}

var errBadCredentials = errors.New("InvalidAccessKeyId.NotFound")

// run is one Exec with the given stdin, collecting its output.
func run(t *testing.T, c *Client, command, stdin string) (status int, stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	status, err = c.Exec(context.Background(), Request{Command: command, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut})
	return status, out.String(), errOut.String(), err
}
