//go:build unix

package emulator

import (
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ecsterm/ecsterm/pkg/session"
)

const idLegacy = "i-emu0legacy0000007"

// portTarget listens on loopback; each connection gets "ready\n", then an echo. Cleanup closes
// everything and waits, so no goroutine outlives the test.
func portTarget(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				if _, err := io.WriteString(c, "ready\n"); err == nil {
					_, _ = io.Copy(c, c)
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestStreamRatePolicesInput: the rate is announced first, and a client that ignores it is cut
// off with FlowExceedLimit (the negative control for the e2e test that a pacing client is not).
func TestStreamRatePolicesInput(t *testing.T) {
	e := testEmulator(t, Options{StreamRate: 800_000})
	wsURL, token := startDirect(t, e, idDemo, "PortNumber", strconv.Itoa(portTarget(t)))
	p := dialPeer(t, wsURL, token)
	if st := p.status(); st.State != session.StateStream || st.Rate != 800_000 {
		t.Fatalf("first status %+v, want Stream 800000", st)
	}
	p.until("ready\n")
	chunk := []byte(strings.Repeat("x", 1024))
	for i := range 200 { // 200 KiB at once: twice what the bucket holds
		msg, _ := session.AppendFrame(nil, session.Header{Type: session.TypeInput, Created: uint64(time.Now().UnixMilli()), Seq: int64(i)}, chunk)
		if p.conn.WriteMessage(websocket.BinaryMessage, msg) != nil {
			break // cut off already
		}
	}
	st := p.status()
	if st.State != session.StateClosed || st.Reason != "FlowExceedLimit" {
		t.Fatalf("status %+v after a burst beyond the rate, want Closed FlowExceedLimit", st)
	}
}

// TestPortEarlyInput: on a port session, input that arrives before the agent's TCP connection is
// held by agents later than 2.2.3.578 and dropped by older ones.
func TestPortEarlyInput(t *testing.T) {
	e := testEmulator(t, Options{AgentStartDelay: 200 * time.Millisecond})
	port := strconv.Itoa(portTarget(t))
	t.Run("newer agent holds it", func(t *testing.T) {
		wsURL, token := startDirect(t, e, idDemo, "PortNumber", port)
		p := dialPeer(t, wsURL, token)
		p.input("early")
		p.until("ready\nearly")
	})
	t.Run("older agent drops it", func(t *testing.T) {
		wsURL, token := startDirect(t, e, idLegacy, "PortNumber", port)
		p := dialPeer(t, wsURL, token)
		p.input("early")
		p.until("ready\n")
		p.input("late")
		p.until("late")
		if got := p.output(); got != "ready\nlate" {
			t.Errorf("output %q, want the early input dropped", got)
		}
	})
}

func TestAgentAfter(t *testing.T) {
	for v, want := range map[string]bool{"2.2.3.578": false, "2.2.3.579": true, "2.2.3.1032": true, "2.2.3.400": false,
		"2.3.0.0": true, "2.2.3": false, "": false, "x.2.3.4": false, "2.2.3.578.1": true} {
		if got := agentAfter(&Agent{Version: v}, queuingAgent); got != want {
			t.Errorf("agentAfter(%q) = %v, want %v", v, got, want)
		}
	}
	if agentAfter(nil, queuingAgent) {
		t.Error("no agent is not later than anything")
	}
}
