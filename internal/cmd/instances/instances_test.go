package instances

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/config"
	"github.com/ecsterm/ecsterm/internal/emulator"
	"github.com/ecsterm/ecsterm/internal/iostreams"
)

func TestNewCmdInstances(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		output  string
		want    Options // Filter and JSON
		wantErr string
	}{
		{name: "none", args: nil, want: Options{}},
		{name: "json", args: nil, output: "json", want: Options{JSON: true}},
		{name: "name", args: []string{"--name", "web-*"}, want: Options{Filter: cloud.InstanceFilter{Name: "web-*"}}},
		{name: "tags", args: []string{"--tag", "env=prod", "--tag", "role"},
			want: Options{Filter: cloud.InstanceFilter{Tags: []cloud.Tag{{Key: "env", Value: "prod"}, {Key: "role"}}}}},
		{name: "tag value with =", args: []string{"--tag", "k=a=b"}, want: Options{Filter: cloud.InstanceFilter{Tags: []cloud.Tag{{Key: "k", Value: "a=b"}}}}},
		{name: "state any case", args: []string{"--state", "running"}, want: Options{Filter: cloud.InstanceFilter{Status: "Running"}}},
		{name: "bad state", args: []string{"--state", "asleep"}, wantErr: "--state must be one of"},
		{name: "tag without key", args: []string{"--tag", "=x"}, wantErr: "no key"},
		{name: "too many tags", args: strings.Fields(strings.Repeat("--tag k ", 21)), wantErr: "at most 20"},
		{name: "no arguments", args: []string{"web"}, wantErr: "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, stdout, stderr := iostreams.Test()
			output := tt.output
			if output == "" {
				output = "text"
			}
			f := &cmdutil.Factory{IOStreams: ios, Config: func() (*config.Config, error) { return &config.Config{Output: output}, nil },
				Cloud: func() (*cloud.Client, error) { return nil, nil }}
			var got *Options
			cmd := NewCmdInstances(f, func(_ context.Context, o *Options) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(stdout)
			cmd.SetErr(stderr)
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			_, err := cmd.ExecuteC()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				var fe *cmdutil.FlagError
				if !strings.Contains(tt.wantErr, "unknown") && !errors.As(err, &fe) {
					t.Errorf("%T is not a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Filter, tt.want.Filter) || got.JSON != tt.want.JSON {
				t.Errorf("got filter %+v json %v, want %+v %v", got.Filter, got.JSON, tt.want.Filter, tt.want.JSON)
			}
		})
	}
	if cmd := NewCmdInstances(&cmdutil.Factory{}, nil); !cmd.HasAlias("ls") {
		t.Error("no ls alias")
	}
}

// fleetOf builds n instances covering every SESSION reason: i%6 picks ready, stopped, no agent,
// offline, too old, Windows ready.
func fleetOf(t *testing.T, n int) *emulator.Fleet {
	t.Helper()
	var b strings.Builder
	b.WriteString("region: cn-hangzhou\ninstances:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - id: i-fl%016d\n    name: host-%03d\n    privateIp: 10.2.%d.%d\n", i, i, i/250, i%250+1)
		switch i % 6 {
		case 0:
			b.WriteString("    publicIp: 47.1.0.1\n    tags: {env: prod}\n    agent: {version: 2.2.3.512, online: true, sessionManager: true}\n")
		case 1:
			b.WriteString("    status: Stopped\n    agent: {version: 2.2.3.512, online: false, sessionManager: true}\n")
		case 2:
		case 3:
			b.WriteString("    agent: {version: 2.2.3.512, online: false, sessionManager: true}\n")
		case 4:
			b.WriteString("    agent: {version: 2.2.0.106, online: true, sessionManager: false}\n")
		case 5:
			b.WriteString("    os: Windows\n    osName: Windows Server 2022\n    agent: {version: 2.1.3.600, online: true, sessionManager: true}\n")
		}
	}
	f, err := emulator.ParseFleet([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func setup(t *testing.T, fleet *emulator.Fleet) (*emulator.Emulator, *cloud.Client) {
	t.Helper()
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
	if err := instancesRun(ctx, &opts); err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String()
}

// TestFleetOf120: one paged walk (2 pages) and 3 agent calls of at most 50, never one per
// instance, and every instance in the JSON with every field.
func TestFleetOf120(t *testing.T) {
	e, c := setup(t, fleetOf(t, 120))
	out, _ := run(t, c, Options{JSON: true}, false)
	if n := e.Calls("DescribeInstances"); n != 2 {
		t.Errorf("DescribeInstances calls = %d, want 2 (pages of 100)", n)
	}
	if n := e.Calls("DescribeCloudAssistantStatus"); n != 3 {
		t.Errorf("DescribeCloudAssistantStatus calls = %d, want 3 (50 IDs a call)", n)
	}
	for _, a := range []string{"StartTerminalSession", "DescribeUserBusinessBehavior", "RunCommand"} {
		if n := e.Calls(a); n != 0 {
			t.Errorf("%s called %d times", a, n)
		}
	}
	var recs []map[string]any
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		t.Fatalf("not one JSON array: %v\n%s", err, out)
	}
	if len(recs) != 120 {
		t.Fatalf("%d records, want 120", len(recs))
	}
	for i, r := range recs {
		if want := fmt.Sprintf("i-fl%016d", i); r["instance_id"] != want {
			t.Fatalf("record %d is %v, want %s (ordered by name)", i, r["instance_id"], want)
		}
		for _, k := range []string{"instance_id", "name", "state", "os", "os_name", "zone", "instance_type", "private_ip", "public_ip", "tags", "agent", "session"} {
			if _, ok := r[k]; !ok {
				t.Fatalf("record %d lacks %q", i, k)
			}
		}
	}
}

// TestJSONGolden: the records of one instance of each kind, field for field and in order.
func TestJSONGolden(t *testing.T) {
	_, c := setup(t, fleetOf(t, 6))
	out, _ := run(t, c, Options{JSON: true}, false)
	var recs []json.RawMessage
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		t.Fatal(err)
	}
	compact := func(m json.RawMessage) string {
		var b bytes.Buffer
		_ = json.Compact(&b, m)
		return b.String()
	}
	want := []string{
		`{"instance_id":"i-fl0000000000000000","name":"host-000","state":"Running","os":"linux","os_name":"","zone":"cn-hangzhou-h","instance_type":"ecs.g7.large","private_ip":"10.2.0.1","public_ip":"47.1.0.1","tags":{"env":"prod"},"agent":{"status":"online","version":"2.2.3.512","session_manager":true,"last_heartbeat":"HB"},"session":{"ready":true,"reason":"","problem":"","fix":""}}`,
		`{"instance_id":"i-fl0000000000000001","name":"host-001","state":"Stopped","os":"linux","os_name":"","zone":"cn-hangzhou-h","instance_type":"ecs.g7.large","private_ip":"10.2.0.2","public_ip":"","tags":{},"agent":{"status":"offline","version":"2.2.3.512","session_manager":true,"last_heartbeat":""},"session":{"ready":false,"reason":"stopped","problem":"instance is Stopped, not Running","fix":"start it first (console or ` + "`aliyun ecs StartInstance`" + `)"}}`,
		`{"instance_id":"i-fl0000000000000002","name":"host-002","state":"Running","os":"linux","os_name":"","zone":"cn-hangzhou-h","instance_type":"ecs.g7.large","private_ip":"10.2.0.3","public_ip":"","tags":{},"agent":{"status":"none","version":"","session_manager":false,"last_heartbeat":""},"session":{"ready":false,"reason":"no agent","problem":"Cloud Assistant agent is not installed","fix":"install it with --install-agent (InstallCloudAssistant), then reboot the instance"}}`,
		`{"instance_id":"i-fl0000000000000003","name":"host-003","state":"Running","os":"linux","os_name":"","zone":"cn-hangzhou-h","instance_type":"ecs.g7.large","private_ip":"10.2.0.4","public_ip":"","tags":{},"agent":{"status":"offline","version":"2.2.3.512","session_manager":true,"last_heartbeat":""},"session":{"ready":false,"reason":"agent offline","problem":"Cloud Assistant agent 2.2.3.512 is offline","fix":"check that the agent service runs on the instance and can reach Alibaba Cloud"}}`,
		`{"instance_id":"i-fl0000000000000004","name":"host-004","state":"Running","os":"linux","os_name":"","zone":"cn-hangzhou-h","instance_type":"ecs.g7.large","private_ip":"10.2.0.5","public_ip":"","tags":{},"agent":{"status":"online","version":"2.2.0.106","session_manager":false,"last_heartbeat":"HB"},"session":{"ready":false,"reason":"agent too old","problem":"Cloud Assistant agent 2.2.0.106 is too old for sessions (need later than 2.2.3.256)","fix":"update the agent on the instance"}}`,
		`{"instance_id":"i-fl0000000000000005","name":"host-005","state":"Running","os":"windows","os_name":"Windows Server 2022","zone":"cn-hangzhou-h","instance_type":"ecs.g7.large","private_ip":"10.2.0.6","public_ip":"","tags":{},"agent":{"status":"online","version":"2.1.3.600","session_manager":true,"last_heartbeat":"HB"},"session":{"ready":true,"reason":"","problem":"","fix":""}}`,
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	for i := range want {
		got := compact(recs[i])
		// The heartbeat is the emulator's clock: check its shape, then compare the rest.
		if j := strings.Index(got, `"last_heartbeat":"2`); j >= 0 {
			end := strings.Index(got[j+18:], `"`)
			hb := got[j+18 : j+18+end]
			if _, err := time.Parse(time.RFC3339, hb); err != nil {
				t.Errorf("heartbeat %q", hb)
			}
			got = strings.Replace(got, hb, "HB", 1)
		}
		w := strings.ReplaceAll(want[i], "\\u0026", "&")
		if got != w {
			t.Errorf("record %d:\n got %s\nwant %s", i, got, w)
		}
	}
}

func TestTable(t *testing.T) {
	f := fleetOf(t, 6)
	f.Instances[0].Name = "evil\x1b]0;pwned\x07"
	_, c := setup(t, f)
	out, _ := run(t, c, Options{}, true)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 7 {
		t.Fatalf("want a header and 6 rows:\n%s", out)
	}
	if !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "PRIVATE IP") || !strings.HasSuffix(strings.TrimSpace(lines[0]), "SESSION") {
		t.Errorf("header %q", lines[0])
	}
	col := strings.Index(lines[0], "SESSION")
	for _, want := range []string{"yes", "no (stopped)", "no (no agent)", "no (agent offline)", "no (agent too old)"} {
		found := false
		for _, l := range lines[1:] {
			if len(l) > col && strings.HasPrefix(l[col:], want) {
				found = true
			}
		}
		if !found {
			t.Errorf("no row with SESSION %q aligned under the header:\n%s", want, out)
		}
	}
	for _, want := range []string{"online 2.2.3.512", "offline 2.2.3.512", "none", "windows", "Stopped", "10.2.0.6"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q", want)
		}
	}
	if strings.ContainsAny(out, "\x1b\x07") || !strings.Contains(out, `evil\x1b]0;pwned\x07`) {
		t.Errorf("control characters not escaped:\n%q", out)
	}
}

func TestTSVWhenPiped(t *testing.T) {
	_, c := setup(t, fleetOf(t, 2))
	out, _ := run(t, c, Options{}, false)
	want := "i-fl0000000000000000\thost-000\tRunning\tlinux\t10.2.0.1\tonline 2.2.3.512\tyes\n" +
		"i-fl0000000000000001\thost-001\tStopped\tlinux\t10.2.0.2\toffline 2.2.3.512\tno (stopped)\n"
	if out != want {
		t.Errorf("got\n%q\nwant\n%q", out, want)
	}
}

func TestFiltersAndEmpty(t *testing.T) {
	e, c := setup(t, fleetOf(t, 12))
	out, _ := run(t, c, Options{JSON: true, Filter: cloud.InstanceFilter{Tags: []cloud.Tag{{Key: "env", Value: "prod"}}, Status: "Running"}}, false)
	var recs []Record
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].InstanceID != "i-fl0000000000000000" || recs[1].InstanceID != "i-fl0000000000000006" {
		t.Errorf("got %+v", recs)
	}
	before := e.Calls("DescribeCloudAssistantStatus")
	out, _ = run(t, c, Options{JSON: true, Filter: cloud.InstanceFilter{Name: "nothing*"}}, false)
	if strings.TrimSpace(out) != "[]" {
		t.Errorf("empty JSON = %q, want []", out)
	}
	if e.Calls("DescribeCloudAssistantStatus") != before {
		t.Error("agent status asked for no instances")
	}
	out, errOut := run(t, c, Options{Filter: cloud.InstanceFilter{Name: "nothing*"}}, true)
	if out != "" || !strings.Contains(errOut, "no instances in cn-hangzhou") {
		t.Errorf("empty table: stdout %q stderr %q", out, errOut)
	}
}
