//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// legacyInstance runs an agent (2.2.3.400) that drops port input arriving before its TCP
// connection; demoInstance's (2.2.3.1032) waits for the connection instead.
const legacyInstance = "i-emu0legacy0000007"

// forwarder is a running `ecsterm -o json forward`.
type forwarder struct {
	t       *testing.T
	cmd     *exec.Cmd
	listens []string // one per -L/-D, in order, from the JSON lines
	extra   chan string
	stderr  *screen
	done    chan struct{}
	once    sync.Once
	code    int
}

// startForward runs ecsterm forward with specs (such as "-L", "0:80") and waits for its
// announcements. Cleanup stops it with SIGINT and expects exit status 130 (128+SIGINT).
func (h *harness) startForward(instance string, specs ...string) *forwarder {
	h.t.Helper()
	return h.startForwardWith(h.command, instance, specs...)
}

// startForwardWith is startForward with the command made by mk (h.command or h.faultyCommand).
func (h *harness) startForwardWith(mk func(...string) *exec.Cmd, instance string, specs ...string) *forwarder {
	t := h.t
	t.Helper()
	cmd := mk(append([]string{"-o", "json", "forward", instance}, specs...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{t: t, cmd: cmd, stderr: newScreen(), done: make(chan struct{}), extra: make(chan string, 16)}
	cmd.Stderr = f.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(f.done)
		sc := bufio.NewScanner(out)
		n := 0
		for sc.Scan() {
			if n < len(specs)/2 {
				lines <- sc.Text()
			} else {
				f.extra <- sc.Text()
			}
			n++
		}
		close(lines)
		err := cmd.Wait()
		f.code = 0
		if ee, ok := err.(*exec.ExitError); ok {
			f.code = ee.ExitCode()
		}
	}()
	t.Cleanup(func() {
		if code := f.stop(); code != 130 {
			t.Errorf("forward exited %d after SIGINT, want 130; stderr:\n%s", code, f.stderr.String())
		}
		select {
		case l := <-f.extra:
			t.Errorf("stdout has more than the announcements: %q", l)
		default:
		}
	})
	for range len(specs) / 2 {
		select {
		case l, ok := <-lines:
			if !ok {
				<-f.done
				t.Fatalf("forward exited %d before announcing its listeners; stderr:\n%s", f.code, f.stderr.String())
			}
			var a struct {
				Listen   string `json:"listen"`
				Instance string `json:"instance"`
			}
			err := json.Unmarshal([]byte(l), &a)
			byName := !strings.HasPrefix(instance, "i-") && strings.HasPrefix(a.Instance, "i-")
			if err != nil || a.Listen == "" || (a.Instance != instance && !byName) {
				t.Fatalf("announcement %q: %v", l, err)
			}
			f.listens = append(f.listens, a.Listen)
		case <-time.After(30 * time.Second):
			t.Fatalf("no announcement; stderr:\n%s", f.stderr.String())
		}
	}
	return f
}

// stop sends SIGINT (once) and returns the exit status.
func (f *forwarder) stop() int {
	f.once.Do(func() {
		_ = f.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-f.done:
		case <-time.After(30 * time.Second):
			f.cmd.Process.Kill()
			<-f.done
			f.t.Errorf("forward did not exit within 30 s of SIGINT")
		}
	})
	<-f.done
	return f.code
}

func TestForwardHTTPDownload(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	data, want := randomBytes(20 << 20)
	port := fileServer(t, data)
	f := h.startForward(demoInstance, "-L", "0:"+strconv.Itoa(port))
	if !strings.HasPrefix(f.listens[0], "127.0.0.1:") || strings.HasSuffix(f.listens[0], ":0") {
		t.Fatalf("listening on %q, want 127.0.0.1 and the port picked", f.listens[0])
	}
	got := get(t, "http://"+f.listens[0]+"/file")
	if len(got) != len(data) || sha(got) != want {
		t.Fatalf("20 MiB through the forward: %d bytes, sha256 %s, want %s", len(got), sha(got), want)
	}
	if code := f.stop(); code != 130 {
		t.Fatalf("exit %d after SIGINT; stderr:\n%s", code, f.stderr.String())
	}
	if n := h.emu.Calls("EndTerminalSession"); n < 1 {
		t.Errorf("the port session was not ended (%d EndTerminalSession calls)", n)
	}
	if s := f.stderr.String(); s != "" {
		t.Errorf("stderr with -o json and no failures: %q", s)
	}
}

func TestForwardParallel(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	f := h.startForward(demoInstance, "-L", "0:"+strconv.Itoa(tcpServer(t, echoConn)))
	conns := make([]net.Conn, 8)
	for i := range conns {
		conns[i] = dialTCP(t, f.listens[0])
	}
	errs := make(chan error, len(conns))
	for _, c := range conns {
		go func() { errs <- echoRoundTrip(t, c, 1<<20) }()
	}
	for range conns {
		if err := <-errs; err != nil {
			t.Errorf("one of 8 parallel connections: %v", err)
		}
	}
	if t.Failed() {
		t.Logf("stderr:\n%s", f.stderr.String())
	}
}

// TestForwardWhoSpeaksFirst: a server that speaks first (SSH's banner) and one where the client
// does (HTTP) lose no bytes, on an agent that waits for its connection and on one that drops
// input sent before it (there ecsterm holds input back until output arrives, or 3 s).
func TestForwardWhoSpeaksFirst(t *testing.T) {
	h := newHarness(t, emulator.Options{AgentStartDelay: 300 * time.Millisecond})
	const banner = "SSH-2.0-e2e_banner\r\n"
	bannerPort := tcpServer(t, func(c net.Conn) {
		if _, err := io.WriteString(c, banner); err == nil {
			echoConn(c)
		}
	})
	data, want := randomBytes(1 << 20)
	httpPort := fileServer(t, data)
	for _, inst := range []string{demoInstance, legacyInstance} {
		t.Run(inst, func(t *testing.T) {
			f := h.startForward(inst, "-L", "0:"+strconv.Itoa(bannerPort), "-L", "0:"+strconv.Itoa(httpPort))
			c := dialTCP(t, f.listens[0])
			got := make([]byte, len(banner))
			if _, err := io.ReadFull(c, got); err != nil || string(got) != banner {
				t.Fatalf("server speaks first: banner %q, %v", got, err)
			}
			if err := echoRoundTrip(t, c, 64<<10); err != nil {
				t.Fatalf("after the banner: %v", err)
			}
			if b := get(t, "http://"+f.listens[1]+"/file"); sha(b) != want {
				t.Fatalf("client speaks first: %d bytes, sha256 differs", len(b))
			}
		})
	}
}

// TestForwardClientFirstSlowAgent: an agent that drops early input and takes longer than its
// usual second to reach the target (2.2.3.578 sleeps 1 s after its channel opens before it dials,
// and the gateway's part comes on top) still gets an HTTP request, which nothing on the far side
// answers before it arrives: ecsterm holds input for as long as Alibaba's own client waits.
func TestForwardClientFirstSlowAgent(t *testing.T) {
	h := newHarness(t, emulator.Options{AgentStartDelay: 1500 * time.Millisecond})
	data, want := randomBytes(64 << 10)
	f := h.startForward(legacyInstance, "-L", "0:"+strconv.Itoa(fileServer(t, data)))
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 30 * time.Second} // a failsafe
	resp, err := client.Get("http://" + f.listens[0] + "/file")
	if err != nil {
		t.Fatalf("client speaks first to a slow agent: %v (the request was dropped)", err)
	}
	defer resp.Body.Close()
	if b, err := io.ReadAll(resp.Body); err != nil || sha(b) != want {
		t.Fatalf("client speaks first to a slow agent: %d bytes, %v", len(b), err)
	}
}

func TestForwardHalfClose(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	got := make(chan string, 1)
	port := tcpServer(t, func(c net.Conn) {
		b, _ := io.ReadAll(c) // until the client's end of file
		got <- string(b)
	})
	f := h.startForward(demoInstance, "-L", "0:"+strconv.Itoa(port))
	c := dialTCP(t, f.listens[0])
	if _, err := io.WriteString(c, "the last words"); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != "the last words" {
			t.Errorf("server read %q before end of file", s)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server never saw end of file")
	}
	if _, err := io.ReadAll(c); err != nil {
		t.Errorf("the local socket did not end after the remote side: %v", err)
	}
}

// TestForwardRemoteCloseEndsLocal, with the instance given by name.
func TestForwardRemoteCloseEndsLocal(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	port := tcpServer(t, func(c net.Conn) { _, _ = io.WriteString(c, "goodbye") })
	f := h.startForward("demo-web-01", "-L", "0:"+strconv.Itoa(port))
	b, err := io.ReadAll(dialTCP(t, f.listens[0]))
	if err != nil || string(b) != "goodbye" {
		t.Fatalf("read %q, %v; want \"goodbye\" and end of file", b, err)
	}
}

// TestForwardSessionLimit: beyond the instance's connected sessions a connection is refused
// with one line saying so, and the others keep working.
func TestForwardSessionLimit(t *testing.T) {
	h := newHarness(t, emulator.Options{SessionsPerInstance: 2})
	f := h.startForward(demoInstance, "-L", "0:"+strconv.Itoa(tcpServer(t, echoConn)))
	a, b := dialTCP(t, f.listens[0]), dialTCP(t, f.listens[0])
	for _, c := range []net.Conn{a, b} {
		if err := echoRoundTrip(t, c, 1000); err != nil {
			t.Fatal(err)
		}
	}
	third := dialTCP(t, f.listens[0])
	if got, err := io.ReadAll(third); err != nil || len(got) != 0 {
		t.Errorf("third connection read %q, %v; want it closed", got, err)
	}
	f.stderr.waitFor(t, 0, "connection refused: the instance has reached its limit of connected sessions")
	if n := strings.Count(f.stderr.String(), "\n"); n != 1 {
		t.Errorf("stderr has %d lines, want one for the refused connection:\n%s", n, f.stderr.String())
	}
	for _, c := range []net.Conn{a, b} {
		if err := echoRoundTrip(t, c, 64<<10); err != nil {
			t.Errorf("after the refusal: %v", err)
		}
	}
}

// TestForwardStreamRate: with the gateway's Stream rate at 800 kbit/s, 256 KiB up and 64 KiB down
// arrive intact. The emulator ends a channel whose input outruns the rate with FlowExceedLimit,
// so an intact upload shows that ecsterm paced itself; no timing is asserted. The server speaks
// first, and the upload starts only after its banner: the Stream status comes before any output
// on the channel, so by then ecsterm knows the rate (what a client sends before it is told is not
// held against it).
func TestForwardStreamRate(t *testing.T) {
	h := newHarness(t, emulator.Options{StreamRate: 800_000})
	up, upSum := randomBytes(256 << 10)
	down, downSum := randomBytes(64 << 10)
	port := tcpServer(t, func(c net.Conn) {
		var cmd [1]byte
		if _, err := io.WriteString(c, "ready\n"); err != nil {
			return
		}
		if _, err := io.ReadFull(c, cmd[:]); err != nil {
			return
		}
		if cmd[0] == 'D' {
			_, _ = c.Write(down)
			return
		}
		b := make([]byte, len(up))
		if _, err := io.ReadFull(c, b); err == nil {
			_, _ = io.WriteString(c, sha(b))
		}
	})
	f := h.startForward(demoInstance, "-L", "0:"+strconv.Itoa(port))
	ready := func(c net.Conn) {
		t.Helper()
		b := make([]byte, 6)
		if _, err := io.ReadFull(c, b); err != nil || string(b) != "ready\n" {
			t.Fatalf("banner %q, %v", b, err)
		}
	}

	c := dialTCP(t, f.listens[0])
	ready(c)
	if _, err := c.Write(append([]byte{'U'}, up...)); err != nil {
		t.Fatal(err)
	}
	sum := make([]byte, 64)
	if _, err := io.ReadFull(c, sum); err != nil || string(sum) != upSum {
		t.Fatalf("upload: server's sha256 %q, %v; want %s; stderr:\n%s", sum, err, upSum, f.stderr.String())
	}
	c = dialTCP(t, f.listens[0])
	ready(c)
	if _, err := c.Write([]byte{'D'}); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(c); err != nil || sha(b) != downSum {
		t.Fatalf("download: %d bytes, %v", len(b), err)
	}
	if s := f.stderr.String(); strings.Contains(s, "FlowExceedLimit") {
		t.Errorf("the gateway saw input beyond its rate: %s", s)
	}
	// The upload met the ceiling, and the user was told so, once.
	const notice = "ecsterm: the service limits this session's input to 781 Kibit/s = 97.7 KiB/s (its Stream status, read as bits/s as Alibaba's client does); uploads are paced to it\n"
	if s := f.stderr.String(); strings.Count(s, notice) != 1 {
		t.Errorf("stderr %q, want the pacing notice once", s)
	}
}

func TestForwardSOCKS(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	h := newHarness(t, emulator.Options{})
	data, want := randomBytes(4 << 20)
	port := fileServer(t, data)
	f := h.startForward(demoInstance, "-D", "0")
	curl := func(args ...string) (stdout []byte, stderr string, code int) {
		cmd := exec.Command("curl", append([]string{"-sS", "--max-time", "60"}, args...)...)
		cmd.Env = []string{pathEnv(h.env)} // and no proxy variables
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.Bytes(), errb.String(), code
	}
	got, stderr, code := curl("--socks5", f.listens[0], fmt.Sprintf("http://127.0.0.1:%d/file", port))
	if code != 0 || sha(got) != want {
		t.Fatalf("curl --socks5: exit %d, %d bytes (sha256 ok: %v), stderr %q; ecsterm:\n%s", code, len(got), sha(got) == want, stderr, f.stderr.String())
	}
	_, stderr, code = curl("--socks5-hostname", f.listens[0], "http://no-such-host.invalid/")
	if code == 0 || !strings.Contains(stderr, "SOCKS") {
		t.Errorf("curl to an unresolvable name: exit %d, stderr %q; want a SOCKS error", code, stderr)
	}
	f.stderr.waitFor(t, 0, "no-such-host.invalid")
	if s := f.stderr.String(); !strings.Contains(s, "cannot resolve no-such-host.invalid") {
		t.Errorf("ecsterm's line does not say why: %q", s)
	}
}

func TestForwardUsageAndRefusals(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"forward", demoInstance}, 2, "give -L or -D"},
		{[]string{"forward", demoInstance, "-L", "8080:0"}, 2, "out of range"},
		{[]string{"forward", demoInstance, "-L", "::1:8080:h:80"}, 2, "brackets"},
		{[]string{"forward", "i-emu0stopped000002", "-L", "0:80"}, 255, "Stopped"},
		{[]string{"forward", demoInstance, "-L", "0:no-such-host.invalid:80"}, 255, "cannot resolve no-such-host.invalid"},
	} {
		r := h.run("", tt.args...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit %d and %q", tt.args, r.code, r.stdout, r.stderr, tt.code, tt.want)
		}
	}
}
