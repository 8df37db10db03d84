package cloud

import (
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aliyun/credentials-go/credentials/providers"
)

// TestSTSFailure: a RamRoleArn profile's failed AssumeRole becomes one line with the code and
// RequestId, or the network error and host, and never the URL's query (signature, token).
func TestSTSFailure(t *testing.T) {
	body := `{"RequestId":"REQ-1","HostId":"sts.cn-hangzhou.aliyuncs.com","Code":"SignatureDoesNotMatch",` +
		`"Message":"Specified signature is not matched with our calculation. server string to sign is:POST&%2F&AccessKeyId%3DLTAIx"}`
	for _, tc := range []struct {
		name   string
		err    error
		want   []string
		absent []string
	}{
		{"refused", errors.New("refresh session token failed: " + body),
			[]string{"AssumeRole failed: SignatureDoesNotMatch", "secret is wrong", "RequestId REQ-1"}, []string{"string to sign", "\n"}},
		{"refused, chained", errors.New("get source profile failed: refresh session token failed: " + body),
			[]string{"AssumeRole failed: SignatureDoesNotMatch"}, nil},
		{"not an API error", errors.New("refresh session token failed: <html>bad gateway</html>"),
			[]string{"AssumeRole failed", "something other than an API error"}, []string{"html"}},
		{"unreachable", &url.Error{Op: "Post", URL: "https://sts.cn-hangzhou.aliyuncs.com?AccessKeyId=LTAIx&SecurityToken=TOKEN&Signature=SIG",
			Err: errors.New("dial tcp: lookup sts.cn-hangzhou.aliyuncs.com: no such host")},
			[]string{"https://sts.cn-hangzhou.aliyuncs.com", "network error", "no such host"}, []string{"TOKEN", "SIG", "LTAIx"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := stsFailure(tc.err)
			if err == nil {
				t.Fatal("stsFailure = nil")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(err.Error(), a) {
					t.Errorf("%q contains %q", err, a)
				}
			}
		})
	}
	// Other providers' errors can quote config files: they are not STS failures.
	if err := stsFailure(errors.New("unmarshal aliyun cli config from 'x' failed: {\"access_key_secret\":\"s\"}")); err != nil {
		t.Errorf("stsFailure of a config error = %v, want nil", err)
	}
}

// racyProvider renews on every call, keeping its state without a lock, like credentials-go's
// RamRoleArn provider inside its refresh margin.
type racyProvider struct {
	n    int
	last *providers.Credentials
}

func (p *racyProvider) GetCredentials() (*providers.Credentials, error) {
	p.n++
	p.last = &providers.Credentials{AccessKeyId: "STS." + strings.Repeat("k", p.n%7+1), ProviderName: "racy"}
	return &providers.Credentials{AccessKeyId: p.last.AccessKeyId, ProviderName: p.last.ProviderName}, nil
}

func (p *racyProvider) GetProviderName() string { return "racy" }

// TestLockedProvider: parallel callers (Preflight's three calls) reach the provider one at a
// time; under -race an unserialized provider fails this test.
func TestLockedProvider(t *testing.T) {
	inner := &racyProvider{}
	p := &lockedProvider{p: inner}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if _, err := p.GetCredentials(); err != nil {
					t.Error(err)
				}
				_ = p.GetProviderName()
			}
		})
	}
	wg.Wait()
	if inner.n != 400 {
		t.Errorf("provider called %d times, want 400", inner.n)
	}
}
