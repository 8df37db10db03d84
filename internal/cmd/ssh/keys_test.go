package ssh

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeyPairReadByOpenSSH: ssh-keygen reads the private key and derives the same public key.
func TestKeyPairReadByOpenSSH(t *testing.T) {
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen is not installed")
	}
	k, err := newKeyPair("ecsterm-ephemeral-test")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "id")
	if err := writeNew(file, k.private); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ssh-keygen", "-y", "-f", file).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen -y: %v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != k.public && got != k.public+" ecsterm-ephemeral-test" {
		t.Errorf("ssh-keygen derived %q, want %q", got, k.public)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", fi.Mode())
	}
	if err := writeNew(file, k.private); err == nil {
		t.Error("writeNew overwrote an existing file")
	}
}

func TestParseHostKey(t *testing.T) {
	k, err := newKeyPair("")
	if err != nil {
		t.Fatal(err)
	}
	rsaTyped := "ssh-rsa " + strings.TrimPrefix(k.public, "ssh-ed25519 ") // an ed25519 blob labelled RSA
	for _, tc := range []struct {
		line string
		want string // "" for refused
	}{
		{k.public + " root@host", k.public},
		{k.public, k.public},
		{"  " + k.public + "\t", k.public},
		{rsaTyped, ""},
		{"ssh-dss " + strings.TrimPrefix(k.public, "ssh-ed25519 "), ""},
		{"ssh-ed25519 not*base64", ""},
		{"ssh-ed25519 AAAA", ""},
		{"ssh-ed25519", ""},
		{"", ""},
		{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAAQA=", ""}, // right type, wrong size
		{"\x1b]0;pwned\x07 " + k.public, ""},
		{k.public + " " + strings.Repeat("x", maxHostKeyLine), ""},
	} {
		got, err := parseHostKey(tc.line)
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("parseHostKey(%.40q) = %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}
}
