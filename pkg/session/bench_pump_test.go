package session

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Benchmarks of whole sessions through Run on loopback, in both schemas: they use only the
// package's exported API, so the same file measures any version of the session loop.

// benchResume is resume mode whose redials always fail (the benchmarks never drop).
func benchResume() *ResumeOptions {
	return &ResumeOptions{Redial: func(context.Context, string) (*websocket.Conn, error) {
		return nil, errors.New("no redial in a benchmark")
	}}
}

// benchServe runs handler on a loopback WebSocket server and dials it.
func benchServe(b *testing.B, handler func(*websocket.Conn)) *websocket.Conn {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{WriteBufferSize: 32 << 10}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		handler(c)
	}))
	b.Cleanup(srv.Close)
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		b.Fatal(err)
	}
	return conn
}

// benchFrame encodes a 1.02 server frame into buf.
func benchFrame(buf []byte, typ MessageType, outSeq, inSeq uint32, payload []byte) []byte {
	msg, _ := AppendFrame(buf[:0], Header{Type: typ, Version: V102, ChannelID: "c-0123456789", InstanceID: "i-emu0demo000000001",
		Created: 1700000000000, OutputSeq: outSeq, InputSeq: inSeq}, payload)
	return msg
}

// BenchmarkOutputPumpResume is BenchmarkOutputPump in schema 1.02 with resume: every frame is
// numbered, checked and counted towards an acknowledgement.
func BenchmarkOutputPumpResume(b *testing.B) {
	n := b.N
	payload := make([]byte, 1024)
	conn := benchServe(b, func(c *websocket.Conn) {
		gone := make(chan struct{})
		go func() { // the client's acknowledgements, until it goes
			defer close(gone)
			for {
				if _, _, err := c.NextReader(); err != nil {
					return
				}
			}
		}()
		var buf []byte
		for i := range n {
			buf = benchFrame(buf, TypeOutput, uint32(i+1), 0, payload)
			if err := c.WriteMessage(websocket.BinaryMessage, buf); err != nil {
				return
			}
		}
		c.WriteMessage(websocket.BinaryMessage, benchFrame(nil, TypeStatus, 0, 0, AppendStatus(nil, StateClosed, "Exit")))
		<-gone
	})
	b.ReportAllocs()
	b.SetBytes(1024)
	b.ResetTimer()
	if err := Run(context.Background(), conn, Options{Stdout: io.Discard, KeepAlive: time.Hour, Resume: benchResume()}); err != nil {
		b.Fatal(err)
	}
}

// chunks is a Stdin that yields n chunks of 1024 bytes, then EOF.
type chunks struct{ n int }

var chunk = make([]byte, 1024)

func (c *chunks) Read(p []byte) (int, error) {
	if c.n == 0 {
		return 0, io.EOF
	}
	c.n--
	return copy(p, chunk), nil
}

// benchInput measures the client's send path: Run reads b.N chunks of 1024 bytes from Stdin and
// the gateway reads them as Input frames (acknowledging them, in 1.02, every 64 frames).
func benchInput(b *testing.B, resume bool) {
	n := b.N
	conn := benchServe(b, func(c *websocket.Conn) {
		var out uint32
		var buf, msg []byte
		if resume { // a numbered output: the client keeps input until acknowledged
			out++
			c.WriteMessage(websocket.BinaryMessage, benchFrame(buf, TypeOutput, out, 0, []byte("$")))
		}
		for got := 0; got < n; {
			_, r, err := c.NextReader()
			if err != nil {
				return
			}
			if msg, err = readAll(r, msg[:0]); err != nil {
				return
			}
			f, err := Decode(msg)
			if err != nil || f.Type != TypeInput || len(f.Payload) == 0 {
				continue
			}
			got++
			if resume && got%64 == 0 {
				out++
				buf = benchFrame(buf, TypeOutput, out, f.InputSeq, []byte("."))
				c.WriteMessage(websocket.BinaryMessage, buf)
			}
		}
		c.WriteMessage(websocket.BinaryMessage, benchFrame(nil, TypeStatus, 0, 0, AppendStatus(nil, StateClosed, "Exit")))
		for { // until the client goes
			if _, _, err := c.NextReader(); err != nil {
				return
			}
		}
	})
	opts := Options{Stdin: &chunks{n: n}, Stdout: io.Discard, KeepAlive: time.Hour, OnEOF: EOFNothing}
	if resume {
		opts.Resume = benchResume()
	}
	b.ReportAllocs()
	b.SetBytes(1024)
	b.ResetTimer()
	if err := Run(context.Background(), conn, opts); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkInputPump(b *testing.B)       { benchInput(b, false) }
func BenchmarkInputPumpResume(b *testing.B) { benchInput(b, true) }
