package cloud

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// maxAPIBody bounds what ecsterm reads of one API answer. The largest real answers (a page of
// 100 instances, a command's output) are well under 1 MiB; anything past this is a broken or
// hostile endpoint, and reading it whole would take the workstation's memory.
const maxAPIBody = 8 << 20

// ErrBodyTooLong is wrapped by errors for an API answer longer than maxAPIBody.
var ErrBodyTooLong = fmt.Errorf("the API answer is longer than %d MiB: the endpoint is broken or hostile", maxAPIBody>>20)

// boundBody makes resp's body fail with ErrBodyTooLong past maxAPIBody, so that the SDK, which
// reads a body whole, stops there.
func boundBody(resp *http.Response, err error) (*http.Response, error) {
	if err != nil || resp == nil || resp.Body == nil {
		return resp, err
	}
	if resp.ContentLength > maxAPIBody {
		resp.Body.Close()
		return nil, ErrBodyTooLong
	}
	resp.Body = &boundedBody{rc: resp.Body, left: maxAPIBody}
	return resp, nil
}

// boundedBody is a response body that fails once more than left bytes have been read.
type boundedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly the bound from a longer one.
		// A read that gives nothing (0 and no error) is tried again by the caller; it never
		// hands on a byte past the bound.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, ErrBodyTooLong
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *boundedBody) Close() error { return b.rc.Close() }

// Credential providers (STS AssumeRole for a RamRoleArn profile, a credentials URI, OIDC) make
// their requests through credentials-go, which builds a client per request from a clone of
// http.DefaultTransport and reads each answer whole. ecsterm cannot hand it a client; it can
// give the default transport a TLS dialer whose connections fail once more than maxAPIBody and
// some room for headers and TLS framing have been read. Each request clones the transport and
// so gets a connection of its own: the bound is per answer. Nothing else in ecsterm uses the
// default transport. Plain-HTTP credential endpoints (a credentials URI on the instance) are
// not covered: credentials-go replaces the transport's plain dialer with its own.

// maxCredentialConn bounds what one TLS connection of the default transport reads.
const maxCredentialConn = maxAPIBody + 256<<10

var boundCredentials sync.Once

// boundCredentialHTTP installs the bounded TLS dialer on http.DefaultTransport, once, unless
// something else already set one.
func boundCredentialHTTP() {
	boundCredentials.Do(func() {
		t, ok := http.DefaultTransport.(*http.Transport)
		if !ok || t.DialTLSContext != nil {
			return
		}
		t.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialBoundedTLS(ctx, network, addr, t.TLSClientConfig)
		}
	})
}

// dialBoundedTLS dials addr, wraps the connection in a read bound, and does the TLS handshake
// with cfg (nil: the system roots) for addr's host.
func dialBoundedTLS(ctx context.Context, network, addr string, cfg *tls.Config) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	raw, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c := cfg.Clone()
	if c == nil {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName = host
	}
	tc := tls.Client(&boundedConn{Conn: raw, left: maxCredentialConn}, c)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	return tc, nil
}

// boundedConn is a connection that fails with ErrBodyTooLong once left bytes have been read.
type boundedConn struct {
	net.Conn
	left int64
}

func (b *boundedConn) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, ErrBodyTooLong
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.Conn.Read(p)
	b.left -= int64(n)
	return n, err
}
