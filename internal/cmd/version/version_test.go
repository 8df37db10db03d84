package version

import (
	"context"
	"runtime"
	"testing"

	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/iostreams"
)

func TestVersionRun(t *testing.T) {
	ios, _, out, errOut := iostreams.Test()
	if err := versionRun(context.Background(), &Options{IO: ios, Version: "1.2.3"}); err != nil {
		t.Fatal(err)
	}
	want := "ecsterm 1.2.3 (" + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
	if out.String() != want || errOut.Len() != 0 {
		t.Errorf("stdout %q, want %q; stderr %q", out, want, errOut)
	}
}

func TestNewCmdVersion(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	var got *Options
	cmd := NewCmdVersion(&cmdutil.Factory{IOStreams: ios, Version: "9.9"}, func(_ context.Context, o *Options) error { got = o; return nil })
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil || got.Version != "9.9" || got.IO != ios {
		t.Errorf("err %v, options %+v", err, got)
	}
	cmd = NewCmdVersion(&cmdutil.Factory{IOStreams: ios}, nil)
	cmd.SetArgs([]string{"extra"})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	if err := cmd.Execute(); err == nil {
		t.Error("version took an argument")
	}
}
