//go:build unix

package emulator

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ecsterm/ecsterm/pkg/session"
)

// screenBuf is a Stdout that a test can wait on.
type screenBuf struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func newScreenBuf() *screenBuf { return &screenBuf{changed: make(chan struct{}, 1)} }

func (s *screenBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Write(p)
	select {
	case s.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (s *screenBuf) bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.b.Bytes()...)
}

func (s *screenBuf) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(patience)
	for !bytes.Contains(s.bytes(), []byte(want)) {
		select {
		case <-s.changed:
		case <-deadline:
			t.Fatalf("output never contained %q; got %q", want, s.bytes())
		}
	}
}

// resumeClient is session.Run in resume mode against the emulator.
type resumeClient struct {
	out    *screenBuf
	in     *io.PipeWriter
	done   chan struct{}
	err    error
	status chan string
}

// runResume dials wsURL and runs a resumable session; redial, if set, runs before each redial.
func runResume(t *testing.T, wsURL, token string, beforeRedial func()) *resumeClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := session.Dial(ctx, wsURL, session.DialOptions{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	c := &resumeClient{out: newScreenBuf(), in: pw, done: make(chan struct{}), status: make(chan string, 64)}
	ro := &session.ResumeOptions{
		Backoff: time.Millisecond, MaxBackoff: time.Millisecond,
		Redial: func(ctx context.Context, id string) (*websocket.Conn, error) {
			if beforeRedial != nil {
				beforeRedial()
			}
			return session.Dial(ctx, wsURL+"&channelId="+id, session.DialOptions{Token: token})
		},
		OnStatus: func(s string) { c.status <- s },
	}
	go func() {
		defer close(c.done)
		c.err = session.Run(ctx, conn, session.Options{Stdin: pr, Stdout: c.out, OnEOF: session.EOFNothing, Resume: ro})
	}()
	t.Cleanup(func() {
		cancel()
		pw.Close()
		<-c.done
	})
	return c
}

func (c *resumeClient) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-c.done:
		return c.err
	case <-time.After(patience):
		t.Fatal("the session did not end")
	}
	return nil
}

func (c *resumeClient) statuses() []string {
	var all []string
	for {
		select {
		case s := <-c.status:
			all = append(all, s)
		default:
			return all
		}
	}
}

func (c *resumeClient) type_(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(c.in, s); err != nil {
		t.Fatal(err)
	}
}

// A shell survives a cut connection and a gateway restart: the commands typed before and after
// both run, in the same shell.
func TestResumeShell(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(*Emulator)
	}{
		{"cut", (*Emulator).CutConnections},
		{"gateway restart", (*Emulator).RestartGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := testEmulator(t, Options{})
			wsURL, token := startDirect(t, e, idDemo)
			c := runResume(t, wsURL, token, nil)
			c.out.waitFor(t, "~]")
			c.type_(t, "x=same-shell; echo one-$((1+1))\r")
			c.out.waitFor(t, "one-2")
			tc.fault(e)
			c.type_(t, "echo two-$((2+2))-$x\r")
			c.out.waitFor(t, "two-4-same-shell")
			c.type_(t, "exit\r")
			if err := c.wait(t); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := c.statuses(); len(got) != 2 || got[1] != "reconnected" {
				t.Fatalf("statuses %q, want one attempt and reconnected", got)
			}
		})
	}
}

// Output cut in the middle arrives whole: replayed from the gateway's buffer, which holds the
// agent back when it is full.
func TestResumeReplaysOutputExactly(t *testing.T) {
	const size = 3 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = 'a' + byte(rand.IntN(26)) // no newlines: the PTY passes the bytes as they are
	}
	file := filepath.Join(t.TempDir(), "letters")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	e := testEmulator(t, Options{CutAfterBytes: 1 << 20, ReplayLimit: 1 << 20})
	wsURL, token := startDirect(t, e, idDemo, "CommandLine", "cat "+file)
	c := runResume(t, wsURL, token, nil)
	if err := c.wait(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := c.out.bytes(); !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes, want %d identical ones", len(got), len(data))
	}
	if got := c.statuses(); len(got) != 2 || got[1] != "reconnected" {
		t.Fatalf("statuses %q: the connection was not cut and resumed once", got)
	}
}

// A program that ends while its client is away keeps its last output for the client.
func TestResumeCollectsOutputAfterExit(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "go")
	e := testEmulator(t, Options{})
	wsURL, token := startDirect(t, e, idDemo, "CommandLine", `sh -c "echo started; while [ ! -e `+gate+` ]; do sleep 0.01; done; echo finished-\$((3*3))"`)
	chc := make(chan *channel, 1)
	c := runResume(t, wsURL, token, func() {
		ch := <-chc
		// Let the program finish while the client is away, and wait until the gateway has
		// seen it end.
		if err := os.WriteFile(gate, nil, 0o600); err != nil {
			t.Error(err)
		}
		deadline := time.Now().Add(patience)
		for {
			ch.wmu.Lock()
			ended := ch.endReason != ""
			ch.wmu.Unlock()
			if ended || time.Now().After(deadline) {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	c.out.waitFor(t, "started")
	chans := e.channels()
	if len(chans) != 1 {
		t.Fatalf("%d channels", len(chans))
	}
	chc <- chans[0]
	e.CutConnections()
	if err := c.wait(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !strings.Contains(string(c.out.bytes()), "finished-9") {
		t.Fatalf("output %q lacks what the program printed while the client was away", c.out.bytes())
	}
}

func TestResumeRefused(t *testing.T) {
	e := testEmulator(t, Options{DetachTimeout: 50 * time.Millisecond})
	wsURL, token := startDirect(t, e, idDemo)
	refused := func(id string) {
		t.Helper()
		err := dialErr(t, wsURL+"&channelId="+id, token)
		var re *session.RefusedError
		if !errors.As(err, &re) || re.StatusCode != http.StatusNotFound {
			t.Fatalf("resume of %q: %v, want a 404", id, err)
		}
	}
	refused("c-nosuchchannel")

	// A 1.01 client's channel ends with its connection.
	p := dialPeer(t, wsURL, token)
	first := p.firstOutput()
	p.input("echo one-$((1+1))\r") // a 1.01 frame; its echo says the gateway has read it
	p.until("one-2")
	e.CutConnections()
	refused(first.channelID)

	// A 1.02 channel outlives its connection by DetachTimeout, and no more.
	wsURL, token = startDirect(t, e, idDemo)
	c := runResume(t, wsURL, token, func() { time.Sleep(200 * time.Millisecond) })
	c.out.waitFor(t, "~]")
	chans := e.channels()
	e.CutConnections()
	err := c.wait(t)
	if !errors.Is(err, session.ErrConnectionLost) || !strings.Contains(err.Error(), "404") {
		t.Fatalf("Run after the detach timeout: %v, want a give-up on a 404", err)
	}
	for _, ch := range chans {
		if !ch.isDone() {
			t.Fatalf("channel %s still up after its detach timeout", ch.id)
		}
	}
}

// Gateway down: every redial is refused with 503, and the client gives up after its attempts.
func TestResumeGatewayDown(t *testing.T) {
	e := testEmulator(t, Options{})
	wsURL, token := startDirect(t, e, idDemo)
	c := runResume(t, wsURL, token, nil)
	c.out.waitFor(t, "~]")
	e.SetGatewayDown(true)
	e.RestartGateway()
	err := c.wait(t)
	if !errors.Is(err, session.ErrConnectionLost) || !strings.Contains(err.Error(), "gave up") || !strings.Contains(err.Error(), "503") {
		t.Fatalf("Run: %v", err)
	}
	if got := c.statuses(); len(got) != session.DefaultResumeAttempts+1 {
		t.Fatalf("%d status lines, want one per attempt and the give-up: %q", len(got), got)
	}
}
