//go:build linux

package cp

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/attach"
)

// hostile is an instance that answers with what it likes, whatever the script.
type hostile struct {
	stdout, stderr string
	status         int
}

func (h *hostile) Exec(_ context.Context, o attach.ExecOptions) (int, error) {
	if o.Stdin != nil {
		io.Copy(io.Discard, o.Stdin)
	}
	io.WriteString(o.Stdout, h.stdout)
	io.WriteString(o.Stderr, h.stderr)
	return h.status, nil
}

func (h *hostile) Shell(context.Context, attach.ShellOptions) error { return errors.New("no shell") }

func (h *hostile) Ports(context.Context, attach.PortOptions) attach.PortOpener { return nil }

// A hostile instance cannot get a file written under a name of its choosing, nor a copy that
// does not match its checksum, nor control characters onto the terminal through an error.
func TestCpRunHostile(t *testing.T) {
	hello := "hello"
	sum := sha(hello) + "  -\n"
	for _, tt := range []struct {
		name string
		src  string // the remote side; "" uploads
		h    hostile
		want string
		tree bool
	}{
		{name: "another name", src: "i-web:/x/f.txt",
			h: hostile{stdout: "ecsterm-cp f 5 644 ../../.bashrc\x00" + hello, stderr: sumsMarker + sum}, want: "named the copy"},
		{name: "a directory without -r", src: "i-web:/x/f.txt",
			h: hostile{stdout: "ecsterm-cp d -1 0 f.txt\x00", stderr: sumsMarker}, want: "sent a directory"},
		{name: "wrong checksum", src: "i-web:/x/f.txt",
			h: hostile{stdout: "ecsterm-cp f 5 644 f.txt\x00" + hello, stderr: sumsMarker + sha("other") + "  -\n"}, want: "checksum mismatch"},
		{name: "no checksum", src: "i-web:/x/f.txt",
			h: hostile{stdout: "ecsterm-cp f 5 644 f.txt\x00" + hello}, want: "no checksums"},
		{name: "malformed checksum", src: "i-web:/x/f.txt",
			h: hostile{stdout: "ecsterm-cp f 5 644 f.txt\x00" + hello, stderr: sumsMarker + "\x1b[2J"}, want: "malformed checksum"},
		{name: "short data", src: "i-web:/x/f.txt",
			h: hostile{stdout: "ecsterm-cp f 10 644 f.txt\x00" + hello, stderr: sumsMarker + sum}, want: "received 5 bytes of 10"},
		{name: "noise instead of a header", src: "i-web:/x/f.txt",
			h: hostile{stdout: "\x1b]0;owned\x07 welcome\n"}, want: "unexpected output"},
		{name: "escapes in a failure", src: "i-web:/x/f.txt",
			h: hostile{stderr: "\x1b[31mdenied\r\nforged line", status: 3}, want: `i-web: \x1b[31mdenied forged line`},
		{name: "upload: wrong checksum acknowledged",
			h: hostile{stdout: "ecsterm-cp ok " + sha("other") + " /x/f.txt\x00"}, want: "checksum mismatch"},
		{name: "upload: noise instead of an acknowledgement",
			h: hostile{stdout: "\x1b]0;owned\x07"}, want: "unexpected reply"},
		{name: "upload tree: files miscounted", tree: true,
			h: hostile{stdout: "ecsterm-cp ok 7 /x/t\x00"}, want: "sent 1 files, the instance checked 7"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			local := t.TempDir()
			src, dst := tt.src, local
			if src == "" {
				src, dst = filepath.Join(local, "f.txt"), "i-web:/x/"
				if tt.tree {
					src = filepath.Join(local, "t")
					write(t, filepath.Join(src, "f"), hello, 0o644)
				} else {
					write(t, src, hello, 0o644)
				}
			}
			before := names(t, local)
			st := newSetup(t, &tt.h, src, dst, tt.tree)
			err := cpRun(ctx(t), st.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if strings.ContainsAny(err.Error(), "\x1b\x07\r\n") {
				t.Errorf("error %q carries control characters", err)
			}
			if got := names(t, local); got != before {
				t.Errorf("local directory %s, was %s", got, before)
			}
		})
	}
}
