//go:build unix

package emulator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/pkg/session"
)

// trustOnly returns a root pool holding only the emulator's certificate.
func trustOnly(t *testing.T, e *Emulator) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(e.CACertPEM()) {
		t.Fatalf("CACertPEM is not a PEM certificate: %q", e.CACertPEM())
	}
	return pool
}

func TestTLSCertificate(t *testing.T) {
	e := testEmulator(t, Options{TLS: true})
	if !strings.HasPrefix(e.Endpoint(), "https://127.0.0.1:") {
		t.Errorf("Endpoint = %q, want https://127.0.0.1:port", e.Endpoint())
	}
	block, _ := pem.Decode(e.CACertPEM())
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("CACertPEM = %q, want one CERTIFICATE block", e.CACertPEM())
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"127.0.0.1", "localhost", "::1"} {
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: name, Roots: trustOnly(t, e)}); err != nil {
			t.Errorf("certificate does not verify for %s: %v", name, err)
		}
	}
	if err := cert.VerifyHostname("example.com"); err == nil {
		t.Error("certificate verifies for example.com; it must name loopback only")
	}
	// Every emulator makes its own key: trusting one never trusts another.
	other := testEmulator(t, Options{TLS: true})
	if string(other.CACertPEM()) == string(e.CACertPEM()) {
		t.Error("two emulators share a certificate")
	}
}

func TestTLSPlainByDefault(t *testing.T) {
	e := testEmulator(t, Options{})
	if !strings.HasPrefix(e.Endpoint(), "http://") || e.CACertPEM() != nil {
		t.Errorf("plain emulator: Endpoint %q, CACertPEM %q", e.Endpoint(), e.CACertPEM())
	}
	wsURL, _ := startDirect(t, e, idDemo)
	if !strings.HasPrefix(wsURL, "ws://") {
		t.Errorf("WebSocketUrl = %q, want ws://", wsURL)
	}
}

// TestTLSAPI checks that the API answers over https to a client that trusts the certificate, and
// that one that does not fails verification rather than being served.
func TestTLSAPI(t *testing.T) {
	e := testEmulator(t, Options{TLS: true})
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: trustOnly(t, e)}}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr, Timeout: patience}).Get(e.Endpoint() + "/?Action=DescribeRegions")
	if err != nil {
		t.Fatalf("GET over https: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.TLS == nil || !strings.Contains(string(body), `"RequestId"`) {
		t.Errorf("answer over https: TLS state %v, body %s; want an API answer with a RequestId", resp.TLS != nil, body)
	}

	untrusting := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}
	t.Cleanup(untrusting.CloseIdleConnections)
	_, err = (&http.Client{Transport: untrusting, Timeout: patience}).Get(e.Endpoint() + "/")
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("GET without trusting the certificate: %v, want x509.UnknownAuthorityError", err)
	}
}

// TestTLSGateway runs a shell session over wss.
func TestTLSGateway(t *testing.T) {
	e := testEmulator(t, Options{TLS: true})
	wsURL, token := startDirect(t, e, idDemo)
	if !strings.HasPrefix(wsURL, "wss://127.0.0.1:") {
		t.Fatalf("WebSocketUrl = %q, want wss://127.0.0.1:port", wsURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if _, err := session.Dial(ctx, wsURL, session.DialOptions{Token: token, TLS: &tls.Config{RootCAs: x509.NewCertPool()}}); err == nil {
		t.Fatal("Dial succeeded without trusting the certificate")
	}
	conn, err := session.Dial(ctx, wsURL, session.DialOptions{Token: token, TLS: &tls.Config{RootCAs: trustOnly(t, e)}})
	if err != nil {
		t.Fatalf("Dial over wss: %v", err)
	}
	if _, ok := conn.NetConn().(*tls.Conn); !ok {
		t.Errorf("connection is %T, want *tls.Conn", conn.NetConn())
	}
	p := &peer{t: t, conn: conn, frames: make(chan rx, 256), stop: make(chan struct{}), done: make(chan struct{})}
	go p.read()
	t.Cleanup(p.close)
	p.firstOutput()
	p.input("echo tls-$((6*7))\r")
	p.until("tls-42")
	p.input("exit\r")
	p.expectEnd("Exit")
}
