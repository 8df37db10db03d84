package session

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// DialOptions configure the WebSocket connection to the session gateway.
type DialOptions struct {
	// Token is the SecurityToken from StartTerminalSession. The official client authenticates with
	// the URL's token= parameter alone and sends an empty X-Acs-Session-Token header; the API page
	// says the token belongs in that header. Sending the real token there is right under either
	// reading (a gateway that ignores the header ignores it, one that reads it finds the right
	// value), so ecsterm does.
	Token string
	// TLS overrides the TLS configuration (tests that trust a self-signed emulator). Nil means the
	// system roots, with verification.
	TLS *tls.Config
	// HandshakeTimeout bounds the upgrade; zero means 15 s.
	HandshakeTimeout time.Duration
}

// RefusedError is a gateway's HTTP answer other than the WebSocket upgrade: an unknown or ended
// session or channel, a wrong token, an expired URL, a limit. Message is the answer's body, with
// any credential redacted.
type RefusedError struct {
	StatusCode int
	Status     string
	Message    string
}

func (e *RefusedError) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("session gateway refused the connection: %s: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("session gateway refused the connection: %s", e.Status)
}

// Permanent reports whether asking again cannot help: a 4xx answer other than 408 (timeout) and
// 429 (too many requests). A 5xx, such as a load balancer's while the gateway restarts, is
// transient.
func (e *RefusedError) Permanent() bool {
	return e.StatusCode >= 400 && e.StatusCode < 500 && e.StatusCode != http.StatusRequestTimeout && e.StatusCode != http.StatusTooManyRequests
}

// FixURL applies the official client's only rewrite of WebSocketUrl: the first "sessionid" becomes
// "sessionId" (a fix-up for URLs with a lower-case key; see docs/protocol.md, Opening the
// WebSocket).
func FixURL(raw string) string {
	return strings.Replace(raw, "sessionid", "sessionId", 1)
}

// RedactURL returns raw with the values of token-bearing query parameters replaced, so that a URL
// can appear in a log or an error. The WebSocket URL embeds the session credential.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable URL>"
	}
	q := u.Query()
	for k := range q {
		if isSecretParam(k) {
			q.Set(k, "REDACTED")
		}
	}
	u.RawQuery = q.Encode()
	u.User = nil
	return u.String()
}

// isSecretParam reports whether a query parameter of the session URL carries a credential.
func isSecretParam(k string) bool {
	switch strings.ToLower(k) {
	case "token", "securitytoken", "x-acs-session-token":
		return true
	}
	return false
}

// IsLoopbackHost reports whether host (without port) names the local machine.
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Dial opens the WebSocket of a session. Plain ws:// is refused unless the host is a loopback
// address: the URL and the frames carry the session's credential.
func Dial(ctx context.Context, rawURL string, opts DialOptions) (*websocket.Conn, error) {
	u, err := url.Parse(FixURL(rawURL))
	if err != nil {
		return nil, errors.New("session URL does not parse")
	}
	switch u.Scheme {
	case "wss":
	case "ws":
		if !IsLoopbackHost(u.Hostname()) {
			return nil, fmt.Errorf("refusing unencrypted session URL to %s: only loopback may use ws://", u.Hostname())
		}
	default:
		return nil, fmt.Errorf("session URL has scheme %q, want wss", u.Scheme)
	}
	d := websocket.Dialer{
		Proxy:            http.ProxyFromEnvironment,
		HandshakeTimeout: opts.HandshakeTimeout,
		TLSClientConfig:  opts.TLS,
		ReadBufferSize:   32 << 10,
		WriteBufferSize:  16 << 10,
	}
	if d.HandshakeTimeout == 0 {
		d.HandshakeTimeout = 15 * time.Second
	}
	h := http.Header{}
	h.Set("X-Acs-Session-Token", opts.Token)
	conn, resp, err := d.DialContext(ctx, u.String(), h)
	if err != nil {
		// gorilla's errors never contain the URL, but the server's answer explains a refusal.
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			msg := strings.TrimSpace(string(body))
			secrets := []string{opts.Token}
			for k, vs := range u.Query() {
				if isSecretParam(k) {
					secrets = append(secrets, vs...) // the URL's token is the credential the official client uses
				}
			}
			for _, sec := range secrets {
				if sec != "" {
					msg = strings.ReplaceAll(msg, sec, "REDACTED")
				}
			}
			return nil, &RefusedError{StatusCode: resp.StatusCode, Status: resp.Status, Message: msg}
		}
		return nil, fmt.Errorf("connecting to the session gateway %s: %w", u.Host, err)
	}
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if tc, ok := conn.NetConn().(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true) // keystrokes must not wait for Nagle
	}
	return conn, nil
}
