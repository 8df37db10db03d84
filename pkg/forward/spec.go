package forward

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// DefaultBind is where listeners bind unless told otherwise: loopback, so that a forward is not
// offered to the whole network (ali-instance-cli binds every interface).
const DefaultBind = "127.0.0.1"

// LocalSpec is a parsed -L argument: listen on Bind:Port, reach Host:HostPort as the instance sees it.
type LocalSpec struct {
	Bind     string // an address or host name; "" means every interface
	Port     int    // 0 picks a free port
	Host     string // empty means the instance itself
	HostPort int
}

// DynamicSpec is a parsed -D argument: a SOCKS5 proxy on Bind:Port.
type DynamicSpec struct {
	Bind string
	Port int
}

// Listen is the address to listen on.
func (s LocalSpec) Listen() string { return net.JoinHostPort(s.Bind, strconv.Itoa(s.Port)) }

// Listen is the address to listen on.
func (s DynamicSpec) Listen() string { return net.JoinHostPort(s.Bind, strconv.Itoa(s.Port)) }

// String writes the spec back in the long form, which ParseLocal reads back to the same spec.
func (s LocalSpec) String() string {
	host := s.Host
	if host == "" {
		host = "localhost"
	}
	return bracket(bindField(s.Bind)) + ":" + strconv.Itoa(s.Port) + ":" + bracket(host) + ":" + strconv.Itoa(s.HostPort)
}

// ParseSpecs parses the -L and -D arguments of one command line, stopping at the first that is
// wrong.
func ParseSpecs(locals, dynamics []string) ([]LocalSpec, []DynamicSpec, error) {
	var ls []LocalSpec
	for _, l := range locals {
		s, err := ParseLocal(l)
		if err != nil {
			return nil, nil, err
		}
		ls = append(ls, s)
	}
	var ds []DynamicSpec
	for _, d := range dynamics {
		s, err := ParseDynamic(d)
		if err != nil {
			return nil, nil, err
		}
		ds = append(ds, s)
	}
	return ls, ds, nil
}

// ParseLocal reads ssh's -L syntax, [bind:]port:host:hostport, and the short port:hostport
// (host: the instance itself). IPv6 addresses go in brackets. The bind address defaults to
// 127.0.0.1; an empty one or "*" means every interface, as in ssh.
func ParseLocal(spec string) (LocalSpec, error) {
	f, err := fields(spec)
	if err != nil {
		return LocalSpec{}, fmt.Errorf("-L %q: %w", spec, err)
	}
	s := LocalSpec{Bind: DefaultBind}
	var lport, host, hport string
	switch len(f) {
	case 2:
		lport, hport = f[0], f[1]
	case 3:
		lport, host, hport = f[0], f[1], f[2]
	case 4:
		s.Bind, lport, host, hport = bindAddr(f[0]), f[1], f[2], f[3]
	default:
		return s, fmt.Errorf("-L %q: want [bind:]port:host:hostport or port:hostport (IPv6 addresses in brackets)", spec)
	}
	if s.Port, err = parsePort(lport, true); err != nil {
		return s, fmt.Errorf("-L %q: local port: %w", spec, err)
	}
	if len(f) > 2 {
		if host == "" {
			return s, fmt.Errorf("-L %q: empty host", spec)
		}
		if err := checkHost(host); err != nil {
			return s, fmt.Errorf("-L %q: %w", spec, err)
		}
		s.Host = host
	}
	if s.HostPort, err = parsePort(hport, false); err != nil {
		return s, fmt.Errorf("-L %q: remote port: %w", spec, err)
	}
	if s.Bind != "" {
		if err := checkHost(s.Bind); err != nil {
			return s, fmt.Errorf("-L %q: bind address: %w", spec, err)
		}
	}
	return s, nil
}

// ParseDynamic reads -D's [bind:]port.
func ParseDynamic(spec string) (DynamicSpec, error) {
	f, err := fields(spec)
	if err != nil {
		return DynamicSpec{}, fmt.Errorf("-D %q: %w", spec, err)
	}
	s := DynamicSpec{Bind: DefaultBind}
	var port string
	switch len(f) {
	case 1:
		port = f[0]
	case 2:
		s.Bind, port = bindAddr(f[0]), f[1]
	default:
		return s, fmt.Errorf("-D %q: want [bind:]port (IPv6 addresses in brackets)", spec)
	}
	if s.Port, err = parsePort(port, true); err != nil {
		return s, fmt.Errorf("-D %q: %w", spec, err)
	}
	if s.Bind != "" {
		if err := checkHost(s.Bind); err != nil {
			return s, fmt.Errorf("-D %q: bind address: %w", spec, err)
		}
	}
	return s, nil
}

// InstanceItself reports whether host, as the instance sees it, is the instance: localhost or a
// loopback address. Such a forward needs no TargetServer.
func InstanceItself(host string) bool {
	if host == "" || strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// fields splits spec at colons outside brackets and strips the brackets.
func fields(spec string) ([]string, error) {
	var out []string
	cur := strings.Builder{}
	bracketed := false // the current field was in brackets
	for i := 0; i < len(spec); i++ {
		switch c := spec[i]; c {
		case '[':
			if cur.Len() > 0 || bracketed {
				return nil, errors.New("'[' in the middle of a field")
			}
			j := strings.IndexByte(spec[i:], ']')
			if j < 0 {
				return nil, errors.New("'[' without ']'")
			}
			inner := spec[i+1 : i+j]
			if strings.ContainsAny(inner, "[") {
				return nil, errors.New("nested '['")
			}
			if net.ParseIP(inner) == nil || !strings.Contains(inner, ":") {
				return nil, fmt.Errorf("%q in brackets is not an IPv6 address", inner)
			}
			cur.WriteString(inner)
			bracketed = true
			i += j
		case ']':
			return nil, errors.New("']' without '['")
		case ':':
			out = append(out, cur.String())
			cur.Reset()
			bracketed = false
		default:
			if bracketed {
				return nil, errors.New("text after ']' (put ':' between the address and the port)")
			}
			cur.WriteByte(c)
		}
	}
	return append(out, cur.String()), nil
}

func bindAddr(s string) string {
	if s == "*" {
		return ""
	}
	return s
}

func bindField(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

func bracket(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// parsePort reads a decimal port; zero only where it means "pick a free one".
func parsePort(s string, zeroOK bool) (int, error) {
	if s == "" {
		return 0, errors.New("missing")
	}
	if len(s) > 5 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a port number", s)
	}
	n, _ := strconv.Atoi(s)
	if n > 65535 || (n == 0 && !zeroOK) {
		return 0, fmt.Errorf("%d is out of range (1-65535)", n)
	}
	return n, nil
}

// checkHost accepts an IP address or something shaped like a host name. A bare IPv6 address
// cannot reach here: its colons split it into fields.
func checkHost(h string) error {
	if net.ParseIP(h) != nil {
		return nil
	}
	if len(h) > 253 {
		return errors.New("host name longer than 253 characters")
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("%q is not a host name or IP address", h)
		}
	}
	return nil
}
