package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/config"
	"github.com/ecsterm/ecsterm/internal/emulator"
	"github.com/ecsterm/ecsterm/internal/iostreams"
)

// isolate keeps the credential chain away from this machine's own configuration.
func isolate(t *testing.T) {
	t.Helper()
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	t.Setenv("HOME", t.TempDir())
	for _, k := range []string{"ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN",
		"ALIBABA_CLOUD_PROFILE", "ALIBABA_CLOUD_CONFIG_FILE", "ALIBABA_CLOUD_CREDENTIALS_FILE", "ALIBABA_CLOUD_CREDENTIALS_URI",
		"ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "ALIBABA_CLOUD_OIDC_TOKEN_FILE", "ALIBABA_CLOUD_ROLE_ARN", "ALIBABA_CLOUD_ECS_METADATA",
		"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "DEBUG"} {
		t.Setenv(k, "")
	}
}

func newEmulator(t *testing.T, fleet *emulator.Fleet) *emulator.Emulator {
	t.Helper()
	isolate(t)
	e, err := emulator.New(emulator.Options{Fleet: fleet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// clientFor builds the client the way the factory would, with the emulator's key or another secret.
func clientFor(t *testing.T, e *emulator.Emulator, secret string) *cloud.Client {
	cred := e.Credential()
	if secret == "" {
		secret = cred.AccessKeySecret
	}
	c, err := cloud.New(cloud.Config{Region: e.Region(), Endpoint: e.Endpoint(), AccessKeyID: cred.AccessKeyID, AccessKeySecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// built is the Options RunE fills from what building a client returned.
func built(c *cloud.Client, err error) Options {
	if err != nil {
		return Options{APIErr: err}
	}
	return Options{API: c}
}

func run(t *testing.T, opts Options) (string, error) {
	t.Helper()
	ios, _, out, _ := iostreams.Test()
	opts.IO = ios
	if opts.Config == nil && opts.ConfigErr == nil {
		opts.Config = &config.Config{Region: "cn-hangzhou"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := doctorRun(ctx, &opts)
	return out.String(), err
}

// lines maps each check to its line, and fails on a line that is not "status check message".
func lines(t *testing.T, out string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if strings.HasPrefix(l, "   ") { // a detail line
			continue
		}
		f := strings.Fields(l)
		if len(f) < 3 || (f[0] != OK && f[0] != Warn && f[0] != Fail) {
			t.Fatalf("malformed line %q in\n%s", l, out)
		}
		name := f[1]
		if name == "session" || name == "agent" && f[2] == "version" {
			name += " " + f[2]
		}
		m[name] = l
	}
	return m
}

func expect(t *testing.T, out string, want map[string][]string) {
	t.Helper()
	got := lines(t, out)
	for check, subs := range want {
		l, ok := got[check]
		if !ok {
			t.Errorf("no %q line in\n%s", check, out)
			continue
		}
		for _, s := range subs {
			if !strings.Contains(l, s) {
				t.Errorf("%s line %q lacks %q", check, l, s)
			}
		}
	}
}

func TestGoodSetup(t *testing.T) {
	e := newEmulator(t, nil)
	out, err := run(t, Options{API: clientFor(t, e, "")})
	if err != nil {
		t.Fatalf("err = %v\n%s", err, out)
	}
	expect(t, out, map[string][]string{
		"credentials": {"ok", "found, from provider"},
		"region":      {"ok", "cn-hangzhou"},
		"endpoint":    {"ok", e.Endpoint(), "answers"},
		"clock":       {"ok"},
		"api":         {"ok", "accepted"},
		"sessions":    {"ok", "enabled", "(DescribeCloudAssistantSettings answered)"},
		"connection":  {"ok", "internet, the service's default"},
		"recording":   {"ok", "does not record sessions"},
	})
	if strings.Contains(out, e.Credential().AccessKeySecret) {
		t.Error("the secret was printed")
	}
	if n := len(lines(t, out)); n != 8 {
		t.Errorf("%d lines, want 8:\n%s", n, out)
	}
}

func TestReadyTarget(t *testing.T) {
	e := newEmulator(t, nil)
	for _, tgt := range []string{"i-emu0demo000000001", "demo-web-01", "root@10.0.0.11", "tag:role=web"} {
		out, err := run(t, Options{API: clientFor(t, e, ""), Target: tgt})
		if err != nil {
			t.Fatalf("%s: err = %v\n%s", tgt, err, out)
		}
		expect(t, out, map[string][]string{
			"instance":        {"ok", "i-emu0demo000000001", "demo-web-01", "linux", "10.0.0.11"},
			"running":         {"ok", "Running"},
			"agent":           {"ok", "online"},
			"session manager": {"ok", "supports"},
			"agent version":   {"ok", "later than 2.2.3.256"},
		})
		if tgt != "i-emu0demo000000001" && !strings.Contains(out, "found by") {
			t.Errorf("%s: the instance line does not say how it was found:\n%s", tgt, out)
		}
	}
}

func TestBrokenSetups(t *testing.T) {
	disabled := emulator.DefaultFleet()
	disabled.SessionManager = "disabled"
	dup, err := emulator.ParseFleet([]byte(`
instances:
  - {id: i-dup0000000000000001, name: api, privateIp: 10.0.0.1}
  - {id: i-dup0000000000000002, name: api, status: Stopped, privateIp: 10.0.0.2}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		fleet  *emulator.Fleet
		secret string
		target string
		want   map[string][]string
	}{
		{name: "wrong secret", secret: "not-the-secret", target: "i-emu0demo000000001", want: map[string][]string{
			"credentials": {"ok"},
			"api":         {"FAIL", "SignatureDoesNotMatch", "secret is wrong", "RequestId"},
			"target":      {"warn", "not checked"},
		}},
		{name: "sessions disabled", fleet: disabled, want: map[string][]string{
			"api":      {"ok"},
			"sessions": {"FAIL", "disabled", "enable it in the ECS console"},
		}},
		{name: "stopped target", target: "i-emu0stopped000002", want: map[string][]string{
			"instance":      {"ok", "i-emu0stopped000002"},
			"running":       {"FAIL", "Stopped", "start it first"},
			"agent":         {"warn", "offline", "not running"},
			"agent version": {"ok"},
		}},
		{name: "no agent", target: "demo-no-agent", want: map[string][]string{
			"running": {"ok"},
			"agent":   {"FAIL", "not installed", "InstallCloudAssistant"},
		}},
		{name: "old agent", target: "i-emu0oldagent00004", want: map[string][]string{
			"agent":           {"ok"},
			"session manager": {"FAIL", "too old", "update the agent"},
			"agent version":   {"FAIL", "2.2.0.106", "2.2.3.256"},
		}},
		{name: "offline agent", target: "i-emu0offline000005", want: map[string][]string{
			"agent": {"FAIL", "offline", "agent service"},
		}},
		{name: "unknown ID", target: "i-doesnotexist", want: map[string][]string{
			"instance": {"FAIL", "no such instance", "--region"},
		}},
		{name: "unknown name", target: "nope-*", want: map[string][]string{
			"target": {"FAIL", `no instance matches name "nope-*"`},
		}},
		{name: "ambiguous name", fleet: dup, target: "api", want: map[string][]string{
			"target": {"FAIL", `name "api" matches 2 instances`, "give one of these IDs"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEmulator(t, tc.fleet)
			out, err := run(t, Options{API: clientFor(t, e, tc.secret), Target: tc.target})
			if !errors.Is(err, cmdutil.ErrSilent) {
				t.Errorf("err = %v, want ErrSilent (exit 255)", err)
			}
			expect(t, out, tc.want)
			if tc.name == "ambiguous name" {
				for _, id := range []string{"i-dup0000000000000001", "i-dup0000000000000002"} {
					if !strings.Contains(out, "   "+id) {
						t.Errorf("match %s not listed on its own line:\n%s", id, out)
					}
				}
			}
		})
	}
}

func TestUnreachableEndpoint(t *testing.T) {
	e := newEmulator(t, nil)
	c := clientFor(t, e, "")
	e.Close()
	out, err := run(t, Options{API: c, Target: "i-emu0demo000000001"})
	if !errors.Is(err, cmdutil.ErrSilent) {
		t.Errorf("err = %v", err)
	}
	expect(t, out, map[string][]string{"endpoint": {"FAIL", "cannot reach", "ECSTERM_ENDPOINT"}})
	if strings.Contains(out, "api") || strings.Contains(out, "running") {
		t.Errorf("checks ran after the endpoint failed:\n%s", out)
	}
}

func TestNoRegionNoCredentials(t *testing.T) {
	isolate(t)
	noRegion := func() Options { return built(cloud.New(cloud.Config{})) }
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIexample")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "s3cret")
	opts := noRegion()
	opts.Config = &config.Config{}
	out, err := run(t, opts)
	if !errors.Is(err, cmdutil.ErrSilent) {
		t.Errorf("err = %v", err)
	}
	expect(t, out, map[string][]string{
		"credentials": {"ok", "env"},
		"region":      {"FAIL", "no region", "--region"},
	})
	if strings.Contains(out, "s3cret") {
		t.Error("the secret was printed")
	}

	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "")
	out, _ = run(t, built(cloud.New(cloud.Config{Region: "cn-hangzhou"})))
	expect(t, out, map[string][]string{
		"credentials": {"FAIL", "no Alibaba Cloud credentials found", "ALIBABA_CLOUD_ACCESS_KEY_ID"},
		"region":      {"ok", "cn-hangzhou"},
	})
	if strings.Contains(out, "endpoint") {
		t.Errorf("missing credentials reported as an endpoint problem:\n%s", out)
	}
}

func TestClock(t *testing.T) {
	for _, tc := range []struct {
		skew   time.Duration
		status string
		want   string
	}{
		{0, OK, "in step"},
		{-time.Second, OK, "in step"},
		{3 * time.Minute, OK, "3m0s behind"},
		{-6 * time.Minute, Warn, "6m0s ahead of"},
		{16 * time.Minute, Fail, "refused"},
		{-20 * time.Minute, Fail, "20m0s ahead of"},
	} {
		r := &report{json: true}
		clock(r, &cloud.EndpointProbe{Date: time.Now(), Skew: tc.skew})
		got := r.results[0]
		if got.Status != tc.status || !strings.Contains(got.Message, tc.want) {
			t.Errorf("skew %v: %+v, want %s with %q", tc.skew, got, tc.status, tc.want)
		}
		if got.Status != OK && !strings.Contains(got.Fix, "sync") {
			t.Errorf("skew %v: no fix: %+v", tc.skew, got)
		}
	}
	r := &report{json: true}
	clock(r, &cloud.EndpointProbe{})
	if r.results[0].Status != Warn {
		t.Errorf("no Date: %+v", r.results[0])
	}
}

func TestJSON(t *testing.T) {
	e := newEmulator(t, nil)
	out, err := run(t, Options{API: clientFor(t, e, ""), Target: "i-emu0stopped000002", JSON: true})
	if !errors.Is(err, cmdutil.ErrSilent) {
		t.Errorf("err = %v", err)
	}
	var results []map[string]any
	if err := json.Unmarshal([]byte(out), &results); err != nil {
		t.Fatalf("not one JSON array: %v\n%s", err, out)
	}
	var checks []string
	for _, r := range results {
		for _, k := range []string{"check", "status", "message", "fix", "details"} {
			if _, ok := r[k]; !ok {
				t.Errorf("%v lacks %q", r, k)
			}
		}
		checks = append(checks, r["check"].(string)+"="+r["status"].(string))
	}
	want := "credentials=ok region=ok endpoint=ok clock=ok api=ok sessions=ok connection=ok recording=ok instance=ok running=FAIL agent=warn session manager=ok agent version=ok"
	if got := strings.Join(checks, " "); got != want {
		t.Errorf("checks\n got %s\nwant %s", got, want)
	}
}

func TestNewCmdDoctor(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		target  string
		wantErr string
	}{
		{args: nil},
		{args: []string{"web-01"}, target: "web-01"},
		{args: []string{"root@i-abc"}, target: "root@i-abc"},
		{args: []string{"a", "b"}, wantErr: "accepts at most 1 arg"},
		{args: []string{"tag:"}, wantErr: "no tag key"},
	} {
		ios, _, _, _ := iostreams.Test()
		f := &cmdutil.Factory{IOStreams: ios, Config: func() (*config.Config, error) { return &config.Config{Output: "json"}, nil },
			Cloud: func() (*cloud.Client, error) { return &cloud.Client{}, nil }}
		var got *Options
		cmd := NewCmdDoctor(f, func(_ context.Context, o *Options) error { got = o; return nil })
		cmd.SetArgs(tc.args)
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		_, err := cmd.ExecuteC()
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: err = %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got.Target != tc.target || !got.JSON || got.Pick != nil {
			t.Errorf("%v: %+v, %v", tc.args, got, err)
		}
	}
}
