package forward

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
)

// fakeResolver answers from a table, so that no test depends on this machine's DNS.
type fakeResolver map[string]string

func (r fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	ip, ok := r[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []net.IPAddr{{IP: net.ParseIP(ip)}}, nil
}

func startSOCKS(t *testing.T, g *gateway) *running {
	t.Helper()
	rep := newReports()
	fw := &Forwarder{Open: g.open, Report: rep.add, Resolver: fakeResolver{"svc.internal": "10.0.0.7", "me.internal": "127.0.0.1"}}
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fw.ServeSOCKS(ctx, ln) }()
	var once sync.Once
	stop := func() error {
		once.Do(func() { cancel(); <-done })
		return nil
	}
	t.Cleanup(func() { _ = stop() })
	return &running{fw: fw, addr: ln.Addr().String(), rep: rep, stop: stop}
}

// socksRequest builds a CONNECT (or another command) request after the no-auth greeting.
func socksConnect(cmd byte, atyp byte, addr []byte, port int) []byte {
	b := []byte{5, 1, 0, 5, cmd, 0, atyp}
	if atyp == 3 {
		b = append(b, byte(len(addr)))
	}
	b = append(b, addr...)
	return binary.BigEndian.AppendUint16(b, uint16(port))
}

// socksReplyCode reads the method answer and the whole reply (with its IPv4 bound address), and
// returns the reply code.
func socksReplyCode(t *testing.T, c net.Conn) byte {
	t.Helper()
	var b [12]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		t.Fatalf("reading the SOCKS replies: %v", err)
	}
	if b[0] != 5 || b[1] != 0 || b[2] != 5 {
		t.Fatalf("SOCKS replies % x", b)
	}
	return b[3]
}

func TestSOCKSConnect(t *testing.T) {
	g := newGateway(t)
	port := serveTarget(t, echo)
	r := startSOCKS(t, g)
	tests := []struct {
		name     string
		atyp     byte
		addr     []byte
		wantHost string
	}{
		{"IPv4 loopback is the instance", 1, net.ParseIP("127.0.0.1").To4(), ""},
		{"IPv4 in the VPC", 1, net.ParseIP("10.0.0.9").To4(), "10.0.0.9"},
		{"IPv6", 4, net.ParseIP("fd00::7"), "fd00::7"},
		{"name resolved here", 3, []byte("svc.internal"), "10.0.0.7"},
		{"name for loopback", 3, []byte("me.internal"), ""},
		{"IP sent as a name", 3, []byte("10.0.0.8"), "10.0.0.8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, r.addr)
			// The request and the first data in one write: nothing behind the request may be lost.
			if _, err := c.Write(append(socksConnect(1, tt.atyp, tt.addr, port), "hello"...)); err != nil {
				t.Fatal(err)
			}
			if code := socksReplyCode(t, c); code != 0 {
				t.Fatalf("reply code %d, want 0", code)
			}
			got := make([]byte, 5)
			if _, err := io.ReadFull(c, got); err != nil || string(got) != "hello" {
				t.Fatalf("echo %q, %v", got, err)
			}
			roundTrip(t, c, 64<<10)
			hosts := g.asked()
			if h := hosts[len(hosts)-1]; h != tt.wantHost {
				t.Errorf("opened host %q, want %q", h, tt.wantHost)
			}
		})
	}
}

func TestSOCKSRefusals(t *testing.T) {
	g := newGateway(t)
	r := startSOCKS(t, g)
	tests := []struct {
		name     string
		req      []byte
		refuse   bool
		wantCode byte
		wantMsg  string
	}{
		{"unresolvable name", socksConnect(1, 3, []byte("no-such-host.invalid"), 80), false, 0x04, "no-such-host.invalid"},
		{"BIND", socksConnect(2, 1, []byte{127, 0, 0, 1}, 80), false, 0x07, "CONNECT only"},
		{"UDP ASSOCIATE", socksConnect(3, 1, []byte{127, 0, 0, 1}, 80), false, 0x07, "CONNECT only"},
		{"session refused", socksConnect(1, 1, []byte{127, 0, 0, 1}, 80), true, 0x05, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g.refuse.Store(tt.refuse)
			c := dial(t, r.addr)
			if _, err := c.Write(tt.req); err != nil {
				t.Fatal(err)
			}
			if code := socksReplyCode(t, c); code != tt.wantCode {
				t.Errorf("reply code %#x, want %#x", code, tt.wantCode)
			}
			if err := r.rep.wait(t); !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("report %q, want it to mention %q", err, tt.wantMsg)
			}
		})
	}
	t.Run("address type", func(t *testing.T) {
		c := dial(t, r.addr)
		if _, err := c.Write([]byte{5, 1, 0, 5, 1, 0, 9}); err != nil {
			t.Fatal(err)
		}
		if code := socksReplyCode(t, c); code != 0x08 {
			t.Errorf("reply code %#x, want 8", code)
		}
		r.rep.wait(t)
	})
	t.Run("no acceptable method", func(t *testing.T) {
		c := dial(t, r.addr)
		if _, err := c.Write([]byte{5, 1, 2}); err != nil { // username/password only
			t.Fatal(err)
		}
		b, _ := io.ReadAll(c)
		if !bytes.Equal(b, []byte{5, 0xff}) {
			t.Errorf("answer % x, want 05 ff then close", b)
		}
		r.rep.wait(t)
	})
	t.Run("not SOCKS5", func(t *testing.T) {
		c := dial(t, r.addr)
		if _, err := c.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(c); len(b) != 0 {
			t.Errorf("answered %q to a non-SOCKS client", b)
		}
		if err := r.rep.wait(t); !strings.Contains(err.Error(), "not a SOCKS5 client") {
			t.Errorf("report %v", err)
		}
	})
}

// TestSOCKSParserNeverPanics feeds truncated and garbled handshakes straight to the parser.
func TestSOCKSParserNeverPanics(t *testing.T) {
	full := socksConnect(1, 3, []byte("svc.internal"), 443)
	for i := range len(full) {
		rw := &struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(full[:i]), io.Discard}
		if _, err := readSOCKSRequest(rw); err == nil {
			t.Errorf("truncated after %d bytes: no error", i)
		}
	}
	req, err := readSOCKSRequest(&struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(full), io.Discard})
	if err != nil || req.host != "svc.internal" || req.port != 443 || req.code != 0 {
		t.Errorf("full request = %+v, %v", req, err)
	}
}

func FuzzSOCKSRequest(f *testing.F) {
	f.Add(socksConnect(1, 3, []byte("svc.internal"), 443))
	f.Add(socksConnect(1, 4, net.ParseIP("::1"), 22))
	f.Add([]byte{5, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = readSOCKSRequest(&struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(b), io.Discard})
	})
}
