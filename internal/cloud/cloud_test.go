package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/emulator"
	"github.com/ecsterm/ecsterm/pkg/session"
)

// The tests drive a real in-process emulator over loopback HTTP: the SDK, the signatures, the
// error bodies and the retries all run for real. Instance IDs are those of emulator/fleet.yaml.
const (
	idReady   = "i-emu0demo000000001"
	idStopped = "i-emu0stopped000002"
	idNoAgent = "i-emu0noagent000003"
	idOld     = "i-emu0oldagent00004"
	idOffline = "i-emu0offline000005"
	idWindows = "i-emu0windows000006"
)

// credentialEnv lists every variable the credentials-go chain reads for a credential source.
// credentials-go treats an empty value as unset (providers/env.go, cli_profile.go, oidc.go), so
// t.Setenv(name, "") isolates a test from the machine's own configuration.
var credentialEnv = []string{
	"ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN",
	"ALIBABA_CLOUD_PROFILE", "ALIBABA_CLOUD_CONFIG_FILE", "ALIBABA_CLOUD_CREDENTIALS_FILE",
	"ALIBABA_CLOUD_CREDENTIALS_URI", "ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
	"ALIBABA_CLOUD_OIDC_TOKEN", "ALIBABA_CLOUD_ROLE_ARN", "ALIBABA_CLOUD_ECS_METADATA",
	"ALIBABA_CLOUD_CLI_PROFILE_DISABLED", "USERPROFILE",
}

// isolate keeps a test on loopback and away from the real credential chain: no instance
// metadata, no proxy, no DEBUG=dara, and a fresh empty HOME. It returns that HOME.
func isolate(t *testing.T) string {
	t.Helper()
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	t.Setenv("DEBUG", "")
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"} {
		t.Setenv(k, "")
	}
	for _, k := range credentialEnv {
		t.Setenv(k, "")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	return home
}

func newEmulator(t *testing.T, opts emulator.Options) *emulator.Emulator {
	t.Helper()
	e, err := emulator.New(opts)
	if err != nil {
		t.Fatalf("emulator.New: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// newClient builds a client with the emulator's own AccessKey pair; edit adjusts the Config.
func newClient(t *testing.T, e *emulator.Emulator, edit func(*Config)) *Client {
	t.Helper()
	isolate(t)
	cred := e.Credential()
	cfg := Config{Region: e.Region(), Endpoint: e.Endpoint(), AccessKeyID: cred.AccessKeyID, AccessKeySecret: cred.AccessKeySecret}
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("cloud.New: %v", err)
	}
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestPreflightDefaultFleet(t *testing.T) {
	e := newEmulator(t, emulator.Options{})
	c := newClient(t, e, nil)
	tests := []struct {
		id        string
		wantErr   []string // substrings of the NotReadyError; nil means ready
		wantName  string
		wantOS    string
		wantAgent string
	}{
		{id: idReady, wantName: "demo-web-01", wantOS: "linux", wantAgent: "2.2.3.1032"},
		{id: idStopped, wantErr: []string{"Stopped"}},
		{id: idNoAgent, wantErr: []string{"not installed", "InstallCloudAssistant"}},
		{id: idOld, wantErr: []string{"too old", "2.2.3.256", "2.2.0.106"}},
		{id: idOffline, wantErr: []string{"offline"}},
		{id: "i-nosuchinstance0000", wantErr: []string{"no such instance", e.Region()}},
		{id: idWindows, wantName: "demo-win-01", wantOS: "windows", wantAgent: "2.1.3.600"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			di, dc := e.Calls("DescribeInstances"), e.Calls("DescribeCloudAssistantStatus")
			in, err := c.Preflight(ctx(t), tt.id)
			if got := e.Calls("DescribeInstances") - di; got != 1 {
				t.Errorf("DescribeInstances called %d times, want 1", got)
			}
			if got := e.Calls("DescribeCloudAssistantStatus") - dc; got != 1 {
				t.Errorf("DescribeCloudAssistantStatus called %d times, want 1", got)
			}
			if tt.wantErr != nil {
				var nr *NotReadyError
				if !errors.As(err, &nr) {
					t.Fatalf("Preflight(%s) = %v (%T), want *NotReadyError", tt.id, err, err)
				}
				if nr.InstanceID != tt.id || nr.Fix == "" {
					t.Errorf("NotReadyError = %+v, want InstanceID %s and a Fix", nr, tt.id)
				}
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("Preflight(%s) error %q does not mention %q", tt.id, err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Preflight(%s): %v", tt.id, err)
			}
			if in.ID != tt.id || in.Name != tt.wantName || in.OSType != tt.wantOS || in.AgentVersion != tt.wantAgent ||
				in.Status != "Running" || !in.AgentOnline || !in.SessionManager {
				t.Errorf("Preflight(%s) = %+v, want name %s, OS %s, online agent %s with session manager",
					tt.id, in, tt.wantName, tt.wantOS, tt.wantAgent)
			}
			if in.Windows() != (tt.wantOS == "windows") {
				t.Errorf("Windows() = %v for OSType %q", in.Windows(), in.OSType)
			}
		})
	}
}

func TestPreflightReadyFields(t *testing.T) {
	e := newEmulator(t, emulator.Options{})
	c := newClient(t, e, nil)
	in, err := c.Preflight(ctx(t), idReady)
	if err != nil {
		t.Fatal(err)
	}
	if in.PrivateIP != "10.0.0.11" {
		t.Errorf("PrivateIP = %q, want 10.0.0.11", in.PrivateIP)
	}
}

func TestVersionAfter(t *testing.T) {
	linux, windows := minLinuxAgent, minWindowsAgent
	tests := []struct {
		v    string
		min  []int
		want bool
	}{
		{"2.2.3.256", linux, false}, // equal is not above: the API page says "later than"
		{"2.2.3.257", linux, true},
		{"2.2.3.1000", linux, true}, // numeric, not lexical
		{"2.10.0.0", linux, true},
		{"3.0.0.0", linux, true},
		{"2.2.3.255", linux, false},
		{"2.2.0.106", linux, false},
		{"1.99.99.999", linux, false},
		{"2.2.3", linux, false},
		{"2.2.3.256.1", linux, true},
		{"2.1.3.600", windows, true},
		{"2.1.3.256", windows, false},
		{"2.1.3.600", linux, false},
		{"", linux, false},
		{"garbage", linux, false},
		{"2.2.x.999", linux, false},
		{"2.2.3.-1", linux, false},
	}
	for _, tt := range tests {
		if got := VersionAfter(tt.v, tt.min); got != tt.want {
			t.Errorf("VersionAfter(%q, %v) = %v, want %v", tt.v, tt.min, got, tt.want)
		}
	}
}

func TestStartSessionRetriesTransientErrors(t *testing.T) {
	e := newEmulator(t, emulator.Options{})
	c := newClient(t, e, nil)
	e.FailNext("StartTerminalSession", "InternalError.Dispatch", 2)
	s, err := c.StartSession(ctx(t), StartOptions{InstanceID: idReady})
	if err != nil {
		t.Fatalf("StartSession after two transient failures: %v", err)
	}
	if s.ID == "" {
		t.Error("session has no ID")
	}
	if n := e.Calls("StartTerminalSession"); n != 3 {
		t.Errorf("StartTerminalSession called %d times, want 3", n)
	}
}

func TestStartSessionGivesUpAfterAttempts(t *testing.T) {
	e := newEmulator(t, emulator.Options{})
	c := newClient(t, e, nil) // default: 4 attempts
	e.FailNext("StartTerminalSession", "InternalError.Dispatch", 10)
	_, err := c.StartSession(ctx(t), StartOptions{InstanceID: idReady})
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("StartSession = %v (%T), want *APIError", err, err)
	}
	if ae.Code != "InternalError.Dispatch" || ae.RequestID == "" || ae.Action != "StartTerminalSession" || ae.Status != 500 {
		t.Errorf("APIError = %+v, want StartTerminalSession InternalError.Dispatch 500 with a RequestId", ae)
	}
	for _, want := range []string{"after 4 attempts", "InternalError.Dispatch", ae.RequestID} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if n := e.Calls("StartTerminalSession"); n != 4 {
		t.Errorf("StartTerminalSession called %d times, want 4", n)
	}
}

func TestRetryClasses(t *testing.T) {
	tests := []struct {
		code      string
		transient bool
	}{
		{"InternalError.Dispatch", true},
		{"InternalError", true},
		{"ServiceUnavailable", true},
		{"Throttling", true},
		{"Throttling.User", true},
		{"InvalidParameter", false},
		{"IncorrectInstanceStatus", false},
		{"InstanceIds.ExceedLimit", false},
		{"Operation.Forbidden", false},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			e := newEmulator(t, emulator.Options{})
			c := newClient(t, e, func(cfg *Config) { cfg.Attempts = 2 })
			e.FailNext("StartTerminalSession", tt.code, 5)
			_, err := c.StartSession(ctx(t), StartOptions{InstanceID: idReady})
			var ae *APIError
			if !errors.As(err, &ae) || ae.Code != tt.code {
				t.Fatalf("StartSession = %v, want *APIError %s", err, tt.code)
			}
			want := 1
			if tt.transient {
				want = 2
			}
			if n := e.Calls("StartTerminalSession"); n != want {
				t.Errorf("StartTerminalSession called %d times, want %d", n, want)
			}
			if !tt.transient && strings.Contains(err.Error(), "attempts") {
				t.Errorf("a failure that was not retried says %q", err)
			}
		})
	}
}

func TestCredentialErrors(t *testing.T) {
	e := newEmulator(t, emulator.Options{})
	good := e.Credential()
	const wrongSecret = "not-the-secret-0123456789"
	tests := []struct {
		name, id, secret, wantCode, wantHint string
	}{
		{"wrong secret", good.AccessKeyID, wrongSecret, "SignatureDoesNotMatch", "secret is wrong"},
		{"unknown key", "LTAInobody0000000000", good.AccessKeySecret, "InvalidAccessKeyId.NotFound", "AccessKey ID is unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, e, func(cfg *Config) { cfg.AccessKeyID, cfg.AccessKeySecret = tt.id, tt.secret })
			_, err := c.Preflight(ctx(t), idReady)
			var ae *APIError
			if !errors.As(err, &ae) || ae.Code != tt.wantCode {
				t.Fatalf("Preflight = %v (%T), want *APIError %s", err, err, tt.wantCode)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantHint) || ae.RequestID == "" || !strings.Contains(msg, ae.RequestID) {
				t.Errorf("error %q lacks the hint %q or the RequestId", msg, tt.wantHint)
			}
			for _, secret := range []string{wrongSecret, good.AccessKeySecret} {
				if strings.Contains(msg, secret) {
					t.Errorf("error %q contains a secret", msg)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			if strings.Contains(msg, "attempts") {
				t.Errorf("a credential error was retried: %q", msg)
			}
		})
	}
}

// trapProxy is a proxy that should never be used: it counts connections, so a test can show
// that a code path made no network request at all (Go's proxy-from-environment skips loopback
// but would route the metadata service or any real endpoint through it).
func trapProxy(t *testing.T) *atomic.Int32 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		t.Setenv(k, "http://"+ln.Addr().String())
	}
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	return &n
}

func TestNewWithoutCredentials(t *testing.T) {
	isolate(t)
	conns := trapProxy(t)
	start := time.Now()
	_, err := New(Config{Region: "cn-hangzhou", Endpoint: "https://ecs.cn-hangzhou.aliyuncs.com"})
	if !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("New = %v, want an error wrapping ErrNoCredentials", err)
	}
	if !strings.Contains(err.Error(), "ALIBABA_CLOUD_ACCESS_KEY_ID") {
		t.Errorf("error %q does not say how to provide credentials", err)
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("New made %d network connections without credentials", n)
	}
	// The metadata service's timeouts are 1 s each: a quick answer means it was not tried.
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("New took %v: something in the chain waited on the network", d)
	}
}

func TestNewNeedsRegion(t *testing.T) {
	isolate(t)
	if _, err := New(Config{AccessKeyID: "id", AccessKeySecret: "secret"}); err == nil || !strings.Contains(err.Error(), "region") {
		t.Errorf("New without a region = %v, want an error naming the region", err)
	}
}

// writeCLIConfig writes an aliyun CLI config.json into home.
func writeCLIConfig(t *testing.T, home, current string, profiles ...map[string]string) {
	t.Helper()
	dir := filepath.Join(home, ".aliyun")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{"current": current, "profiles": profiles, "meta_path": ""})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestProfiles(t *testing.T) {
	e := newEmulator(t, emulator.Options{})
	home := isolate(t)
	cred := e.Credential()
	writeCLIConfig(t, home, "good",
		map[string]string{"name": "good", "mode": "AK", "access_key_id": cred.AccessKeyID,
			"access_key_secret": cred.AccessKeySecret, "region_id": e.Region()},
		map[string]string{"name": "bad", "mode": "AK", "access_key_id": cred.AccessKeyID,
			"access_key_secret": "wrong-secret-for-bad-profile", "region_id": e.Region()})

	newWith := func(profile string) (*Client, error) {
		return New(Config{Region: e.Region(), Endpoint: e.Endpoint(), Profile: profile})
	}
	t.Run("good", func(t *testing.T) {
		c, err := newWith("good")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Preflight(ctx(t), idReady); err != nil {
			t.Errorf("Preflight with profile good: %v", err)
		}
		if src := c.CredentialSource(); !strings.Contains(src, "cli_profile") {
			t.Errorf("CredentialSource = %q, want the CLI profile provider", src)
		}
	})
	t.Run("current profile through the default chain", func(t *testing.T) {
		c, err := newWith("")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Preflight(ctx(t), idReady); err != nil {
			t.Errorf("Preflight with the current profile: %v", err)
		}
	})
	t.Run("bad", func(t *testing.T) {
		// The environment holds working keys: a named profile must win over them.
		t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", cred.AccessKeyID)
		t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", cred.AccessKeySecret)
		c, err := newWith("bad")
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Preflight(ctx(t), idReady)
		var ae *APIError
		if !errors.As(err, &ae) || ae.Code != "SignatureDoesNotMatch" {
			t.Errorf("Preflight with profile bad = %v, want SignatureDoesNotMatch", err)
		}
		if err != nil && strings.Contains(err.Error(), "wrong-secret-for-bad-profile") {
			t.Errorf("error leaks the profile's secret: %v", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		// Neither the environment nor the current profile may stand in for a named profile.
		t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", cred.AccessKeyID)
		t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", cred.AccessKeySecret)
		_, err := newWith("missing")
		if !errors.Is(err, ErrNoCredentials) || !strings.Contains(err.Error(), `"missing"`) {
			t.Errorf("New with profile missing = %v, want ErrNoCredentials naming the profile", err)
		}
	})
}

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		raw, host, scheme string
		wantErr           string // substring; empty means success
	}{
		{raw: "http://127.0.0.1:8080", host: "127.0.0.1:8080", scheme: "http"},
		{raw: "http://127.0.0.1:8080/", host: "127.0.0.1:8080", scheme: "http"},
		{raw: "http://127.1.2.3:80", host: "127.1.2.3:80", scheme: "http"},
		{raw: "http://localhost:1", host: "localhost:1", scheme: "http"},
		{raw: "http://[::1]:9", host: "[::1]:9", scheme: "http"},
		{raw: "https://ecs.cn-hangzhou.aliyuncs.com", host: "ecs.cn-hangzhou.aliyuncs.com", scheme: "https"},
		{raw: "ecs.cn-hangzhou.aliyuncs.com", host: "ecs.cn-hangzhou.aliyuncs.com", scheme: "https"},
		{raw: "ecs-vpc.cn-hangzhou.aliyuncs.com:443", host: "ecs-vpc.cn-hangzhou.aliyuncs.com:443", scheme: "https"},
		{raw: "http://10.0.0.1", wantErr: "loopback"},
		{raw: "http://ecs.cn-hangzhou.aliyuncs.com", wantErr: "loopback"},
		{raw: "http://localhost.example.com:80", wantErr: "loopback"},
		{raw: "http://[::ffff:10.0.0.1]:80", wantErr: "loopback"},
		{raw: "https://ecs.cn-hangzhou.aliyuncs.com/api", wantErr: "path"},
		{raw: "http://127.0.0.1:8080/x", wantErr: "path"},
		{raw: "ftp://127.0.0.1", wantErr: "scheme"},
		{raw: "ws://127.0.0.1:80", wantErr: "scheme"},
		{raw: "http://", wantErr: "not a URL"},
	}
	for _, tt := range tests {
		host, scheme, err := ParseEndpoint(tt.raw)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseEndpoint(%q) = %q, %q, %v; want an error mentioning %q", tt.raw, host, scheme, err, tt.wantErr)
			}
			continue
		}
		if err != nil || host != tt.host || scheme != tt.scheme {
			t.Errorf("ParseEndpoint(%q) = %q, %q, %v; want %q, %q", tt.raw, host, scheme, err, tt.host, tt.scheme)
		}
	}
}

func TestNewRefusesPlainHTTPBeyondLoopback(t *testing.T) {
	isolate(t)
	conns := trapProxy(t)
	_, err := New(Config{Region: "cn-hangzhou", Endpoint: "http://10.0.0.1:80", AccessKeyID: "id", AccessKeySecret: "secret"})
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("New with http://10.0.0.1 = %v, want a refusal", err)
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("New made %d connections", n)
	}
}

func TestStartSessionCommandLineLimit(t *testing.T) {
	e := newEmulator(t, emulator.Options{})
	c := newClient(t, e, nil)
	_, err := c.StartSession(ctx(t), StartOptions{InstanceID: idReady, CommandLine: strings.Repeat("a", MaxCommandLine+1)})
	if err == nil || !strings.Contains(err.Error(), "512") {
		t.Errorf("StartSession with 513 characters = %v, want a local refusal", err)
	}
	if n := e.Calls("StartTerminalSession"); n != 0 {
		t.Errorf("StartTerminalSession called %d times for a command line refused locally", n)
	}
	// The limit counts characters, as the service does: 512 two-byte characters are fine.
	if _, err := c.StartSession(ctx(t), StartOptions{InstanceID: idReady, CommandLine: strings.Repeat("é", MaxCommandLine)}); err != nil {
		t.Errorf("StartSession with 512 characters: %v", err)
	}
	if n := e.Calls("StartTerminalSession"); n != 1 {
		t.Errorf("StartTerminalSession called %d times, want 1", n)
	}
}

func TestStartAndEndSession(t *testing.T) {
	e := newEmulator(t, emulator.Options{})
	c := newClient(t, e, nil)
	s, err := c.StartSession(ctx(t), StartOptions{InstanceID: idReady, CommandLine: "cat"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.ID, "s-") || !strings.HasPrefix(s.URL, "ws://127.0.0.1:") || s.Token == "" ||
		!strings.Contains(s.URL, s.ID) || !strings.Contains(s.URL, s.Token) {
		t.Fatalf("Session = {ID:%q URL:%q Token set:%v}, want an ID, a loopback ws:// URL carrying both", s.ID,
			session.RedactURL(s.URL), s.Token != "")
	}
	conn, err := session.Dial(ctx(t), s.URL, session.DialOptions{Token: s.Token})
	if err != nil {
		t.Fatalf("Dial before EndSession: %v", err)
	}
	conn.Close()

	if err := c.EndSession(s.ID); err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	if n := e.Calls("EndTerminalSession"); n != 1 {
		t.Errorf("EndTerminalSession called %d times, want 1", n)
	}
	conn, err = session.Dial(ctx(t), s.URL, session.DialOptions{Token: s.Token})
	if err == nil {
		conn.Close()
		t.Fatal("Dial after EndSession succeeded")
	}
	if !strings.Contains(err.Error(), "refused") || strings.Contains(err.Error(), s.Token) {
		t.Errorf("Dial after EndSession: %v; want a refusal without the token", err)
	}
	// Ending it twice is the service's InvalidSessionId.NotFound, not retried.
	err = c.EndSession(s.ID)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != "InvalidSessionId.NotFound" {
		t.Errorf("second EndSession = %v, want InvalidSessionId.NotFound", err)
	}
}
