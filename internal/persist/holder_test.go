package persist

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCommandsInARowShareOneSession(t *testing.T) {
	svc := newService()
	_, c, _ := testHolder(t, svc, time.Minute)
	for i, tc := range []struct {
		command, stdin string
		status         int
		stdout, stderr string
	}{
		{"echo hello", "", 0, "hello\n", ""},
		{"warn oops", "", 1, "", "oops\n"},
		{"exit 42", "", 42, "", ""},
		{"cat", "a\x00b\r\n\x1e\xff", 0, "a\x00b\r\n\x1e\xff", ""},
		{"nosuch", "", 127, "", ""},
	} {
		st, out, errOut, err := run(t, c, tc.command, tc.stdin)
		if err != nil || st != tc.status || out != tc.stdout || errOut != tc.stderr {
			t.Errorf("%d: %q: got %d %q %q %v, want %d %q %q", i, tc.command, st, out, errOut, err, tc.status, tc.stdout, tc.stderr)
		}
	}
	if o, _ := svc.counts(); o != 1 {
		t.Errorf("five commands opened %d sessions, want 1", o)
	}
}

func TestStdinIsByteExact(t *testing.T) {
	svc := newService()
	_, c, _ := testHolder(t, svc, time.Minute)
	in := make([]byte, 300<<10) // several frames
	for i := range in {
		in[i] = byte(i * 7)
	}
	var out bytes.Buffer
	st, err := c.Exec(context.Background(), Request{Command: "cat", Stdin: bytes.NewReader(in), Stdout: &out})
	if err != nil || st != 0 || !bytes.Equal(out.Bytes(), in) {
		t.Fatalf("status %d, err %v, %d bytes back of %d, equal %v", st, err, out.Len(), len(in), bytes.Equal(out.Bytes(), in))
	}
}

// Commands that arrive together get sessions up to the limit; those beyond it, finding none
// free within an open's time, are told to go cold.
func TestCommandsTogetherGrowToTheLimit(t *testing.T) {
	svc := newService()
	svc.gate = make(chan struct{})
	_, c, _ := testHolder(t, svc, time.Minute)
	const n = DefaultMax + 3
	type res struct {
		st  int
		out string
		err error
	}
	results := make(chan res, n)
	for i := range n {
		go func() {
			var out bytes.Buffer
			st, err := c.Exec(context.Background(), Request{Command: "block " + string(rune('a'+i)), Stdout: &out})
			results <- res{st, out.String(), err}
		}()
	}
	for range DefaultMax {
		<-svc.started
	}
	cold := 0
	for range n - DefaultMax {
		r := <-results
		if !errors.Is(r.err, ErrCold) {
			t.Fatalf("a command beyond the limit: %d %q %v, want ErrCold", r.st, r.out, r.err)
		}
		cold++
	}
	close(svc.gate)
	for range DefaultMax {
		r := <-results
		if r.err != nil || r.st != 0 || !strings.HasSuffix(r.out, " done\n") {
			t.Errorf("a warm command: %d %q %v", r.st, r.out, r.err)
		}
	}
	if o, _ := svc.counts(); o != DefaultMax {
		t.Errorf("%d sessions opened, want %d", o, DefaultMax)
	}
}

// An interrupt stops its own command; another running beside it finishes, and the
// interrupted one's session serves the next command.
func TestInterruptStopsOnlyItsCommand(t *testing.T) {
	svc := newService()
	svc.gate = make(chan struct{})
	_, c, _ := testHolder(t, svc, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	interrupted := make(chan error, 1)
	go func() {
		_, err := c.Exec(ctx, Request{Command: "block victim"})
		interrupted <- err
	}()
	<-svc.started
	other := make(chan string, 1)
	go func() {
		var out bytes.Buffer
		_, err := c.Exec(context.Background(), Request{Command: "block other", Stdout: &out})
		other <- out.String() + errString(err)
	}()
	<-svc.started
	cancel()
	if err := <-interrupted; !errors.Is(err, context.Canceled) {
		t.Errorf("interrupted command: %v, want context.Canceled", err)
	}
	close(svc.gate)
	if got := <-other; got != "other done\n" {
		t.Errorf("the other command: %q", got)
	}
	if st, out, _, err := run(t, c, "echo again", ""); err != nil || st != 0 || out != "again\n" {
		t.Errorf("after the interrupt: %d %q %v", st, out, err)
	}
	if o, e := svc.counts(); o != 2 || e != 0 {
		t.Errorf("%d sessions opened and %d ended, want 2 and none: an interrupt leaves its warm session usable", o, e)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// A session that breaks under a command is dropped (and ended); the next command gets a new one.
func TestBrokenSessionIsReplaced(t *testing.T) {
	svc := newService()
	_, c, _ := testHolder(t, svc, time.Minute)
	if _, _, _, err := run(t, c, "break", ""); err == nil || errors.Is(err, ErrCold) {
		t.Fatalf("a command whose session broke: %v, want an error that is not ErrCold", err)
	}
	if st, out, _, err := run(t, c, "echo next", ""); err != nil || st != 0 || out != "next\n" {
		t.Fatalf("next command: %d %q %v", st, out, err)
	}
	if o, _ := svc.counts(); o != 2 {
		t.Errorf("%d sessions opened, want 2", o)
	}
}

func TestStopEndsEverySession(t *testing.T) {
	svc := newService()
	svc.gate = make(chan struct{})
	h, c, served := testHolder(t, svc, time.Minute)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, name := range []string{"x", "y"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Exec(context.Background(), Request{Command: "block " + name})
			errs <- err
		}()
	}
	<-svc.started
	<-svc.started
	infos, err := List(c.Dir)
	if err != nil || len(infos) != 1 || infos[0].Sessions != 2 || infos[0].Running != 2 || infos[0].InstanceID != "i-test" {
		t.Fatalf("List: %+v %v", infos, err)
	}
	if err := Stop(h.Socket()); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	wg.Wait()
	for range 2 {
		if err := <-errs; err == nil || errors.Is(err, ErrCold) {
			t.Errorf("a command running at the stop: %v, want an error", err)
		}
	}
	if o, e := svc.counts(); o != 2 || e != 2 {
		t.Errorf("%d opened, %d ended; want 2 and 2", o, e)
	}
	if infos, err := List(c.Dir); err != nil || len(infos) != 0 {
		t.Errorf("List after the stop: %+v %v", infos, err)
	}
}

func TestIdleHolderExits(t *testing.T) {
	svc := newService()
	_, c, served := testHolder(t, svc, 20*time.Millisecond)
	if st, _, _, err := run(t, c, "exit 3", ""); err != nil || st != 3 {
		t.Fatalf("%d %v", st, err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the idle holder did not exit")
	}
	if o, e := svc.counts(); o != e || o == 0 {
		t.Errorf("%d opened, %d ended", o, e)
	}
}

func TestCredentialFailureEndsTheHolder(t *testing.T) {
	svc := newService()
	svc.openErr = errBadCredentials
	_, c, served := testHolder(t, svc, time.Minute)
	if _, _, _, err := run(t, c, "echo x", ""); !errors.Is(err, ErrCold) {
		t.Errorf("a command when sessions cannot open: %v, want ErrCold (the cold path explains)", err)
	}
	select {
	case err := <-served:
		if !errors.Is(err, errBadCredentials) {
			t.Errorf("Serve: %v, want the credential error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the holder did not exit when its credentials failed")
	}
}

func TestOneHolderPerKey(t *testing.T) {
	svc := newService()
	h, _, _ := testHolder(t, svc, time.Minute)
	dir := strings.TrimSuffix(h.Socket(), "/"+Key{Region: "cn-test", InstanceID: "i-test", User: "root"}.name()+sockSuffix)
	if _, err := Listen(dir, Config{Key: Key{Region: "cn-test", InstanceID: "i-test", User: "root"}}); !errors.Is(err, ErrRunning) {
		t.Errorf("a second holder for the same key: %v, want ErrRunning", err)
	}
}

// endless is stdin that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) { return len(p), nil }

// An interrupt reaches a command that does not read its stdin while more stdin waits: it
// travels apart from the stdin stream, which is backed up.
func TestInterruptPassesBackedUpStdin(t *testing.T) {
	svc := newService()
	svc.gate = make(chan struct{})
	defer close(svc.gate)
	_, c, _ := testHolder(t, svc, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Exec(ctx, Request{Command: "block deaf", Stdin: endless{}})
		done <- err
	}()
	<-svc.started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("%v, want context.Canceled", err)
	}
	if st, out, _, err := run(t, c, "echo next", ""); err != nil || st != 0 || out != "next\n" {
		t.Errorf("next command: %d %q %v", st, out, err)
	}
	if o, _ := svc.counts(); o != 1 {
		t.Errorf("%d sessions opened, want 1: the interrupted command's session serves the next", o)
	}
}

// A command waiting for a session that then fails to open is told at once to go cold, with
// the reason, rather than after waiting as for a busy one.
func TestFailedOpenSendsTheWaiterCold(t *testing.T) {
	svc := newService()
	svc.openErr = errors.New("InternalError.Dispatch")
	svc.openGate = make(chan struct{})
	_, c, _ := testHolder(t, svc, time.Minute)
	<-svc.opening // the holder's first session
	done := make(chan error, 1)
	go func() {
		_, _, _, err := run(t, c, "echo x", "")
		done <- err
	}()
	// The command is waiting for that session (it opens no other while one is opening); let
	// the open fail.
	eventuallyWaiting(t, c)
	close(svc.openGate)
	if err := <-done; !errors.Is(err, ErrCold) || !strings.Contains(err.Error(), "InternalError.Dispatch") {
		t.Errorf("%v, want ErrCold with the open's error", err)
	}
}

// eventuallyWaiting waits until a command waits in the holder for a session (ls shows no
// running command until it has one, so the holder's count is read directly).
func eventuallyWaiting(t *testing.T, c *Client) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		infos, err := List(c.Dir)
		if err == nil && len(infos) == 1 && infos[0].Waiting > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no command waits: %+v %v", infos, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// A session past its age is replaced by a new one, before the agent's limit would end it; the
// old one is ended, and commands go on.
func TestOldSessionIsReplaced(t *testing.T) {
	svc := newService()
	_, c, _ := testHolderAged(t, svc, time.Minute, 20*time.Millisecond)
	for n := range 3 { // the first session, and two that replaced an old one
		if got := <-svc.opens; got != n+1 {
			t.Fatalf("open %d: %d", n+1, got)
		}
	}
	if _, e := svc.counts(); e < 2 {
		t.Errorf("%d sessions ended after two were replaced", e)
	}
	if st, out, _, err := run(t, c, "echo still", ""); err != nil || st != 0 || out != "still\n" {
		t.Errorf("%d %q %v", st, out, err)
	}
}
