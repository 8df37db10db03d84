// Package cloud is ecsterm's client of the ECS OpenAPI, over Alibaba's official SDK and the
// credentials-go chain: preflight checks, StartTerminalSession, EndTerminalSession. It owns
// endpoint rules (TLS except on loopback), retries of transient errors, and turning API errors
// into one clear line with the RequestId. It knows nothing of WebSockets or terminals.
package cloud

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/aliyun/credentials-go/credentials"
	"github.com/aliyun/credentials-go/credentials/providers"

	"github.com/ecsterm/ecsterm/pkg/session"
)

// Config selects the account, region and endpoint.
type Config struct {
	Region   string
	Endpoint string // URL of the OpenAPI endpoint; empty means Alibaba's for the region
	Profile  string // credential profile; empty means ALIBABA_CLOUD_PROFILE or the default chain
	// AccessKeyID and AccessKeySecret, when set, are used instead of the credential chain (the
	// demo uses them for its emulator).
	AccessKeyID     string
	AccessKeySecret string
	Logger          *slog.Logger
	// Attempts is how many times a transient failure is tried in all (default 4).
	Attempts int
	// UserAgent is appended to the SDK's.
	UserAgent string
	// ConnectionType, "internet" or "intranet", is sent with every StartTerminalSession; empty
	// leaves it to the service (internet).
	ConnectionType string
	// PasswordName is sent with every StartTerminalSession that names a Username: for Windows
	// instances, the name of the password Cloud Assistant keeps for that user.
	PasswordName string
}

// Client calls the ECS API for one region.
type Client struct {
	ecs      *ecs.Client
	region   string
	log      *slog.Logger
	attempts int
	source   string // which credential provider answered, e.g. "default/env"
	connType string // StartTerminalSession's ConnectionType, as the API spells it, or ""
	password string // StartTerminalSession's PasswordName, or ""
	settings settingsMemo
	pre      preflightMemo
	clock    func() time.Time     // nil: time.Now (tests set it)
	waitHook func(*preflightCall) // tests: told when a Preflight waits for another's call
}

func (c *Client) now() time.Time {
	if c.clock != nil {
		return c.clock()
	}
	return time.Now()
}

// ErrNoCredentials is wrapped by New when no credential source has credentials.
var ErrNoCredentials = errors.New("no Alibaba Cloud credentials found")

// New resolves credentials and builds a client. It fails early, with one clear line, when no
// credentials exist or the endpoint is not acceptable.
func New(cfg Config) (*Client, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Region == "" {
		return nil, errors.New("no region: use --region, ALIBABA_CLOUD_REGION_ID or a profile's region_id")
	}
	connType, err := apiConnectionType(cfg.ConnectionType)
	if err != nil {
		return nil, err
	}
	cred, err := credential(cfg)
	if err != nil {
		return nil, err
	}
	model, err := cred.GetCredential()
	if err != nil {
		log.Debug("credential chain failed", "err", err)
		return nil, fmt.Errorf("%w: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or configure a profile with `aliyun configure` (--debug shows what was tried)", ErrNoCredentials)
	}
	source := dara.StringValue(model.ProviderName)
	log.Debug("credentials", "source", source, "access_key_id", maskID(dara.StringValue(model.AccessKeyId)))

	oc := &openapi.Config{
		Credential: cred,
		RegionId:   dara.String(cfg.Region),
		// No SDK default exists: without these a stalled endpoint hangs forever
		// (docs/protocol.md, SDK behaviour that matters).
		ConnectTimeout: dara.Int(5000),
		ReadTimeout:    dara.Int(20000),
		HttpClient:     &sdkHTTP{timeout: 25 * time.Second},
	}
	if cfg.UserAgent != "" {
		oc.UserAgent = dara.String(cfg.UserAgent)
	}
	if cfg.Endpoint != "" {
		host, scheme, err := ParseEndpoint(cfg.Endpoint)
		if err != nil {
			return nil, err
		}
		oc.Endpoint, oc.Protocol = dara.String(host), dara.String(scheme)
		if h, _, _ := net.SplitHostPort(host); session.IsLoopbackHost(h) || session.IsLoopbackHost(host) {
			// The SDK applies HTTP_PROXY even to loopback, and matches NoProxy on host:port only.
			oc.NoProxy = dara.String(host)
		}
	}
	c, err := ecs.NewClient(oc)
	if err != nil {
		return nil, fmt.Errorf("configuring the ECS client: %w", err)
	}
	// Typed errors carry Code and RequestId as fields instead of a formatted message.
	c.DisableSDKError = dara.Bool(true)
	c.Client.DisableSDKError = dara.Bool(true)
	attempts := cfg.Attempts
	if attempts <= 0 {
		attempts = 4
	}
	return &Client{ecs: c, region: cfg.Region, log: log, attempts: attempts, source: source,
		connType: connType, password: cfg.PasswordName}, nil
}

// sdkHTTP is the SDK's HTTP client for one Client. Without it the SDK uses a process-wide pooled
// http.Client whose Timeout it rewrites on every request without a lock (tea dara/core.go), a data
// race when calls run in parallel. Like the pooled one, it keeps the first request's transport.
type sdkHTTP struct {
	timeout time.Duration
	once    sync.Once
	c       *http.Client
}

func (h *sdkHTTP) Call(req *http.Request, tr *http.Transport) (*http.Response, error) {
	h.once.Do(func() { h.c = &http.Client{Transport: tr, Timeout: h.timeout} })
	return boundBody(h.c.Do(req))
}

// sdk returns a copy of the SDK client for one call. The SDK clears its Headers field on every
// request (GetRpcHeaders), a data race when calls run in parallel as Preflight's do; every other
// field is read-only after NewClient, so a shallow copy per call is enough.
func (c *Client) sdk() *ecs.Client {
	cp := *c.ecs
	return &cp
}

// CredentialSource names the provider that supplied credentials (never the secret).
func (c *Client) CredentialSource() string { return c.source }

// Region is the client's region.
func (c *Client) Region() string { return c.region }

// credential builds the credentials-go chain. With a named profile it reads that profile from
// the aliyun CLI's config.json, then from ~/.alibabacloud/credentials, and nothing else: naming
// a profile that does not exist is an error, not a silent fallback to other credentials.
func credential(cfg Config) (credentials.Credential, error) {
	boundCredentialHTTP() // STS and other credential answers are read whole: bound them (body.go)
	if cfg.AccessKeyID != "" {
		return credentials.NewCredential(&credentials.Config{Type: dara.String("access_key"),
			AccessKeyId: dara.String(cfg.AccessKeyID), AccessKeySecret: dara.String(cfg.AccessKeySecret)})
	}
	profile := cfg.Profile
	if profile == "" {
		// What credentials.NewCredential(nil) builds, serialized.
		return credentials.FromCredentialsProvider("default", &lockedProvider{p: providers.NewDefaultCredentialsProvider()}), nil
	}
	// The providers' own messages are not shown: they can quote file contents. An STS call that
	// failed (a RamRoleArn profile) is the exception, reduced to its code or network error.
	var stsErr error
	if p, err := providers.NewCLIProfileCredentialsProviderBuilder().WithProfileName(profile).Build(); err == nil {
		_, err := p.GetCredentials()
		if err == nil {
			return credentials.FromCredentialsProvider("cli_profile", &lockedProvider{p: p}), nil
		}
		stsErr = stsFailure(err)
	}
	if p, err := providers.NewProfileCredentialsProviderBuilder().WithProfileName(profile).Build(); err == nil {
		_, err := p.GetCredentials()
		if err == nil {
			return credentials.FromCredentialsProvider("profile", &lockedProvider{p: p}), nil
		}
		if stsErr == nil {
			stsErr = stsFailure(err)
		}
	}
	if stsErr != nil {
		return nil, fmt.Errorf("%w for profile %q: %w", ErrNoCredentials, profile, stsErr)
	}
	return nil, fmt.Errorf("%w for profile %q in ~/.aliyun/config.json or ~/.alibabacloud/credentials", ErrNoCredentials, profile)
}

// stsFailure recognises, in a credential provider's error, a RamRoleArn profile's AssumeRole that
// STS refused (credentials-go quotes the answer's body) or that never got an answer, and returns
// it as an *APIError or a network error naming only the URL's host: the URL's query carries the
// signature and, for a role chained from STS credentials, the security token. Otherwise nil.
func stsFailure(err error) error {
	const refused = "refresh session token failed: " // providers/ram_role_arn.go
	if i := strings.Index(err.Error(), refused); i >= 0 {
		var body struct{ Code, Message, RequestId string }
		if json.Unmarshal([]byte(err.Error()[i+len(refused):]), &body) != nil || body.Code == "" {
			return errors.New("AssumeRole failed: STS answered with something other than an API error")
		}
		msg := body.Message
		if j := strings.Index(msg, "server string to sign is"); j >= 0 {
			msg = strings.TrimSpace(msg[:j])
		}
		return &APIError{Action: "AssumeRole", Code: body.Code, Message: firstLine(msg), RequestID: body.RequestId}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		where := "the credential service"
		if u, perr := url.Parse(ue.URL); perr == nil {
			where = u.Scheme + "://" + u.Host
		}
		return fmt.Errorf("requesting credentials from %s: %w: %s", where, errNetwork, firstLine(ue.Err.Error()))
	}
	return nil
}

// lockedProvider serializes a credential provider. credentials-go's renewing providers (RamRoleArn,
// the ECS RAM role, the default chain) keep their state without a lock, and the SDK asks for
// credentials before every call, so calls made in parallel (Preflight's) when credentials are due
// for renewal race: each renews, and one can read another's new AccessKey ID with a third's token.
// Serialized, the first renews and the others use its result.
type lockedProvider struct {
	mu sync.Mutex
	p  providers.CredentialsProvider
}

func (l *lockedProvider) GetCredentials() (*providers.Credentials, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.p.GetCredentials()
}

func (l *lockedProvider) GetProviderName() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.p.GetProviderName()
}

// ParseEndpoint turns an endpoint URL into the SDK's host[:port] and protocol. Plain http is
// accepted only for loopback hosts.
func ParseEndpoint(raw string) (host, scheme string, err error) {
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", "", fmt.Errorf("endpoint %q is not a URL", raw)
	}
	if u.Path != "" && u.Path != "/" {
		return "", "", fmt.Errorf("endpoint %q has a path; give only scheme, host and port", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !session.IsLoopbackHost(u.Hostname()) {
			return "", "", fmt.Errorf("endpoint %s uses plain http: only loopback endpoints may; use https", u.Host)
		}
	default:
		return "", "", fmt.Errorf("endpoint scheme %q is not http or https", u.Scheme)
	}
	return u.Host, u.Scheme, nil
}

// maskID shows only the ends of an AccessKey ID, which is not secret but need not be whole in logs.
func maskID(id string) string {
	if len(id) <= 8 {
		return "****"
	}
	return id[:4] + "****" + id[len(id)-4:]
}

// runtime is the per-call SDK options: no SDK-level retries (ours are visible and bounded).
func runtime() *dara.RuntimeOptions {
	return &dara.RuntimeOptions{Autoretry: dara.Bool(false)}
}
