package exec

import (
	"context"
	"testing"

	"github.com/ecsterm/ecsterm/internal/attach"
)

// The escape character (-e, or none) and --no-resume reach the exchange of exec -t as they did
// attach.Options before the seam; --no-resume reaches every fanned-out exchange too.
func TestExecRunSessionOptions(t *testing.T) {
	tests := []struct {
		name     string
		escape   string
		noResume bool
		targets  []string
		wantEsc  byte
		wantOff  bool
	}{
		{name: "-e ^X", escape: "^X", targets: []string{"i-abc"}, wantEsc: 0x18},
		{name: "-e none --no-resume", escape: "none", noResume: true, targets: []string{"i-abc"}, wantOff: true},
		{name: "fan-out --no-resume", escape: "~", noResume: true, targets: []string{"i-a", "i-b"}, wantEsc: '~'},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &fakeSessions{exec: func(context.Context, attach.ExecOptions) (int, error) { return 0, nil }}
			opts, _, _, _ := newOpts(t, &fakeAPI{}, s, tt.targets...)
			opts.TTY = len(tt.targets) == 1
			opts.EscapeChar, opts.NoResume = tt.escape, tt.noResume
			if err := execRun(context.Background(), opts); err != nil {
				t.Fatal(err)
			}
			if len(s.calls) != len(tt.targets) {
				t.Fatalf("%d exchanges, want %d", len(s.calls), len(tt.targets))
			}
			for _, c := range s.calls {
				if c.NoResume != tt.noResume {
					t.Errorf("%s: NoResume %v, want %v", c.InstanceID, c.NoResume, tt.noResume)
				}
				if !opts.TTY {
					continue // fanned out: no terminal, so no escapes
				}
				if c.Escape != tt.wantEsc || c.NoEscape != tt.wantOff {
					t.Errorf("escape %#x (off %v), want %#x (off %v)", c.Escape, c.NoEscape, tt.wantEsc, tt.wantOff)
				}
				if c.In != opts.IO.InFile || c.Out != opts.IO.OutFile || c.SetRaw == nil || c.StatusOut == nil {
					t.Errorf("the terminal or the status stream did not reach the exchange: %+v", c)
				}
			}
		})
	}
}
