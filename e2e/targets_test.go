//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

const targetFleet = `region: cn-hangzhou
instances:
  - {id: i-emuweb0000000001, name: web, privateIp: 10.0.0.21, tags: {role: web}, agent: {version: 2.2.3.1032, online: true, sessionManager: true}}
  - {id: i-emuweb0000000002, name: web, privateIp: 10.0.0.22, tags: {role: web}, agent: {version: 2.2.3.1032, online: true, sessionManager: true}}
  - {id: i-emudb00000000001, name: db-01, privateIp: 10.0.0.31, publicIp: 47.96.0.31, tags: {role: db}, agent: {version: 2.2.3.1032, online: true, sessionManager: true}}
`

// TestTargetsByNameTagAndIP: every target form reaches the right instance through the binary,
// a name that matches two instances is refused with both listed (without a terminal there is
// no picker, and never a silent first match), and exec, which takes many, runs on all matches.
func TestTargetsByNameTagAndIP(t *testing.T) {
	fleet, err := emulator.ParseFleet([]byte(targetFleet))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, emulator.Options{Fleet: fleet})

	r := h.run("", "connect", "web")
	if r.code != 255 || !strings.Contains(r.stderr, "i-emuweb0000000001") || !strings.Contains(r.stderr, "i-emuweb0000000002") || !strings.Contains(r.stderr, "matches 2 instances") {
		t.Fatalf("ambiguous name: exit %d, stderr %q", r.code, r.stderr)
	}
	if h.emu.Calls("StartTerminalSession") != 0 {
		t.Fatal("a session was started for an ambiguous target")
	}

	// Each instance's home is its own directory, so $HOME tells which one ran the command.
	for _, tc := range []struct{ target, want string }{
		{"db-01", "i-emudb00000000001"},
		{"db-*", "i-emudb00000000001"},
		{"tag:role=db", "i-emudb00000000001"},
		{"10.0.0.22", "i-emuweb0000000002"},
		{"47.96.0.31", "i-emudb00000000001"},
		{"admin@db-01", "i-emudb00000000001"},
	} {
		r := h.run("", "exec", tc.target, "--", `basename "$HOME"; echo "$USER"`)
		if r.code != 0 || !strings.HasPrefix(r.stdout, tc.want+"\n") {
			t.Errorf("exec %s: exit %d, stdout %q, stderr %q", tc.target, r.code, r.stdout, r.stderr)
		}
		if strings.HasPrefix(tc.target, "admin@") && !strings.HasSuffix(r.stdout, "admin\n") {
			t.Errorf("exec %s: user not passed: %q", tc.target, r.stdout)
		}
	}

	r = h.run("", "exec", "tag:role=web", "--", `basename "$HOME"`)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	sort.Strings(lines)
	if r.code != 0 || strings.Join(lines, "|") != "[i-emuweb0000000001] i-emuweb0000000001|[i-emuweb0000000002] i-emuweb0000000002" {
		t.Fatalf("exec on a tag with two instances: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	r = h.run("", "exec", "no-such-name", "--", "true")
	if r.code != 255 || !strings.Contains(r.stderr, "no-such-name") {
		t.Fatalf("unknown name: exit %d, stderr %q", r.code, r.stderr)
	}

	// cp takes a name too.
	src := filepath.Join(t.TempDir(), "f.txt")
	os.WriteFile(src, []byte("by name\n"), 0o600)
	dst := filepath.Join(t.TempDir(), "g.txt")
	if r := h.run("", "cp", src, "db-01:"+dst); r.code != 0 {
		t.Fatalf("cp to a name: exit %d, stderr %q", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(dst); string(b) != "by name\n" {
		t.Fatalf("cp to a name wrote %q", b)
	}
}
