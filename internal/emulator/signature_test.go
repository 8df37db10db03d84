package emulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/tea"
)

func TestPercentEncode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"AZaz09-_.~", "AZaz09-_.~"},
		{" ", "%20"},
		{"*", "%2A"},
		{"+", "%2B"},
		{"/", "%2F"},
		{"2016-02-23T12:46:24Z", "2016-02-23T12%3A46%3A24Z"},
		{"a=b&c", "a%3Db%26c"},
		{"é", "%C3%A9"},
		{"%7E", "%257E"},
	}
	for _, tt := range tests {
		if got := percentEncode(tt.in); got != tt.want {
			t.Errorf("percentEncode(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestSignatureVectorsRPC reproduces the HMAC-SHA1 vectors A–C of docs/protocol.md §5.1.
func TestSignatureVectorsRPC(t *testing.T) {
	tests := []struct {
		name, method, secret string
		params               url.Values
		wantStringToSign     string
		wantSignature        string
	}{
		{
			name: "A DescribeRegions doc", method: "GET", secret: "testsecret",
			params: url.Values{"AccessKeyId": {"testid"}, "Action": {"DescribeRegions"}, "Format": {"XML"},
				"SignatureMethod": {"HMAC-SHA1"}, "SignatureNonce": {"3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"},
				"SignatureVersion": {"1.0"}, "Timestamp": {"2016-02-23T12:46:24Z"}, "Version": {"2014-05-26"}},
			wantStringToSign: "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26",
			wantSignature:    "OLeaidS1JvxuMvnyHOwuJ+uX5qY=",
		},
		{
			name: "B V2 for RPC doc", method: "GET", secret: "testsecret",
			params: url.Values{"AccessKeyId": {"testid"}, "Action": {"DescribeDedicatedHosts"}, "Format": {"JSON"},
				"RegionId": {"cn-beijing"}, "SignatureMethod": {"HMAC-SHA1"},
				"SignatureNonce": {"edb2b34af0af9a6d14deaf7c1a5315eb"}, "SignatureVersion": {"1.0"},
				"Timestamp": {"2023-03-13T08:34:30Z"}, "Version": {"2014-05-26"}},
			wantStringToSign: "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeDedicatedHosts%26Format%3DJSON%26RegionId%3Dcn-beijing%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3Dedb2b34af0af9a6d14deaf7c1a5315eb%26SignatureVersion%3D1.0%26Timestamp%3D2023-03-13T08%253A34%253A30Z%26Version%3D2014-05-26",
			wantSignature:    "9NaGiOspFP5UPcwX8Iwt2YJXXuk=",
		},
		{
			name: "C SDK unit test", method: "", secret: "accessKeySecret",
			params:           url.Values{"test": {"ok"}},
			wantStringToSign: "&%2F&test%3Dok",
			wantSignature:    "jHx/oHoHNrbVfhncHEvPdHXZwHU=",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sts := rpcStringToSign(tt.method, tt.params)
			if sts != tt.wantStringToSign {
				t.Fatalf("string to sign\n got %s\nwant %s", sts, tt.wantStringToSign)
			}
			if got := rpcSignature(tt.secret, sts); got != tt.wantSignature {
				t.Errorf("signature = %s, want %s", got, tt.wantSignature)
			}
		})
	}
}

// TestSignatureVectorsV3 reproduces the ACS3-HMAC-SHA256 vectors D and E of docs/protocol.md §5.2.
func TestSignatureVectorsV3(t *testing.T) {
	const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	vectorD := http.Header{}
	for k, v := range map[string]string{"host": "ecs.cn-shanghai.aliyuncs.com", "x-acs-action": "RunInstances",
		"x-acs-content-sha256": emptyHash, "x-acs-date": "2023-10-26T10:22:32Z",
		"x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d", "x-acs-version": "2014-05-26"} {
		vectorD.Set(k, v)
	}
	vectorE := http.Header{}
	vectorE.Add("x-acs-test", "http")
	vectorE.Add("x-acs-TEST", "https")

	tests := []struct {
		name, method, path, secret, payloadHash string
		query                                   url.Values
		headers                                 http.Header
		signed                                  []string
		wantCanonical, wantHash, wantSignature  string
	}{
		{
			name: "D V3 doc", method: "POST", path: "/", secret: "YourAccessKeySecret", payloadHash: emptyHash,
			query: url.Values{"ImageId": {"win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"},
				"RegionId": {"cn-shanghai"}},
			headers: vectorD,
			signed:  []string{"x-acs-version", "host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce"},
			wantCanonical: "POST\n/\nImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai\n" +
				"host:ecs.cn-shanghai.aliyuncs.com\nx-acs-action:RunInstances\nx-acs-content-sha256:" + emptyHash + "\n" +
				"x-acs-date:2023-10-26T10:22:32Z\nx-acs-signature-nonce:3156853299f313e23d1673dc12e1703d\n" +
				"x-acs-version:2014-05-26\n\nhost;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\n" +
				emptyHash,
			wantHash:      "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259",
			wantSignature: "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0",
		},
		{
			name: "E SDK unit test", method: "", path: "", secret: "secret",
			payloadHash:   "55e12e91650d2fec56ec74e1d3e4ddbfce2ef3a65890c2a19ecf88a307e76a23",
			query:         url.Values{"test": {"ok"}, "empty": {""}},
			headers:       vectorE,
			signed:        []string{"x-acs-test"},
			wantCanonical: "\n/\nempty=&test=ok\nx-acs-test:http,https\n\nx-acs-test\n55e12e91650d2fec56ec74e1d3e4ddbfce2ef3a65890c2a19ecf88a307e76a23",
			wantSignature: "4ab59fffe3c5738ff8a2729f90cc04fe18b02a4b15b2102cbaf92f9ff3df2ea3",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cr := canonicalRequestV3(tt.method, tt.path, tt.query, tt.headers, tt.signed, tt.payloadHash)
			if cr != tt.wantCanonical {
				t.Fatalf("canonical request\n got %q\nwant %q", cr, tt.wantCanonical)
			}
			if sum := sha256.Sum256([]byte(cr)); tt.wantHash != "" && hex.EncodeToString(sum[:]) != tt.wantHash {
				t.Errorf("canonical request hash = %x, want %s", sum, tt.wantHash)
			}
			if got := v3Signature(tt.secret, cr); got != tt.wantSignature {
				t.Errorf("signature = %s, want %s", got, tt.wantSignature)
			}
		})
	}
}

func TestSignatureNonceCacheEvicts(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newNonceCache()
	steps := []struct {
		name    string
		key     string
		at      time.Duration // since t0
		expires time.Duration // since t0
		want    bool
		wantLen int
	}{
		{"first use", "a", 0, 15 * time.Minute, true, 1},
		{"replay inside window", "a", time.Minute, 16 * time.Minute, false, 1},
		{"other nonce", "b", 2 * time.Minute, 17 * time.Minute, true, 2},
		{"replay at last valid instant", "a", 15 * time.Minute, 30 * time.Minute, false, 2},
		{"sweep drops a, keeps b", "c", 16 * time.Minute, 31 * time.Minute, true, 2},
		{"a forgotten after expiry", "a", 16*time.Minute + time.Second, 31 * time.Minute, true, 3},
		{"everything expired", "d", time.Hour, time.Hour + 15*time.Minute, true, 1},
	}
	for _, s := range steps {
		if got := c.use(s.key, t0.Add(s.expires), t0.Add(s.at)); got != s.want {
			t.Errorf("%s: use(%q) = %v, want %v", s.name, s.key, got, s.want)
		}
		if n := c.len(); n != s.wantLen {
			t.Errorf("%s: len = %d, want %d", s.name, n, s.wantLen)
		}
	}
}

// signV3 signs r by hand the way the SDK does, so rejection paths can be tested without it.
func signV3(r *http.Request, ak, secret string, body []byte, now time.Time, extraSigned ...string) {
	sum := sha256.Sum256(body)
	r.Header.Set("x-acs-action", "DescribeRegions")
	r.Header.Set("x-acs-version", "2014-05-26")
	r.Header.Set("x-acs-date", now.UTC().Format(timestampLayout))
	r.Header.Set("x-acs-signature-nonce", hex.EncodeToString(sum[:4])+now.Format("150405.000000000"))
	if r.Header.Get("x-acs-content-sha256") == "" {
		r.Header.Set("x-acs-content-sha256", hex.EncodeToString(sum[:]))
	}
	h := r.Header.Clone()
	h.Set("Host", r.Host)
	signed := append([]string{"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date",
		"x-acs-signature-nonce", "x-acs-version"}, extraSigned...)
	cr := canonicalRequestV3(r.Method, r.URL.Path, r.URL.Query(), h, signed, r.Header.Get("x-acs-content-sha256"))
	r.Header.Set("Authorization", v3Algorithm+" Credential="+ak+",SignedHeaders="+
		strings.Join(signed, ";")+",Signature="+v3Signature(secret, cr))
}

func TestVerifyHandBuilt(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	creds := map[string]Credential{"testid": {AccessKeyID: "testid", AccessKeySecret: "testsecret"}}
	lookup := func(id string) (Credential, bool) { c, ok := creds[id]; return c, ok }
	rpc := func(mod func(url.Values)) string {
		p := url.Values{"Action": {"DescribeRegions"}, "AccessKeyId": {"testid"}, "SignatureMethod": {"HMAC-SHA1"},
			"SignatureVersion": {"1.0"}, "SignatureNonce": {"n1"}, "Timestamp": {now.Format(timestampLayout)},
			"Tag": {"a b*c"}}
		mod(p)
		p.Set("Signature", rpcSignature("testsecret", rpcStringToSign("GET", p)))
		return "/?" + p.Encode()
	}

	tests := []struct {
		name       string
		build      func() (*http.Request, []byte)
		wantCode   string
		wantParams url.Values
	}{
		{"no signature at all", func() (*http.Request, []byte) {
			return httptest.NewRequest("POST", "/?Action=DescribeRegions", nil), nil
		}, "MissingParameter", nil},
		{"garbage authorization", func() (*http.Request, []byte) {
			r := httptest.NewRequest("POST", "/", nil)
			r.Header.Set("Authorization", "Bearer abc")
			return r, nil
		}, "IncompleteSignature", nil},
		{"authorization without signature", func() (*http.Request, []byte) {
			r := httptest.NewRequest("POST", "/", nil)
			r.Header.Set("Authorization", v3Algorithm+" Credential=testid,SignedHeaders=host")
			return r, nil
		}, "IncompleteSignature", nil},
		{"unsigned x-acs header", func() (*http.Request, []byte) {
			r := httptest.NewRequest("POST", "/", nil)
			signV3(r, "testid", "testsecret", nil, now)
			r.Header.Set("x-acs-extra", "sneaky")
			return r, nil
		}, "IncompleteSignature", nil},
		{"body does not match hash", func() (*http.Request, []byte) {
			r := httptest.NewRequest("POST", "/", nil)
			signV3(r, "testid", "testsecret", []byte("A=1"), now)
			return r, []byte("A=2")
		}, "SignatureDoesNotMatch", nil},
		{"v3 form body and query merged", func() (*http.Request, []byte) {
			body := []byte("InstanceName=web+%2Ax&Tag.1.Key=k")
			r := httptest.NewRequest("POST", "/?RegionId=cn-hangzhou&Name=a+b%2A", nil)
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
			signV3(r, "testid", "testsecret", body, now, "content-type")
			return r, body
		}, "", url.Values{"RegionId": {"cn-hangzhou"}, "Name": {"a b*"}, "InstanceName": {"web *x"},
			"Tag.1.Key": {"k"}, "Action": {"DescribeRegions"}, "Version": {"2014-05-26"}}},
		{"v3 unknown key", func() (*http.Request, []byte) {
			r := httptest.NewRequest("POST", "/", nil)
			signV3(r, "nobody", "testsecret", nil, now)
			return r, nil
		}, "InvalidAccessKeyId.NotFound", nil},
		{"rpc ok", func() (*http.Request, []byte) {
			return httptest.NewRequest("GET", rpc(func(url.Values) {}), nil), nil
		}, "", url.Values{"Tag": {"a b*c"}}},
		{"rpc wrong method", func() (*http.Request, []byte) {
			return httptest.NewRequest("POST", rpc(func(p url.Values) { p.Set("SignatureNonce", "n2") }), nil), nil
		}, "SignatureDoesNotMatch", nil},
		{"rpc sha256", func() (*http.Request, []byte) {
			return httptest.NewRequest("GET", rpc(func(p url.Values) { p.Set("SignatureMethod", "HMAC-SHA256") }), nil), nil
		}, "InvalidSignatureMethod", nil},
		{"rpc missing nonce", func() (*http.Request, []byte) {
			return httptest.NewRequest("GET", rpc(func(p url.Values) { p.Del("SignatureNonce") }), nil), nil
		}, "MissingParameter", nil},
		{"rpc bad timestamp", func() (*http.Request, []byte) {
			return httptest.NewRequest("GET", rpc(func(p url.Values) { p.Set("Timestamp", "yesterday") }), nil), nil
		}, "IllegalTimestamp", nil},
		{"rpc timestamp 32 minutes old", func() (*http.Request, []byte) {
			return httptest.NewRequest("GET", rpc(func(p url.Values) {
				p.Set("Timestamp", now.Add(-32*time.Minute).Format(timestampLayout))
			}), nil), nil
		}, "IllegalTimestamp", nil},
		{"rpc timestamp 30 minutes ahead", func() (*http.Request, []byte) {
			return httptest.NewRequest("GET", rpc(func(p url.Values) {
				p.Set("SignatureNonce", "n3")
				p.Set("Timestamp", now.Add(30*time.Minute).Format(timestampLayout))
			}), nil), nil
		}, "", url.Values{"SignatureNonce": {"n3"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(lookup, func() time.Time { return now })
			r, body := tt.build()
			params, ak, err := v.verify(r, body)
			if tt.wantCode != "" {
				var ae *apiError
				if !errors.As(err, &ae) || ae.Code != tt.wantCode {
					t.Fatalf("verify error = %v, want code %s", err, tt.wantCode)
				}
				if strings.Contains(ae.Message, "testsecret") {
					t.Errorf("error message leaks the secret: %s", ae.Message)
				}
				return
			}
			if err != nil || ak != "testid" {
				t.Fatalf("verify = %q, %v; want testid, nil", ak, err)
			}
			for k, want := range tt.wantParams {
				if got := params[k]; strings.Join(got, "|") != strings.Join(want, "|") {
					t.Errorf("param %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

// captured is one request as the emulator saw it, kept so a test can replay it byte for byte.
type captured struct {
	method, uri string
	header      http.Header
	body        []byte
	params      url.Values
}

// newSDKServer serves DescribeRegions and DescribeInstances on 127.0.0.1 behind verify and
// hands every verified request to the returned channel.
func newSDKServer(t *testing.T, now func() time.Time) (*httptest.Server, <-chan captured) {
	t.Helper()
	creds := map[string]Credential{
		"testid":     {AccessKeyID: "testid", AccessKeySecret: "testsecret"},
		"STS.testid": {AccessKeyID: "STS.testid", AccessKeySecret: "stssecret", SecurityToken: "tok/en+=="},
	}
	v := newVerifier(func(id string) (Credential, bool) { c, ok := creds[id]; return c, ok }, now)
	seen := make(chan captured, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		params, _, err := v.verify(r, body)
		var ae *apiError
		if errors.As(err, &ae) {
			w.WriteHeader(ae.Status)
			_ = json.NewEncoder(w).Encode(map[string]string{"RequestId": "x", "HostId": r.Host,
				"Code": ae.Code, "Message": ae.Message})
			return
		}
		seen <- captured{r.Method, r.RequestURI, r.Header.Clone(), body, params}
		if params.Get("Action") == "DescribeInstances" {
			_, _ = io.WriteString(w, `{"RequestId":"x","TotalCount":0,"Instances":{"Instance":[]}}`)
			return
		}
		_, _ = io.WriteString(w, `{"RequestId":"x","Regions":{"Region":[]}}`)
	}))
	t.Cleanup(srv.Close)
	return srv, seen
}

func newSDKClient(t *testing.T, srv *httptest.Server, ak, secret, token string, v2 bool) *ecs.Client {
	t.Helper()
	addr := strings.TrimPrefix(srv.URL, "http://")
	cfg := &openapi.Config{AccessKeyId: tea.String(ak), AccessKeySecret: tea.String(secret),
		RegionId: tea.String("cn-hangzhou"), Endpoint: tea.String(addr), Protocol: tea.String("http"),
		NoProxy: tea.String(addr), ConnectTimeout: tea.Int(5000), ReadTimeout: tea.Int(10000)}
	if token != "" {
		cfg.SecurityToken = tea.String(token)
	}
	if v2 {
		cfg.SignatureAlgorithm = tea.String("v2")
	}
	c, err := ecs.NewClient(cfg)
	if err != nil {
		t.Fatalf("ecs.NewClient: %v", err)
	}
	return c
}

func describeRegions(c *ecs.Client) error {
	_, err := c.DescribeRegions(&ecs.DescribeRegionsRequest{})
	return err
}

func describeInstances(c *ecs.Client) error {
	_, err := c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: tea.String("cn-hangzhou"),
		InstanceName: tea.String("web *x"), Tag: []*ecs.DescribeInstancesRequestTag{
			{Key: tea.String("env"), Value: tea.String("prod x*~")}}})
	return err
}

func TestVerifySDK(t *testing.T) {
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	t.Setenv("DEBUG", "")
	hourAgo := func() time.Time { return time.Now().Add(-time.Hour) }
	tests := []struct {
		name              string
		v2                bool
		ak, secret, token string
		call              func(*ecs.Client) error
		now               func() time.Time
		wantCode          string
		wantStatus        int
		wantParams        map[string]string
	}{
		{name: "v3", ak: "testid", secret: "testsecret", call: describeRegions,
			wantParams: map[string]string{"Action": "DescribeRegions", "Version": "2014-05-26"}},
		{name: "v2", v2: true, ak: "testid", secret: "testsecret", call: describeRegions,
			wantParams: map[string]string{"Action": "DescribeRegions", "Version": "2014-05-26"}},
		{name: "v3 sts spaces and stars", ak: "STS.testid", secret: "stssecret", token: "tok/en+==",
			call: describeInstances, wantParams: map[string]string{"Action": "DescribeInstances",
				"InstanceName": "web *x", "Tag.1.Key": "env", "Tag.1.Value": "prod x*~"}},
		{name: "v2 sts spaces and stars", v2: true, ak: "STS.testid", secret: "stssecret", token: "tok/en+==",
			call: describeInstances, wantParams: map[string]string{"Action": "DescribeInstances",
				"InstanceName": "web *x", "Tag.1.Value": "prod x*~", "SecurityToken": "tok/en+=="}},
		{name: "v3 wrong secret", ak: "testid", secret: "wrong", call: describeRegions,
			wantCode: "SignatureDoesNotMatch", wantStatus: 400},
		{name: "v2 wrong secret", v2: true, ak: "testid", secret: "wrong", call: describeRegions,
			wantCode: "SignatureDoesNotMatch", wantStatus: 400},
		{name: "unknown access key", ak: "nobody", secret: "testsecret", call: describeRegions,
			wantCode: "InvalidAccessKeyId.NotFound", wantStatus: 404},
		{name: "v3 sts wrong token", ak: "STS.testid", secret: "stssecret", token: "other", call: describeRegions,
			wantCode: "InvalidSecurityToken.MismatchWithAccessKey", wantStatus: 400},
		{name: "v2 sts without token", v2: true, ak: "STS.testid", secret: "stssecret", call: describeRegions,
			wantCode: "MissingSecurityToken", wantStatus: 400},
		{name: "v3 stale date", ak: "testid", secret: "testsecret", call: describeRegions, now: hourAgo,
			wantCode: "IllegalTimestamp", wantStatus: 400},
		{name: "v2 stale timestamp", v2: true, ak: "testid", secret: "testsecret", call: describeRegions,
			now: hourAgo, wantCode: "IllegalTimestamp", wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, seen := newSDKServer(t, tt.now)
			err := tt.call(newSDKClient(t, srv, tt.ak, tt.secret, tt.token, tt.v2))
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("SDK call: %v", err)
				}
				got := (<-seen).params
				for k, want := range tt.wantParams {
					if got.Get(k) != want {
						t.Errorf("param %s = %q, want %q", k, got.Get(k), want)
					}
				}
				return
			}
			var se *tea.SDKError
			if !errors.As(err, &se) {
				t.Fatalf("SDK call error = %v (%T), want *tea.SDKError", err, err)
			}
			if tea.StringValue(se.Code) != tt.wantCode || tea.IntValue(se.StatusCode) != tt.wantStatus {
				t.Errorf("error = %s/%d, want %s/%d", tea.StringValue(se.Code), tea.IntValue(se.StatusCode),
					tt.wantCode, tt.wantStatus)
			}
			for _, secret := range []string{"testsecret", "stssecret"} {
				if strings.Contains(se.Error(), secret) || strings.Contains(tea.StringValue(se.Data), secret) {
					t.Errorf("error leaks a secret: %s", se.Error())
				}
			}
		})
	}
}

// TestVerifyReplay resends a request the SDK already got through, byte for byte.
func TestVerifyReplay(t *testing.T) {
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	t.Setenv("DEBUG", "")
	for _, v2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "v3", true: "v2"}[v2], func(t *testing.T) {
			srv, seen := newSDKServer(t, nil)
			if err := describeInstances(newSDKClient(t, srv, "testid", "testsecret", "", v2)); err != nil {
				t.Fatalf("first call: %v", err)
			}
			first := <-seen
			req, err := http.NewRequest(first.method, srv.URL+first.uri, bytes.NewReader(first.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header = first.header.Clone()
			client := &http.Client{Transport: &http.Transport{Proxy: nil}}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("replay: %v", err)
			}
			defer resp.Body.Close()
			var body struct{ Code, Message string }
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("decode replay answer: %v", err)
			}
			if resp.StatusCode != http.StatusBadRequest || body.Code != "SignatureNonceUsed" {
				t.Errorf("replay answered %d %s (%s), want 400 SignatureNonceUsed", resp.StatusCode, body.Code, body.Message)
			}
		})
	}
}
