package emulator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"time"
)

// The emulator over TLS (Options.TLS): the API as https and the gateway as wss on the same
// loopback listener, with a certificate made at start-up for 127.0.0.1, ::1 and localhost. The
// certificate is its own issuer; a client trusts it by adding CACertPEM to its roots, which for
// ecsterm means SSL_CERT_FILE (Go's crypto/x509 reads it on Linux and the BSDs, and both the
// SDK's transport and the WebSocket dialer use the system roots). Verification is never turned
// off: a client that does not trust the certificate fails, as it would against a wrong server.

// selfSigned makes a fresh ECDSA P-256 certificate for loopback names and any extra DNS names,
// and returns it with its PEM encoding.
func selfSigned(now time.Time, names []string) (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "ecsterm emulator", Organization: []string{"ecsterm emulator (self-signed, loopback only)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              append([]string{"localhost"}, names...),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// tlsListener wraps ln in TLS with a fresh self-signed certificate. HTTP/1.1 only: the gateway's
// WebSocket upgrade needs it, and the SDK's transport speaks nothing else to a custom endpoint.
func tlsListener(ln net.Listener, now time.Time, names []string) (net.Listener, []byte, error) {
	cert, certPEM, err := selfSigned(now, names)
	if err != nil {
		return nil, nil, err
	}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	return tls.NewListener(ln, conf), certPEM, nil
}

// CACertPEM is the PEM certificate a client must trust to reach a TLS emulator (write it to a
// file and point SSL_CERT_FILE at it); nil without Options.TLS.
func (e *Emulator) CACertPEM() []byte { return append([]byte(nil), e.caPEM...) }

// scheme returns plain ("http" or "ws") or its TLS form, as the emulator serves.
func (e *Emulator) scheme(plain string) string {
	if e.caPEM != nil {
		return plain + "s"
	}
	return plain
}
