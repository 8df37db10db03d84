package cloud

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aliyun/credentials-go/credentials/providers"
)

// An endpoint that answers with a body far larger than any API answer gets one clear error,
// and ecsterm stops reading at the bound instead of holding the whole body in memory.
func TestAPIBodyIsBounded(t *testing.T) {
	isolate(t)
	const size = 4 * maxAPIBody
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		chunk := []byte(`{"RequestId":"` + strings.Repeat("x", 64<<10-16) + `"}`)
		for n := 0; n < size; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{Region: "cn-hangzhou", Endpoint: srv.URL, AccessKeyID: "LTAIexample", AccessKeySecret: "secret", Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.StartSession(ctx(t), StartOptions{InstanceID: idReady})
	// The SDK keeps only the text of a transport error.
	if err == nil || !strings.Contains(err.Error(), ErrBodyTooLong.Error()) {
		t.Fatalf("StartSession = %v, want %q", err, ErrBodyTooLong)
	}
	if !strings.Contains(err.Error(), "StartTerminalSession") {
		t.Errorf("error %q does not name the action", err)
	}
}

// An STS endpoint that answers AssumeRole with a body far larger than any answer gets no more
// than the bound read from it: credentials-go reads answers whole, through a clone of the
// default transport, whose TLS connections credential() bounds.
func TestSTSBodyIsBounded(t *testing.T) {
	isolate(t)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 64<<10))
		for n := 0; n < 4*maxAPIBody; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	dt := http.DefaultTransport.(*http.Transport)
	saved := dt.TLSClientConfig
	dt.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig // trust the test server
	t.Cleanup(func() { dt.TLSClientConfig = saved })

	boundCredentialHTTP()
	p, err := providers.NewRAMRoleARNCredentialsProviderBuilder().WithAccessKeyId("LTAIexample").WithAccessKeySecret("secret").
		WithRoleArn("acs:ram::1:role/r").WithStsEndpoint(strings.TrimPrefix(srv.URL, "https://")).Build()
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.GetCredentials()
	if err == nil || !strings.Contains(err.Error(), ErrBodyTooLong.Error()) {
		t.Fatalf("GetCredentials = %v, want %q", err, ErrBodyTooLong)
	}
}

// stutter gives its parts one Read each: an empty part is a read of 0 bytes and no error.
type stutter struct{ parts []string }

func (s *stutter) Read(p []byte) (int, error) {
	if len(s.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.parts[0])
	if s.parts[0] = s.parts[0][n:]; s.parts[0] == "" {
		s.parts = s.parts[1:]
	}
	return n, nil
}

// A body that, at the bound, answers one read with nothing and then goes on still gets no
// byte past the bound through.
func TestBoundedBodyEmptyReadAtBound(t *testing.T) {
	b := &boundedBody{rc: io.NopCloser(&stutter{parts: []string{"abc", "", "more"}}), left: 3}
	got, err := io.ReadAll(b)
	if !errors.Is(err, ErrBodyTooLong) || string(got) != "abc" {
		t.Fatalf("ReadAll = %q, %v; want \"abc\", ErrBodyTooLong", got, err)
	}
}
