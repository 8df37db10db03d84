package attach

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/emulator"
	"github.com/ecsterm/ecsterm/pkg/forward"
	"github.com/ecsterm/ecsterm/pkg/session"
)

// These tests drive Ports against a real in-process emulator over loopback.
const (
	idDemo    = "i-emu0demo000000001"
	idStopped = "i-emu0stopped000002"
	idLegacy  = "i-emu0legacy0000007"
)

func testEmulator(t *testing.T, opts emulator.Options) (*emulator.Emulator, *cloud.Client) {
	t.Helper()
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	t.Setenv("DEBUG", "")
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"} {
		t.Setenv(k, "")
	}
	e, err := emulator.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	cred := e.Credential()
	c, err := cloud.New(cloud.Config{Region: e.Region(), Endpoint: e.Endpoint(), AccessKeyID: cred.AccessKeyID, AccessKeySecret: cred.AccessKeySecret, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return e, c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// bannerServer writes a line to every connection, then echoes; it returns its port.
func bannerServer(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				if _, err := io.WriteString(c, "hello\n"); err == nil {
					_, _ = io.Copy(c, c)
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// use runs a stream until its banner arrives (so the gateway counts it as connected) and
// returns a function that ends it.
func use(t *testing.T, st *forward.Stream) (end func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan struct{})
	var once sync.Once
	out := writerFunc(func(p []byte) (int, error) { once.Do(func() { close(got) }); return len(p), nil })
	done := make(chan error, 1)
	pr, pw := io.Pipe()
	go func() {
		done <- session.Run(ctx, st.Conn, session.Options{Stdin: pr, Stdout: out, OnEOF: session.EOFClose})
	}()
	select {
	case <-got:
	case err := <-done:
		t.Fatalf("session ended before its banner: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no banner")
	}
	return func() {
		cancel()
		<-done
		pw.Close()
		st.Release()
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestPortsReuseOneSessionForManyConnections(t *testing.T) {
	e, c := testEmulator(t, emulator.Options{})
	port := bannerServer(t)
	ports := New(Config{API: c}).newPorts(testCtx(t), PortOptions{InstanceID: idDemo})
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ends []func()
	)
	for range 4 { // at once: they share one StartTerminalSession call
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := ports.Open(testCtx(t), "", port)
			if err != nil {
				t.Error(err)
				return
			}
			end := use(t, st)
			mu.Lock()
			ends = append(ends, end)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if n := e.Calls("StartTerminalSession"); n != 1 {
		t.Errorf("%d StartTerminalSession calls for 4 connections, want 1", n)
	}
	for _, end := range ends {
		end()
	}
	if n := e.Calls("EndTerminalSession"); n != 0 {
		t.Errorf("a young session was ended when its connections closed (%d calls)", n)
	}
	ports.Close()
	if n := e.Calls("EndTerminalSession"); n != 1 {
		t.Errorf("%d EndTerminalSession calls after Close, want 1", n)
	}
}

// TestPortsNewSessionPastReuseAge: past the reuse age a connection gets a new session, and the
// old one ends with its last connection.
func TestPortsNewSessionPastReuseAge(t *testing.T) {
	e, c := testEmulator(t, emulator.Options{})
	port := bannerServer(t)
	ports := New(Config{API: c}).newPorts(testCtx(t), PortOptions{InstanceID: idDemo, Reuse: time.Nanosecond})
	defer ports.Close()
	for i := 1; i <= 2; i++ {
		st, err := ports.Open(testCtx(t), "", port)
		if err != nil {
			t.Fatal(err)
		}
		use(t, st)()
		if n := e.Calls("StartTerminalSession"); n != i {
			t.Errorf("after connection %d: %d StartTerminalSession calls, want %d", i, n, i)
		}
		if n := e.Calls("EndTerminalSession"); n != i {
			t.Errorf("after connection %d: %d EndTerminalSession calls, want %d (ended with its last connection)", i, n, i)
		}
	}
}

// TestPortsExpiredURLIsReplaced: a URL the gateway refuses as expired is replaced, once.
func TestPortsExpiredURLIsReplaced(t *testing.T) {
	var skew atomic.Int64
	e, c := testEmulator(t, emulator.Options{URLTTL: time.Minute, Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	port := bannerServer(t)
	ports := New(Config{API: c}).newPorts(testCtx(t), PortOptions{InstanceID: idDemo})
	defer ports.Close()
	st, err := ports.Open(testCtx(t), "", port)
	if err != nil {
		t.Fatal(err)
	}
	use(t, st)()
	skew.Store(int64(2 * time.Minute)) // the emulator's clock is past the URL's life; ours is not
	st, err = ports.Open(testCtx(t), "", port)
	if err != nil {
		t.Fatalf("Open after the URL expired: %v", err)
	}
	use(t, st)()
	if n := e.Calls("StartTerminalSession"); n != 2 {
		t.Errorf("%d StartTerminalSession calls, want 2 (the expired URL replaced)", n)
	}
}

func TestPortsConnectedSessionLimit(t *testing.T) {
	_, c := testEmulator(t, emulator.Options{SessionsPerInstance: 1})
	port := bannerServer(t)
	ports := New(Config{API: c}).newPorts(testCtx(t), PortOptions{InstanceID: idDemo})
	defer ports.Close()
	st, err := ports.Open(testCtx(t), "", port)
	if err != nil {
		t.Fatal(err)
	}
	end := use(t, st)
	_, err = ports.Open(testCtx(t), "", port)
	var le *LimitError
	if !errors.As(err, &le) || le.Region || !errors.Is(err, forward.ErrRefused) ||
		!strings.Contains(err.Error(), "connection refused: the instance has reached its limit of connected sessions") {
		t.Errorf("second connection: %v; want the instance's limit, as a refusal", err)
	}
	end()
}

func TestPortsPreflightExplains(t *testing.T) {
	_, c := testEmulator(t, emulator.Options{})
	ports := New(Config{API: c}).newPorts(testCtx(t), PortOptions{InstanceID: idStopped})
	defer ports.Close()
	_, err := ports.Open(testCtx(t), "", 22)
	var nr *cloud.NotReadyError
	if !errors.As(err, &nr) || !strings.Contains(err.Error(), "Stopped") {
		t.Errorf("Open on a stopped instance: %v; want preflight's explanation", err)
	}
}

func TestHoldForAgentVersions(t *testing.T) {
	_, c := testEmulator(t, emulator.Options{})
	for id, want := range map[string]time.Duration{idDemo: 0, idLegacy: earlyInputHold} {
		inst, err := New(Config{API: c}).newPorts(testCtx(t), PortOptions{InstanceID: id}).Ready(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if got := HoldFor(inst); got != want {
			t.Errorf("%s (agent %s): hold %v, want %v", id, inst.AgentVersion, got, want)
		}
	}
	for v, want := range map[string]time.Duration{
		"2.2.3.578": earlyInputHold, "2.2.3.579": 0, "2.2.4.1": 0, "2.3.0.0": 0, "10.0.0.0": 0,
		"2.2.3.578.1": 0, "2.2.3": earlyInputHold, "": earlyInputHold, "junk": earlyInputHold, "2.2.3.x": earlyInputHold,
	} {
		if got := HoldFor(&cloud.Instance{OSType: "linux", AgentVersion: v}); got != want {
			t.Errorf("agent %q: hold %v, want %v", v, got, want)
		}
	}
	if got := HoldFor(&cloud.Instance{OSType: "windows", AgentVersion: "2.1.3.900"}); got != earlyInputHold {
		t.Errorf("Windows agent: hold %v, want the safe %v", got, earlyInputHold)
	}
}
