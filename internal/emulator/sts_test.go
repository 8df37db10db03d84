//go:build unix

package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/aliyun/credentials-go/credentials"
	"github.com/aliyun/credentials-go/credentials/providers"
)

// postAssumeRole sends AssumeRole as credentials-go v1.4.14 builds it (providers/ram_role_arn.go):
// a POST with the common parameters in the query, RoleArn, RoleSessionName and DurationSeconds
// in a form body, and an HMAC-SHA1 signature over both. It returns the status and decoded body.
func postAssumeRole(t *testing.T, e *Emulator, akID, secret string, form url.Values) (int, map[string]any) {
	t.Helper()
	query := url.Values{"Version": {stsVersion}, "Action": {"AssumeRole"}, "Format": {"JSON"},
		"Timestamp": {time.Now().UTC().Format(timestampLayout)}, "SignatureMethod": {"HMAC-SHA1"},
		"SignatureVersion": {"1.0"}, "SignatureNonce": {randHex(16)}, "AccessKeyId": {akID}}
	signed := cloneValues(query)
	for k, v := range form {
		signed[k] = v
	}
	query.Set("Signature", rpcSignature(secret, rpcStringToSign("POST", signed)))
	req, err := http.NewRequest("POST", e.Endpoint()+"/?"+query.Encode(), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Client{Timeout: patience}).Do(req)
	if err != nil {
		t.Fatalf("AssumeRole: %v", err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("AssumeRole answer is not JSON: %v", err)
	}
	return resp.StatusCode, body
}

func roleForm(edit func(url.Values)) url.Values {
	f := url.Values{"RoleArn": {DefaultRoleARN}, "RoleSessionName": {"ecsterm-test"}, "DurationSeconds": {"3600"}}
	if edit != nil {
		edit(f)
	}
	return f
}

// stsClient is the official ECS SDK signing with temporary credentials.
func stsClient(t *testing.T, e *Emulator, akID, secret, token string) *ecs.Client {
	t.Helper()
	host := strings.TrimPrefix(e.Endpoint(), "http://")
	cfg := &openapi.Config{AccessKeyId: tea.String(akID), AccessKeySecret: tea.String(secret),
		RegionId: tea.String(e.Region()), Endpoint: tea.String(host), Protocol: tea.String("http"),
		NoProxy: tea.String(host), ConnectTimeout: tea.Int(5000), ReadTimeout: tea.Int(10000)}
	if token != "" {
		cfg.SecurityToken = tea.String(token)
	}
	c, err := ecs.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAssumeRole: AssumeRole signed with a configured AccessKey returns temporary credentials
// in the shape credentials-go reads, and the ECS API then accepts them with their token, and
// only with it (expiry: TestAssumeRoleExpiry).
func TestAssumeRole(t *testing.T) {
	base := time.Now()
	e := testEmulator(t, Options{Now: func() time.Time { return base }})
	src := e.Credential()

	status, body := postAssumeRole(t, e, src.AccessKeyID, src.AccessKeySecret, roleForm(nil))
	if status != http.StatusOK {
		t.Fatalf("AssumeRole: HTTP %d, %v", status, body)
	}
	creds, _ := body["Credentials"].(map[string]any)
	user, _ := body["AssumedRoleUser"].(map[string]any)
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	id, secret, token := str(creds, "AccessKeyId"), str(creds, "AccessKeySecret"), str(creds, "SecurityToken")
	if !strings.HasPrefix(id, "STS.") || secret == "" || token == "" || str(body, "RequestId") == "" {
		t.Fatalf("AssumeRole answer %v lacks credentials or RequestId", body)
	}
	exp, err := time.Parse("2006-01-02T15:04:05Z", str(creds, "Expiration")) // credentials-go's layout
	if err != nil {
		t.Fatalf("Expiration: %v", err)
	}
	if want := base.Add(time.Hour).UTC().Truncate(time.Second); !exp.Equal(want) {
		t.Errorf("Expiration = %v, want %v (DurationSeconds 3600)", exp, want)
	}
	if str(user, "Arn") != DefaultRoleARN+"/ecsterm-test" || !strings.HasSuffix(str(user, "AssumedRoleId"), ":ecsterm-test") {
		t.Errorf("AssumedRoleUser = %v", user)
	}
	grants := e.AssumedRoles()
	if len(grants) != 1 || grants[0].SignedBy != src.AccessKeyID || grants[0].Issued.AccessKeyID != id ||
		grants[0].RoleSessionName != "ecsterm-test" || grants[0].DurationSeconds != 3600 {
		t.Fatalf("AssumedRoles = %+v", grants)
	}
	if got := e.SignedBy("AssumeRole"); !slices.Equal(got, []string{src.AccessKeyID}) {
		t.Errorf("SignedBy(AssumeRole) = %v", got)
	}

	describe := func(c *ecs.Client) error {
		_, err := c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(e.Region())})
		return err
	}
	if err := describe(stsClient(t, e, id, secret, token)); err != nil {
		t.Fatalf("DescribeInstances with the issued credentials: %v", err)
	}
	if got := e.SignedBy("DescribeInstances"); !slices.Equal(got, []string{id}) {
		t.Errorf("SignedBy(DescribeInstances) = %v, want the issued key", got)
	}
	for _, tc := range []struct{ name, token, code string }{
		{"without its token", "", "MissingSecurityToken"},
		{"with another token", token + "x", "InvalidSecurityToken.MismatchWithAccessKey"},
	} {
		if code, _ := errorCode(t, describe(stsClient(t, e, id, secret, tc.token))); code != tc.code {
			t.Errorf("issued key %s: %s, want %s", tc.name, code, tc.code)
		}
	}
	if code, _ := errorCode(t, describe(stsClient(t, e, id, "wrong", token))); code != "SignatureDoesNotMatch" {
		t.Errorf("issued key with a wrong secret: %s", code)
	}
}

// TestAssumeRoleExpiry: Options.STSLifetime overrides DurationSeconds, and once the Expiration
// has passed the ECS API refuses the credentials with InvalidSecurityToken.Expired. The clock
// moves by a minute, well within the signatures' timestamp window, so only expiry can refuse.
func TestAssumeRoleExpiry(t *testing.T) {
	base := time.Now()
	var skew atomic.Int64
	e := testEmulator(t, Options{STSLifetime: time.Minute, Now: func() time.Time { return base.Add(time.Duration(skew.Load())) }})
	src := e.Credential()
	status, body := postAssumeRole(t, e, src.AccessKeyID, src.AccessKeySecret, roleForm(nil))
	if status != http.StatusOK {
		t.Fatalf("AssumeRole: HTTP %d, %v", status, body)
	}
	creds, _ := body["Credentials"].(map[string]any)
	if want := base.Add(time.Minute).UTC().Truncate(time.Second).Format(timestampLayout); creds["Expiration"] != want {
		t.Errorf("Expiration = %v, want %s (STSLifetime, not DurationSeconds)", creds["Expiration"], want)
	}
	c := stsClient(t, e, creds["AccessKeyId"].(string), creds["AccessKeySecret"].(string), creds["SecurityToken"].(string))
	describe := func() error {
		_, err := c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(e.Region())})
		return err
	}
	if err := describe(); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	skew.Store(int64(time.Minute + time.Second))
	if code, status := errorCode(t, describe()); code != "InvalidSecurityToken.Expired" || status != 400 {
		t.Errorf("after expiry: %s (HTTP %d), want InvalidSecurityToken.Expired (HTTP 400)", code, status)
	}
	// The permanent key is not affected.
	if _, err := apiClient(t, e).DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String(e.Region())}); err != nil {
		t.Errorf("permanent key after the clock moved: %v", err)
	}
}

// TestAssumeRoleRefusals: each bad request gets Alibaba's code and status, and grants nothing.
func TestAssumeRoleRefusals(t *testing.T) {
	e := testEmulator(t, Options{})
	src := e.Credential()
	for _, tc := range []struct {
		name       string
		ak, secret string
		form       url.Values
		code       string
		status     int
	}{
		{"wrong secret", src.AccessKeyID, "not-the-secret", roleForm(nil), "SignatureDoesNotMatch", 400},
		{"unknown AccessKey", "LTAInobody", src.AccessKeySecret, roleForm(nil), "InvalidAccessKeyId.NotFound", 404},
		{"no RoleArn", src.AccessKeyID, src.AccessKeySecret, roleForm(func(f url.Values) { f.Del("RoleArn") }), "MissingParameter", 400},
		{"malformed RoleArn", src.AccessKeyID, src.AccessKeySecret, roleForm(func(f url.Values) { f.Set("RoleArn", "role/x") }), "InvalidParameter.RoleArn", 400},
		{"unknown role", src.AccessKeyID, src.AccessKeySecret,
			roleForm(func(f url.Values) { f.Set("RoleArn", "acs:ram::1000000000000001:role/nobody") }), "EntityNotExist.Role", 404},
		{"no session name", src.AccessKeyID, src.AccessKeySecret, roleForm(func(f url.Values) { f.Del("RoleSessionName") }), "MissingParameter", 400},
		{"session name too short", src.AccessKeyID, src.AccessKeySecret,
			roleForm(func(f url.Values) { f.Set("RoleSessionName", "a") }), "InvalidParameter.RoleSessionName", 400},
		{"session name with a space", src.AccessKeyID, src.AccessKeySecret,
			roleForm(func(f url.Values) { f.Set("RoleSessionName", "a b") }), "InvalidParameter.RoleSessionName", 400},
		{"duration too short", src.AccessKeyID, src.AccessKeySecret,
			roleForm(func(f url.Values) { f.Set("DurationSeconds", "899") }), "InvalidParameter.DurationSeconds", 400},
		{"duration too long", src.AccessKeyID, src.AccessKeySecret,
			roleForm(func(f url.Values) { f.Set("DurationSeconds", "3601") }), "InvalidParameter.DurationSeconds", 400},
		{"policy not JSON", src.AccessKeyID, src.AccessKeySecret,
			roleForm(func(f url.Values) { f.Set("Policy", "{") }), "InvalidParameter.PolicyGrammar", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := postAssumeRole(t, e, tc.ak, tc.secret, tc.form)
			if body["Code"] != tc.code || status != tc.status {
				t.Errorf("AssumeRole = %v (HTTP %d), want %s (HTTP %d)", body["Code"], status, tc.code, tc.status)
			}
			if body["RequestId"] == "" || !strings.Contains(body["Recommend"].(string), "product=Sts") {
				t.Errorf("error body %v: want a RequestId and a Recommend link for Sts", body)
			}
			if strings.Contains(body["Message"].(string), tc.secret) {
				t.Errorf("error message quotes the secret: %v", body["Message"])
			}
		})
	}
	if g := e.AssumedRoles(); len(g) != 0 {
		t.Errorf("refused requests granted %+v", g)
	}
	// The same request well formed is granted: the refusals above were for their one fault.
	if status, body := postAssumeRole(t, e, src.AccessKeyID, src.AccessKeySecret, roleForm(nil)); status != http.StatusOK {
		t.Errorf("well-formed AssumeRole: HTTP %d, %v", status, body)
	}
}

// TestAssumeRoleCredentialsGo runs credentials-go's own RamRoleArn provider against the emulator
// and the ECS SDK with the credentials it returns. The provider speaks only https and trusts only
// the system roots, so it runs in a child process (TestSTSHelperProcess) whose SSL_CERT_FILE is
// the emulator's certificate; WithStsEndpoint, which the builder has but config.json profiles
// cannot set, points it at the emulator. The child makes two ECS calls: with hour-long
// credentials one AssumeRole serves both; with credentials that expire within credentials-go's
// 180 s refresh margin, each call first assumes the role again.
func TestAssumeRoleCredentialsGo(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lifetime time.Duration
		assumes  int
	}{
		{"hour-long credentials", 0, 1},
		{"credentials inside the refresh margin", 2 * time.Minute, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := testEmulator(t, Options{TLS: true, STSLifetime: tc.lifetime})
			ca := filepath.Join(t.TempDir(), "ca.pem")
			if err := os.WriteFile(ca, e.CACertPEM(), 0o644); err != nil {
				t.Fatal(err)
			}
			src := e.Credential()
			cmd := exec.Command(os.Args[0], "-test.run=^TestSTSHelperProcess$")
			cmd.Env = []string{"ECSTERM_STS_HELPER=1", "SSL_CERT_FILE=" + ca, "HOME=" + t.TempDir(),
				"ALIBABA_CLOUD_ECS_METADATA_DISABLED=true",
				"HELPER_ENDPOINT=" + strings.TrimPrefix(e.Endpoint(), "https://"), "HELPER_REGION=" + e.Region(),
				"HELPER_AK=" + src.AccessKeyID, "HELPER_SECRET=" + src.AccessKeySecret}
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				t.Fatalf("helper: %v\n%s", err, out.String())
			}

			grants := e.AssumedRoles()
			if len(grants) != tc.assumes {
				t.Fatalf("%d AssumeRole calls, want %d: %+v", len(grants), tc.assumes, grants)
			}
			var issued []string
			for _, g := range grants {
				if g.SignedBy != src.AccessKeyID || g.RoleSessionName != "ecsterm-unit" || g.DurationSeconds != 3600 {
					t.Errorf("AssumeRole %+v: want it signed by %s for session ecsterm-unit, 3600 s", g, src.AccessKeyID)
				}
				issued = append(issued, g.Issued.AccessKeyID)
			}
			signers := e.SignedBy("DescribeRegions")
			want := []string{issued[0], issued[len(issued)-1]}
			if !slices.Equal(signers, want) {
				t.Errorf("DescribeRegions signed by %v, want %v (the issued keys, newest at each call)", signers, want)
			}
		})
	}
}

// TestSTSHelperProcess is TestAssumeRoleCredentialsGo's child: credentials-go's RamRoleArn
// provider under the ECS SDK, two DescribeRegions calls.
func TestSTSHelperProcess(t *testing.T) {
	if os.Getenv("ECSTERM_STS_HELPER") != "1" {
		t.Skip("the child process of TestAssumeRoleCredentialsGo")
	}
	p, err := providers.NewRAMRoleARNCredentialsProviderBuilder().
		WithAccessKeyId(os.Getenv("HELPER_AK")).WithAccessKeySecret(os.Getenv("HELPER_SECRET")).
		WithRoleArn(DefaultRoleARN).WithRoleSessionName("ecsterm-unit").
		WithStsEndpoint(os.Getenv("HELPER_ENDPOINT")).Build()
	if err != nil {
		t.Fatal(err)
	}
	c, err := ecs.NewClient(&openapi.Config{Credential: credentials.FromCredentialsProvider("ram_role_arn", p),
		RegionId: tea.String(os.Getenv("HELPER_REGION")), Endpoint: tea.String(os.Getenv("HELPER_ENDPOINT")),
		Protocol: tea.String("https"), ConnectTimeout: tea.Int(5000), ReadTimeout: tea.Int(10000)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := c.DescribeRegions(&ecs.DescribeRegionsRequest{}); err != nil {
			t.Fatalf("DescribeRegions %d: %v", i+1, err)
		}
	}
}

// TestSignerRuns: the signers of an action come back call by call, in order, but are kept as
// runs of one key, so a long-running emulator does not grow with every call.
func TestSignerRuns(t *testing.T) {
	var r signerRuns
	want := []string{"A", "A", "A", "B", "A"}
	for _, id := range want {
		r = r.add(id)
	}
	if got := r.list(); !slices.Equal(got, want) {
		t.Errorf("list = %v, want %v", got, want)
	}
	for range 10000 {
		r = r.add("A")
	}
	if len(r) != 3 || len(r.list()) != 10005 {
		t.Errorf("%d runs for %d calls, want 3 runs", len(r), len(r.list()))
	}
}
