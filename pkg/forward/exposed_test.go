package forward

import (
	"context"
	"net"
	"strings"
	"testing"
)

// loopbackOnly makes Bind listen on loopback alone: an address that is not loopback (every
// interface, 0.0.0.0, [::]) gets a 127.0.0.1 listener that reports the address asked for (every
// interface as [::], as a dual-stack system reports it), so the test opens nothing to other hosts.
// The e2e tests, in a network namespace with only loopback, bind those addresses for real.
func loopbackOnly(t *testing.T) {
	orig := netListen
	t.Cleanup(func() { netListen = orig })
	netListen = func(network, addr string) (net.Listener, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return orig(network, addr)
		}
		ln, err := orig(network, "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		shown := &net.TCPAddr{IP: net.ParseIP(host), Port: ln.Addr().(*net.TCPAddr).Port}
		if host == "" {
			shown.IP = net.IPv6unspecified
		}
		return &reported{Listener: ln, addr: shown}, nil
	}
}

type reported struct {
	net.Listener
	addr net.Addr
}

func (r *reported) Addr() net.Addr { return r.addr }

// A listener that other hosts can reach (-L 0.0.0.0:…, -L '*:…', -D '*:…', [::], any address
// that is not loopback) is allowed, as ssh allows it, but Bind says so once per listener;
// loopback listeners say nothing.
func TestBindSaysWhenOpenToOtherHosts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		locals   []LocalSpec
		dynamics []DynamicSpec
		open     int // how many listeners are open to other hosts
	}{
		{"loopback", []LocalSpec{{Bind: "127.0.0.1", HostPort: 80}}, []DynamicSpec{{Bind: "127.0.0.1"}}, 0},
		{"localhost", []LocalSpec{{Bind: "localhost", HostPort: 80}}, nil, 0},
		{"ipv6 loopback", []LocalSpec{{Bind: "::1", HostPort: 80}}, nil, 0},
		{"0.0.0.0", []LocalSpec{{Bind: "0.0.0.0", HostPort: 80}}, nil, 1},
		{"every interface -L", []LocalSpec{{Bind: "", HostPort: 80}}, nil, 1},
		{"every interface -D", nil, []DynamicSpec{{Bind: ""}}, 1},
		{"[::]", nil, []DynamicSpec{{Bind: "::"}}, 1},
		{"mixed", []LocalSpec{{Bind: "127.0.0.1", HostPort: 80}, {Bind: "0.0.0.0", HostPort: 81}}, []DynamicSpec{{Bind: ""}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loopbackOnly(t)
			var said []string
			fw := &Forwarder{Notice: func(s string) { said = append(said, s) }}
			lns, err := fw.Bind(context.Background(), tc.locals, tc.dynamics)
			if err != nil {
				if strings.Contains(err.Error(), "cannot listen on [::1]") {
					t.Skipf("no IPv6 here: %v", err)
				}
				t.Fatal(err)
			}
			defer CloseAll(lns)
			if len(said) != tc.open {
				t.Fatalf("Bind said %q, want %d notices", said, tc.open)
			}
			for _, s := range said {
				if !strings.Contains(s, "open to other hosts") {
					t.Errorf("notice %q does not say the port is open to other hosts", s)
				}
			}
		})
	}
}
