//go:build linux

package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Loopback servers and clients for the forward and proxy tests: the far side of a forward is a
// server on this machine, as the emulated VPC is this machine.

// randomBytes returns n random bytes and their sha256 in hex.
func randomBytes(n int) ([]byte, string) {
	b := make([]byte, n)
	rand.Read(b)
	return b, sha(b)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// fileServer serves data at /file over HTTP on 127.0.0.1 and returns its port.
func fileServer(t *testing.T, data []byte) int {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/file" {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "file", time.Time{}, bytes.NewReader(data))
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().(*net.TCPAddr).Port
}

// tcpServer runs handle for each connection on a new loopback listener and returns its port.
func tcpServer(t *testing.T, handle func(net.Conn)) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(60 * time.Second))
				handle(c)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func echoConn(c net.Conn) { _, _ = io.Copy(c, c) }

var direct = &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 60 * time.Second}

func get(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := direct.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s, %v", url, resp.Status, err)
	}
	return b
}

func dialTCP(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	return c.(*net.TCPConn)
}

// echoRoundTrip sends n random bytes and checks the echo, reading while writing.
func echoRoundTrip(t *testing.T, c net.Conn, n int) error {
	data, want := randomBytes(n)
	werr := make(chan error, 1)
	go func() { _, err := c.Write(data); werr <- err }()
	got := make([]byte, n)
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("reading the echo: %w", err)
	}
	if err := <-werr; err != nil {
		return err
	}
	if sha(got) != want {
		return fmt.Errorf("echo of %d bytes differs", n)
	}
	return nil
}

// pathEnv returns the PATH entry of an environment.
func pathEnv(env []string) string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			return kv
		}
	}
	return "PATH=/usr/bin:/bin"
}
