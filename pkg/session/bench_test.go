package session

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func BenchmarkAppendFrame(b *testing.B) {
	payload := make([]byte, 1024)
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		buf, _ = AppendFrame(buf[:0], Header{Type: TypeInput, Created: 1700000000000, Seq: 7}, payload)
	}
}

func BenchmarkDecode(b *testing.B) {
	msg, _ := AppendFrame(nil, Header{Type: TypeOutput, ChannelID: "c-0123456789", InstanceID: "i-emu0demo000000001", Created: 1700000000000}, make([]byte, 1024))
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := Decode(msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOutputPump measures the client's receive path: a gateway on loopback sends b.N
// output frames of 1024 bytes (the agent's shell frame size) and Run writes them to a discard
// writer. allocs/op is per frame.
func BenchmarkOutputPump(b *testing.B) {
	frame, _ := AppendFrame(nil, Header{Type: TypeOutput, ChannelID: "c-0123456789", InstanceID: "i-emu0demo000000001", Created: 1700000000000}, make([]byte, 1024))
	closed, _ := AppendFrame(nil, Header{Type: TypeStatus, Created: 1700000000000}, AppendStatus(nil, StateClosed, "Exit"))
	n := b.N
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{WriteBufferSize: 32 << 10}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for range n {
			if err := c.WriteMessage(websocket.BinaryMessage, frame); err != nil {
				return
			}
		}
		c.WriteMessage(websocket.BinaryMessage, closed)
		c.ReadMessage() // until the client goes
	}))
	defer srv.Close()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(1024)
	b.ResetTimer()
	if err := Run(context.Background(), conn, Options{Stdout: io.Discard, KeepAlive: time.Hour}); err != nil {
		b.Fatal(err)
	}
}
