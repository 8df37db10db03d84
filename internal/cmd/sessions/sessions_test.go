package sessions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/config"
	"github.com/ecsterm/ecsterm/internal/emulator"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/target"
)

const demo = "i-emu0demo000000001"

func TestNewCmdSessions(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		states  []string
		targets int
		wantErr string
	}{
		{name: "none", args: nil},
		{name: "targets", args: []string{demo, "web-*"}, targets: 2},
		{name: "states", args: []string{"--state", "connected,FAILED", "--state", "terminated"}, states: []string{"Connected", "Failed", "Terminated"}},
		{name: "active", args: []string{"--active"}, states: []string{"Connecting", "Connected"}},
		{name: "bad state", args: []string{"--state", "asleep"}, wantErr: "--state must be one of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			f := &cmdutil.Factory{IOStreams: ios, Config: func() (*config.Config, error) { return &config.Config{Output: "json"}, nil },
				Cloud: func() (*cloud.Client, error) { return nil, nil }}
			var got *Options
			cmd := NewCmdSessions(f, func(_ context.Context, o *Options) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			_, err := cmd.ExecuteC()
			if tt.wantErr != "" {
				var fe *cmdutil.FlagError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &fe) {
					t.Fatalf("err = %v, want a usage error %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Targets) != tt.targets || !reflect.DeepEqual(got.States, tt.states) || !got.JSON {
				t.Errorf("got %d targets, states %v, json %v", len(got.Targets), got.States, got.JSON)
			}
		})
	}
}

func TestEndArgs(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios}
	cmd := NewCmdSessions(f, nil)
	cmd.SetArgs([]string{"end"})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	if _, err := cmd.ExecuteC(); err == nil || !strings.Contains(err.Error(), "at least 1") {
		t.Errorf("end without an ID: %v", err)
	}
}

func setup(t *testing.T) (*emulator.Emulator, *cloud.Client) {
	t.Helper()
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	e, err := emulator.New(emulator.Options{SessionsPerRegion: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	cred := e.Credential()
	c, err := cloud.New(cloud.Config{Region: e.Region(), Endpoint: e.Endpoint(), AccessKeyID: cred.AccessKeyID, AccessKeySecret: cred.AccessKeySecret})
	if err != nil {
		t.Fatal(err)
	}
	return e, c
}

func run(t *testing.T, c *cloud.Client, opts Options, tty bool) (stdout, stderr string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	ios.SetTTY(false, tty, tty)
	opts.IO = ios
	opts.API = c
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sessionsRun(ctx, &opts); err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String()
}

// TestPaging: 150 sessions come in two pages of 100, and every one is listed once.
func TestPaging(t *testing.T) {
	e, c := setup(t)
	ctx := context.Background()
	for range 150 {
		if _, err := c.StartSession(ctx, cloud.StartOptions{InstanceID: demo, PortNumber: 22}); err != nil {
			t.Fatal(err)
		}
	}
	out, _ := run(t, c, Options{JSON: true}, false)
	var recs []Record
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, r := range recs {
		ids[r.SessionID] = true
		if r.Kind != "port" || r.PortNumber != 22 || r.State != "Connecting" {
			t.Errorf("record %+v", r)
		}
	}
	if len(recs) != 150 || len(ids) != 150 {
		t.Errorf("%d records, %d distinct; want 150", len(recs), len(ids))
	}
	if n := e.Calls("DescribeTerminalSessions"); n != 2 {
		t.Errorf("DescribeTerminalSessions called %d times, want 2 pages of 100", n)
	}
}

// TestEscaped: text from the service reaches the terminal escaped, so a user name cannot drive
// the terminal or forge a row.
func TestEscaped(t *testing.T) {
	_, c := setup(t)
	if _, err := c.StartSession(context.Background(), cloud.StartOptions{InstanceID: demo, Username: "x\x1b]0;pwned\x07\nfake\trow"}); err != nil {
		t.Fatal(err)
	}
	for _, tty := range []bool{true, false} {
		out, _ := run(t, c, Options{}, tty)
		if strings.ContainsAny(out, "\x1b\x07") || strings.Count(out, "\n") != map[bool]int{true: 2, false: 1}[tty] {
			t.Errorf("tty %v: output not escaped: %q", tty, out)
		}
		if !strings.Contains(out, `x\x1b]0;pwned\x07 fake row`) {
			t.Errorf("tty %v: user name not shown escaped: %q", tty, out)
		}
	}
}

// TestJSONEscaped: in -o json, a C1 control or bidi override from the service is written as
// \uXXXX, so a terminal showing the JSON does not obey it; the value decodes unchanged.
func TestJSONEscaped(t *testing.T) {
	_, c := setup(t)
	user := "a\u009b31mb\u202e"
	if _, err := c.StartSession(context.Background(), cloud.StartOptions{InstanceID: demo, Username: user}); err != nil {
		t.Fatal(err)
	}
	out, _ := run(t, c, Options{JSON: true}, false)
	if strings.ContainsAny(out, "\u009b\u202e") {
		t.Errorf("raw control characters in %q", out)
	}
	var recs []Record
	if err := json.Unmarshal([]byte(out), &recs); err != nil || len(recs) != 1 || recs[0].Username != user {
		t.Errorf("decoded %+v, %v", recs, err)
	}
}

// TestManyTargets: a target that matches many instances costs one listing of the region, not
// one per instance, and keeps only their sessions.
func TestManyTargets(t *testing.T) {
	var b strings.Builder
	b.WriteString("region: cn-hangzhou\ninstances:\n")
	for i := range 12 {
		role := "web"
		if i >= 10 {
			role = "db"
		}
		fmt.Fprintf(&b, "  - id: i-fl%016d\n    name: host-%02d\n    tags: {role: %s}\n    agent: {version: 2.2.3.512, online: true, sessionManager: true}\n", i, i, role)
	}
	fleet, err := emulator.ParseFleet([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	e, err := emulator.New(emulator.Options{Fleet: fleet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	cred := e.Credential()
	c, err := cloud.New(cloud.Config{Region: e.Region(), Endpoint: e.Endpoint(), AccessKeyID: cred.AccessKeyID, AccessKeySecret: cred.AccessKeySecret})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"i-fl0000000000000001", "i-fl0000000000000007", "i-fl0000000000000011"} {
		if _, err := c.StartSession(context.Background(), cloud.StartOptions{InstanceID: id}); err != nil {
			t.Fatal(err)
		}
	}
	spec, err := target.Parse("tag:role=web")
	if err != nil {
		t.Fatal(err)
	}
	out, _ := run(t, c, Options{JSON: true, Targets: []target.Spec{spec}}, false)
	var recs []Record
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.InstanceIDs...)
	}
	slices.Sort(got)
	if want := []string{"i-fl0000000000000001", "i-fl0000000000000007"}; !slices.Equal(got, want) {
		t.Errorf("sessions on %v, want %v", got, want)
	}
	if n := e.Calls("DescribeTerminalSessions"); n != 1 {
		t.Errorf("DescribeTerminalSessions called %d times for 10 instances, want 1", n)
	}
}
