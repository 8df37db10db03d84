package cp

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/config"
	"github.com/ecsterm/ecsterm/internal/iostreams"
)

func TestNewCmdCp(t *testing.T) {
	remote := func(id, user, p string) Location { return Location{Instance: id, User: user, Path: p} }
	local := func(p string) Location { return Location{Path: p} }
	tests := []struct {
		name    string
		args    []string
		want    Options // Src, Dst, User, Recursive
		wantErr string
		usage   bool
	}{
		{name: "upload", args: []string{"./site.tgz", "i-abc:/tmp/"},
			want: Options{Src: local("./site.tgz"), Dst: remote("i-abc", "", "/tmp/")}},
		{name: "download", args: []string{"i-abc:/var/log/app.log", "."},
			want: Options{Src: remote("i-abc", "", "/var/log/app.log"), Dst: local(".")}},
		{name: "user@", args: []string{"admin@i-abc:x", "y"},
			want: Options{Src: remote("i-abc", "admin", "x"), Dst: local("y"), User: "admin"}},
		{name: "-l", args: []string{"-l", "root", "y", "i-abc:"},
			want: Options{Src: local("y"), Dst: remote("i-abc", "", ""), User: "root"}},
		{name: "-l agrees", args: []string{"-l", "root", "y", "root@i-abc:z"},
			want: Options{Src: local("y"), Dst: remote("i-abc", "root", "z"), User: "root"}},
		{name: "-r", args: []string{"-r", "dir", "i-abc:/srv"},
			want: Options{Src: local("dir"), Dst: remote("i-abc", "", "/srv"), Recursive: true}},
		{name: "--recursive after", args: []string{"i-abc:/srv", "dir", "--recursive"},
			want: Options{Src: remote("i-abc", "", "/srv"), Dst: local("dir"), Recursive: true}},
		{name: "local with colon", args: []string{"./a:b", "i-abc:/b"},
			want: Options{Src: local("./a:b"), Dst: remote("i-abc", "", "/b")}},
		{name: "-l conflicts", args: []string{"-l", "root", "y", "admin@i-abc:z"}, wantErr: "admin", usage: true},
		{name: "both remote", args: []string{"i-abc:/a", "i-def:/b"}, wantErr: "both", usage: true},
		{name: "both local", args: []string{"a", "b"}, wantErr: "neither", usage: true},
		{name: "names are targets", args: []string{"web-01:/a", "b"},
			want: Options{Src: remote("web-01", "", "/a"), Dst: local("b")}},
		{name: "empty user", args: []string{"@i-abc:/a", "b"}, wantErr: "@i-abc", usage: true},
		{name: "empty local", args: []string{"", "i-abc:/a"}, wantErr: "empty", usage: true},
		{name: "one arg", args: []string{"i-abc:/a"}, wantErr: "arg(s)"},
		{name: "three args", args: []string{"a", "b", "i-abc:/a"}, wantErr: "arg(s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, stdout, stderr := iostreams.Test()
			f := &cmdutil.Factory{IOStreams: ios, Config: func() (*config.Config, error) {
				return &config.Config{Output: "json", Quiet: true}, nil
			}}
			var got *Options
			cmd := NewCmdCp(f, func(_ context.Context, o *Options) error {
				got = o
				return nil
			})
			cmd.SetArgs(tt.args)
			cmd.SetIn(&bytes.Buffer{})
			cmd.SetOut(stdout)
			cmd.SetErr(stderr)
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			_, err := cmd.ExecuteC()
			if tt.wantErr != "" || tt.usage {
				if err == nil {
					t.Fatalf("no error; options %+v", got)
				}
				if got != nil {
					t.Error("runF ran after an error")
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not contain %q", err, tt.wantErr)
				}
				var fe *cmdutil.FlagError
				if tt.usage && !errors.As(err, &fe) {
					t.Errorf("error %q is %T, want a *cmdutil.FlagError (exit 2)", err, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if got == nil {
				t.Fatal("runF not called")
			}
			if !same(got.Src, tt.want.Src) || !same(got.Dst, tt.want.Dst) || got.User != tt.want.User || got.Recursive != tt.want.Recursive {
				t.Errorf("got Src %+v Dst %+v User %q -r %v\nwant Src %+v Dst %+v User %q -r %v",
					got.Src, got.Dst, got.User, got.Recursive, tt.want.Src, tt.want.Dst, tt.want.User, tt.want.Recursive)
			}
			if !got.JSON || !got.Quiet || got.IO != ios {
				t.Errorf("JSON %v Quiet %v IO %p: not taken from the config and factory", got.JSON, got.Quiet, got.IO)
			}
		})
	}
}

func TestParseLocation(t *testing.T) {
	tests := []struct {
		in   string
		want Location
		err  bool
	}{
		{in: "i-abc:/tmp/x", want: Location{Instance: "i-abc", Path: "/tmp/x"}},
		{in: "i-abc:", want: Location{Instance: "i-abc"}},
		{in: "i-abc:a:b", want: Location{Instance: "i-abc", Path: "a:b"}},
		{in: "u@i-abc:~/x", want: Location{Instance: "i-abc", User: "u", Path: "~/x"}},
		{in: "u@h@i-abc:x", want: Location{Instance: "h@i-abc", User: "u", Path: "x"}},
		{in: "i-abc", want: Location{Path: "i-abc"}}, // no colon: a local file
		{in: "./a:b", want: Location{Path: "./a:b"}}, // a slash before the colon
		{in: "dir/i-abc:x", want: Location{Path: "dir/i-abc:x"}},
		{in: "a:b", want: Location{Instance: "a", Path: "b"}}, // a name, as scp takes a host
		{in: "web-01:/tmp", want: Location{Instance: "web-01", Path: "/tmp"}},
		{in: `C:\Users\x`, want: Location{Path: `C:\Users\x`}}, // a Windows drive
		{in: "u@web:x", want: Location{Instance: "web", User: "u", Path: "x"}},
		{in: "tag:role=web:/srv", want: Location{Instance: "tag:role=web", Path: "/srv"}},
		{in: "u@tag:role=web:/srv", want: Location{Instance: "tag:role=web", User: "u", Path: "/srv"}},
		{in: "10.0.0.11:/tmp", want: Location{Instance: "10.0.0.11", Path: "/tmp"}},
		{in: "", want: Location{}},
		{in: "@i-abc:x", err: true},
	}
	for _, tt := range tests {
		got, err := ParseLocation(tt.in)
		if (err != nil) != tt.err || !same(got, tt.want) {
			t.Errorf("ParseLocation(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestQuote(t *testing.T) {
	tests := map[string]string{
		"":         `''`,
		"plain":    `'plain'`,
		"a b":      `'a b'`,
		"it's":     `'it'\''s'`,
		"''":       `''\'''\'''`,
		"$HOME":    `'$HOME'`,
		"`x`\n\\*": "'`x`\n\\*'",
	}
	for in, want := range tests {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestQuoteThroughSh: what sh makes of a quoted word is the original string, byte for byte.
func TestQuoteThroughSh(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	for _, s := range []string{"plain", "it's", "a 'b' \"c\"", "$(id) `id` $HOME ~ * ? [a]", "new\nline\\", "é ü\t"} {
		out, err := exec.Command(sh, "-c", "printf %s "+Quote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("sh printed %q for %q (%v)", out, s, err)
		}
	}
	out, err := exec.Command(sh, "-c", "HOME=/h; printf '%s|' "+ShellPath("~")+" "+ShellPath("~/a b")+" "+ShellPath("")+" "+ShellPath("~x")+" "+ShellPath("-n")+" "+ShellPath("~/-n")).Output()
	if err != nil || string(out) != "/h|/h/a b|/h|~x|./-n|/h/-n|" {
		t.Errorf("ShellPath through sh: %q, %v", out, err)
	}
}

func TestTrimSlashes(t *testing.T) {
	tests := []struct {
		in, want string
		dir      bool
	}{
		{"/tmp/", "/tmp", true}, {"/tmp//", "/tmp", true}, {"/tmp", "/tmp", false},
		{"/", "/", false}, {"//", "/", false}, {"", "", false}, {"~/", "~", true},
	}
	for _, tt := range tests {
		if got, dir := trimSlashes(tt.in); got != tt.want || dir != tt.dir {
			t.Errorf("trimSlashes(%q) = %q, %v; want %q, %v", tt.in, got, dir, tt.want, tt.dir)
		}
	}
}

func TestParseAck(t *testing.T) {
	v, final, err := parseAck([]byte("ecsterm-cp ok abc /tmp/a b\x00"))
	if err != nil || v != "abc" || final != "/tmp/a b" {
		t.Errorf("got %q %q %v", v, final, err)
	}
	// Whatever a shell startup file printed first is not the reply.
	v, final, err = parseAck([]byte("motd ecsterm-cp ok 1\necsterm-cp ok 2 /y\x00"))
	if err != nil || v != "2" || final != "/y" {
		t.Errorf("after noise: got %q %q %v", v, final, err)
	}
	for _, bad := range []string{"", "ecsterm-cp ok abc /x", "ecsterm-cp ok abc /x\x00trailing", "ecsterm-cp ok a\x00b\x00"} {
		if _, _, err := parseAck([]byte(bad)); err == nil {
			t.Errorf("parseAck(%q) accepted", bad)
		}
	}
}

func TestProgressLine(t *testing.T) {
	tests := []struct {
		n, total int64
		want     string
	}{
		{n: 512, total: -1, want: "f  512 B  256 B/s"},
		{n: 8 << 20, total: 16 << 20, want: "f  8.0 MiB / 16.0 MiB   50%  4.0 MiB/s"},
		{n: 0, total: 0, want: "f  0 B / 0 B  100%  0 B/s"},
		{n: 3 << 30, total: 2 << 30, want: "f  3.0 GiB / 2.0 GiB  100%  1.5 GiB/s"},
	}
	for _, tt := range tests {
		if got := progressLine("f", tt.n, tt.total, 2e9); got != tt.want {
			t.Errorf("progressLine(%d, %d) = %q, want %q", tt.n, tt.total, got, tt.want)
		}
	}
	long := progressLine(strings.Repeat("x", 50)+".log", 1, -1, 0)
	if !strings.HasPrefix(long, "…") || strings.Contains(long, "/s") {
		t.Errorf("long label: %q", long)
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{n: 4}
	for _, s := range []string{"ab", "cdef", "g"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatal(n, err)
		}
	}
	if string(b.Bytes()) != "defg" {
		t.Errorf("kept %q", b.Bytes())
	}
}

func TestMeterDrawsOnlyWhenAsked(t *testing.T) {
	var buf bytes.Buffer
	m := newMeter(nil, "x", 10)
	m.Write(make([]byte, 7))
	m.Stop()
	m.Stop()
	if m.Bytes() != 7 {
		t.Errorf("counted %d", m.Bytes())
	}
	m = newMeter(&buf, "x", 10)
	m.Write(make([]byte, 5))
	m.Stop()
	if s := buf.String(); !strings.HasPrefix(s, "\rx  ") || !strings.HasSuffix(s, "\x1b[K\r\x1b[K") || strings.Contains(s, "\n") {
		t.Errorf("a meter drew %q: want at least one line, then the line cleared, and no newline", s)
	}
}

// same compares what a Location says, not how it was parsed.
func same(a, b Location) bool {
	return a.Instance == b.Instance && a.User == b.User && a.Path == b.Path
}

// RunE hands the run function the API and the Sessions without calling them: credentials are
// looked for only once the local side of the copy checks out.
func TestNewCmdCpLazy(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	clouds, sessions := 0, 0
	f := &cmdutil.Factory{IOStreams: ios,
		Config: func() (*config.Config, error) { return &config.Config{}, nil },
		Cloud:  func() (*cloud.Client, error) { clouds++; return nil, errors.New("no credentials") },
		Sessions: func() (cmdutil.Sessions, error) {
			sessions++
			return nil, errors.New("no credentials")
		}}
	var got *Options
	cmd := NewCmdCp(f, func(_ context.Context, o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"a", "i-abc:/b"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if clouds != 0 || sessions != 0 {
		t.Fatalf("RunE built the client (%d) or the sessions (%d)", clouds, sessions)
	}
	if _, err := got.API(); err == nil || clouds != 1 {
		t.Errorf("API: %v, %d calls", err, clouds)
	}
	if _, err := got.Sessions(); err == nil || sessions != 1 {
		t.Errorf("Sessions: %v, %d calls", err, sessions)
	}
}
