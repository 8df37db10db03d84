package session

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// handshake is what a loopback server saw of one upgrade request.
type handshake struct {
	header http.Header
	query  url.Values
}

// upgradeServer accepts WebSockets on 127.0.0.1, reports each request, and keeps the connection
// until the client closes it.
func upgradeServer(t *testing.T) (wsURL string, seen <-chan handshake) {
	t.Helper()
	ch := make(chan handshake, 1)
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		ch <- handshake{header: r.Header.Clone(), query: r.URL.Query()}
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http"), ch
}

func TestDialLoopback(t *testing.T) {
	for _, tc := range []struct {
		name, token string
	}{
		{"token in header", "tok-7f3a"},
		{"empty header like the official client", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, seen := upgradeServer(t)
			// The lower-case key is fixed up to sessionId (docs/protocol.md, Opening the
			// WebSocket).
			conn, err := Dial(context.Background(), base+"/session?sessionid=s-abc&token=q-tok", DialOptions{Token: tc.token})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var hs handshake
			select {
			case hs = <-seen:
			case <-time.After(patience):
				t.Fatal("the server saw no upgrade")
			}
			vals, ok := hs.header["X-Acs-Session-Token"]
			if !ok || len(vals) != 1 || vals[0] != tc.token {
				t.Fatalf("X-Acs-Session-Token = %q (present %v), want %q", vals, ok, tc.token)
			}
			if got := hs.query.Get("sessionId"); got != "s-abc" {
				t.Fatalf("sessionId = %q, want s-abc (query %v)", got, hs.query)
			}
			if got := hs.query.Get("token"); got != "q-tok" {
				t.Fatalf("token = %q, want the URL's token unchanged", got)
			}
		})
	}
}

func TestDialRefusesWithoutNetwork(t *testing.T) {
	for _, tc := range []struct {
		url, mentions string
	}{
		// example.invalid never resolves: an error that is not about DNS shows no lookup happened.
		{"ws://example.invalid/session?sessionId=s-1&token=tok-secret", "loopback"},
		{"ws://10.0.0.1:8080/session?token=tok-secret", "loopback"},
		{"ws://127.0.0.1.example.invalid/session?token=tok-secret", "loopback"},
		{"http://127.0.0.1/session?token=tok-secret", "scheme"},
		{"ftp://example.invalid/session?token=tok-secret", "scheme"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			conn, err := Dial(ctx, tc.url, DialOptions{Token: "tok-secret"})
			if err == nil {
				conn.Close()
				t.Fatal("Dial succeeded")
			}
			var dnsErr *net.DNSError
			if errors.As(err, &dnsErr) || !strings.Contains(err.Error(), tc.mentions) {
				t.Fatalf("error %q, want a refusal mentioning %q before any lookup", err, tc.mentions)
			}
			if strings.Contains(err.Error(), "tok-secret") {
				t.Fatalf("error %q reveals the token", err)
			}
		})
	}
}

func TestDialRefusalHidesToken(t *testing.T) {
	const secret = "d86c2df2-5b1e-4c1a-9a5e-2f0c0ffee000"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A gateway that echoes what it got, credential included.
		http.Error(w, "token "+r.URL.Query().Get("token")+r.Header.Get("X-Acs-Session-Token")+" is not valid", http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	base := "ws" + strings.TrimPrefix(srv.URL, "http") + "/session?sessionId=s-1"
	for _, tc := range []struct {
		name, url, token string
	}{
		{"header token", base, secret},
		{"url token only", base + "&token=" + secret, ""},
		{"both", base + "&token=" + secret, secret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := Dial(context.Background(), tc.url, DialOptions{Token: tc.token})
			if err == nil {
				conn.Close()
				t.Fatal("Dial succeeded against a 403")
			}
			msg := err.Error()
			if !strings.Contains(msg, "403") || !strings.Contains(msg, "not valid") {
				t.Fatalf("error %q, want the status and the server's explanation", msg)
			}
			if strings.Contains(msg, secret) {
				t.Fatalf("error %q reveals the token", msg)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct {
		in       string
		keep     []string
		hide     []string
		keepsKey string
	}{
		{
			in:   "wss://cn-hangzhou.axt.aliyuncs.com/session?sessionId=s-hz023od0x9&token=d86c2df2-aaaa",
			keep: []string{"cn-hangzhou.axt.aliyuncs.com", "/session", "sessionId=s-hz023od0x9", "token="},
			hide: []string{"d86c2df2-aaaa"},
		},
		{
			in:   "wss://h/session?Token=AAA&SecurityToken=BBB&x-acs-session-token=CCC&sessionId=s-1",
			keep: []string{"sessionId=s-1"},
			hide: []string{"AAA", "BBB", "CCC"},
		},
		{
			in:   "wss://user:pw-secret@h/session?sessionId=s-2&token=t1&token=t2",
			keep: []string{"sessionId=s-2"},
			hide: []string{"pw-secret", "t1", "t2"},
		},
		{in: "ws://127.0.0.1:1/%zz?token=abc", hide: []string{"abc"}},
	} {
		got := RedactURL(tc.in)
		for _, s := range tc.keep {
			if !strings.Contains(got, s) {
				t.Errorf("RedactURL(%q) = %q, lost %q", tc.in, got, s)
			}
		}
		for _, s := range tc.hide {
			if strings.Contains(got, s) {
				t.Errorf("RedactURL(%q) = %q, still shows %q", tc.in, got, s)
			}
		}
	}
}

func TestFixURL(t *testing.T) {
	got := FixURL("wss://h/session?sessionid=s-1&token=t&next=sessionid")
	if want := "wss://h/session?sessionId=s-1&token=t&next=sessionid"; got != want {
		t.Fatalf("FixURL = %q, want %q (first occurrence only)", got, want)
	}
	if u := "wss://h/session?sessionId=s-1"; FixURL(u) != u {
		t.Fatalf("FixURL changed a correct URL: %q", FixURL(u))
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1":                    true,
		"127.1.2.3":                    true,
		"::1":                          true,
		"localhost":                    true,
		"":                             false,
		"10.0.0.1":                     false,
		"example.invalid":              false,
		"localhost.example.invalid":    false,
		"127.0.0.1.nip.io":             false,
		"cn-hangzhou.axt.aliyuncs.com": false,
	} {
		if got := IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}
