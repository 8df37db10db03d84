package forward

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// SOCKS5 (RFC 1928), as much as ssh -D offers: no authentication, CONNECT only, IPv4, IPv6 and
// domain names. Names are resolved here, with the local resolver, because the service's
// TargetServer takes an IP address; a name the instance could resolve but this machine cannot
// is refused with "host unreachable" and a line naming it.

// ErrRefused is wrapped by an Opener's error when the service refused the session (a limit on
// connected sessions, say), so that a SOCKS client hears "connection refused" rather than
// "general failure".
var ErrRefused = errors.New("connection refused")

// SOCKS reply codes (RFC 1928 §6).
const (
	socksSucceeded          = 0x00
	socksGeneralFailure     = 0x01
	socksHostUnreachable    = 0x04
	socksConnectionRefused  = 0x05
	socksCommandUnsupported = 0x07
	socksAddressUnsupported = 0x08
)

// socksHandshakeTimeout bounds how long a client may take to say where it wants to go.
const socksHandshakeTimeout = 30 * time.Second

// ServeSOCKS runs a SOCKS5 proxy on ln until ctx ends: each CONNECT opens its own session to the
// address asked for. Like Serve, a failed connection is reported and the others carry on.
func (f *Forwarder) ServeSOCKS(ctx context.Context, ln net.Listener) error {
	return f.serve(ctx, ln, true, "", f.socks)
}

func (f *Forwarder) socks(ctx context.Context, c net.Conn, tc *Conn) {
	label := "SOCKS " + c.LocalAddr().String()
	_ = c.SetDeadline(time.Now().Add(socksHandshakeTimeout))
	req, err := readSOCKSRequest(c)
	if err != nil {
		f.report(ctx, label, c.RemoteAddr().String(), err)
		return
	}
	remote := net.JoinHostPort(req.host, strconv.Itoa(req.port))
	if req.code != socksSucceeded {
		_ = socksReply(c, req.code)
		f.report(ctx, label, remote, req.err)
		return
	}
	host, err := f.Target(ctx, req.host)
	if err != nil {
		_ = socksReply(c, socksHostUnreachable)
		f.report(ctx, label, remote, err)
		return
	}
	if req.ip == nil && host != "" {
		remote = fmt.Sprintf("%s (%s)", remote, host)
	}
	f.setTo(tc, remote)
	st, err := f.Open(ctx, host, req.port)
	if err != nil {
		code := byte(socksGeneralFailure)
		if errors.Is(err, ErrRefused) {
			code = socksConnectionRefused
		}
		_ = socksReply(c, code)
		f.report(ctx, label, remote, err)
		return
	}
	// Success only now: a session the service refuses gives the client a SOCKS failure.
	if err := socksReply(c, socksSucceeded); err != nil {
		st.Conn.Close()
		if st.Release != nil {
			st.Release()
		}
		return
	}
	_ = c.SetDeadline(time.Time{})
	f.pump(ctx, c, st, label, remote)
}

// Target turns a host as a user or a SOCKS client named it into what an Opener takes: "" for the
// instance itself (localhost or a loopback address), an IP address as it is, and a name resolved
// on this machine, preferring IPv4 as VPCs do. The service's TargetServer takes an IP, so a name
// that does not resolve here is an error that names it.
func (f *Forwarder) Target(ctx context.Context, host string) (string, error) {
	if InstanceItself(host) {
		return "", nil
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.String(), nil
	}
	r := f.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupIPAddr(ctx, host)
	if err == nil && len(addrs) == 0 {
		err = errors.New("no addresses")
	}
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) {
			err = errors.New(de.Err) // the DNSError's text repeats the name
		}
		return "", fmt.Errorf("cannot resolve %s on this machine (%v); the service reaches hosts by IP address, so give the IP", host, err)
	}
	ip := addrs[0].IP
	for _, a := range addrs {
		if v4 := a.IP.To4(); v4 != nil {
			ip = v4
			break
		}
	}
	if ip.IsLoopback() {
		return "", nil
	}
	return ip.String(), nil
}

// socksRequest is what a client asked for. code is not socksSucceeded when the request must be
// refused with that code, for the reason in err.
type socksRequest struct {
	host string // as given: an IP or a name
	ip   net.IP // nil for a name that is not an IP
	port int
	code byte
	err  error
}

// readSOCKSRequest runs the method negotiation and reads the request. It reads exactly the
// handshake's bytes, so data a client sends right behind the request stays in the socket for
// the session. An error means the client cannot be answered in SOCKS terms (or was already told).
func readSOCKSRequest(c io.ReadWriter) (socksRequest, error) {
	var req socksRequest
	var hdr [2]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return req, fmt.Errorf("SOCKS handshake: %w", err)
	}
	if hdr[0] != 5 {
		return req, fmt.Errorf("not a SOCKS5 client (version byte %d)", hdr[0])
	}
	methods := make([]byte, hdr[1])
	if _, err := io.ReadFull(c, methods); err != nil {
		return req, fmt.Errorf("SOCKS handshake: %w", err)
	}
	noAuth := false
	for _, m := range methods {
		noAuth = noAuth || m == 0x00
	}
	if !noAuth {
		_, _ = c.Write([]byte{5, 0xff})
		return req, errors.New("the SOCKS client offers no unauthenticated method (the only one supported)")
	}
	if _, err := c.Write([]byte{5, 0}); err != nil {
		return req, err
	}
	var rh [4]byte // VER CMD RSV ATYP
	if _, err := io.ReadFull(c, rh[:]); err != nil {
		return req, fmt.Errorf("SOCKS request: %w", err)
	}
	if rh[0] != 5 {
		return req, fmt.Errorf("SOCKS request with version byte %d", rh[0])
	}
	switch rh[3] {
	case 1, 4:
		ip := make(net.IP, 4)
		if rh[3] == 4 {
			ip = make(net.IP, 16)
		}
		if _, err := io.ReadFull(c, ip); err != nil {
			return req, fmt.Errorf("SOCKS request: %w", err)
		}
		req.ip, req.host = ip, ip.String()
	case 3:
		var n [1]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			return req, fmt.Errorf("SOCKS request: %w", err)
		}
		name := make([]byte, n[0])
		if _, err := io.ReadFull(c, name); err != nil {
			return req, fmt.Errorf("SOCKS request: %w", err)
		}
		req.host = string(name)
		if ip := net.ParseIP(req.host); ip != nil { // some clients send an IP as a name
			req.ip = ip
		}
	default:
		_ = socksReply(c, socksAddressUnsupported)
		return req, fmt.Errorf("SOCKS address type %d is not supported", rh[3])
	}
	var p [2]byte
	if _, err := io.ReadFull(c, p[:]); err != nil {
		return req, fmt.Errorf("SOCKS request: %w", err)
	}
	req.port = int(binary.BigEndian.Uint16(p[:]))
	switch {
	case rh[1] != 1:
		req.code, req.err = socksCommandUnsupported, fmt.Errorf("SOCKS command %d is not supported (CONNECT only)", rh[1])
	case req.port == 0:
		req.code, req.err = socksGeneralFailure, errors.New("SOCKS request for port 0")
	case req.host == "":
		req.code, req.err = socksHostUnreachable, errors.New("SOCKS request with an empty host name")
	}
	return req, nil
}

// socksReply answers a request; the bound address is all zeros, as it means nothing here.
func socksReply(w io.Writer, code byte) error {
	_, err := w.Write([]byte{5, code, 0, 1, 0, 0, 0, 0, 0, 0})
	return err
}
