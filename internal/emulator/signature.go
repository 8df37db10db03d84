package emulator

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	v3Algorithm = "ACS3-HMAC-SHA256"
	// timestampLayout is the only date format either signature accepts (docs/protocol.md §5).
	timestampLayout = "2006-01-02T15:04:05Z"
	// v3Window is how far x-acs-date may drift from the emulator's clock (docs/protocol.md §5.2).
	v3Window = 15 * time.Minute
	// rpcWindow is how long an HMAC-SHA1 Timestamp stays valid (docs/protocol.md §5.1).
	rpcWindow = 31 * time.Minute
	// nonceSweepEvery bounds how often the replay cache is scanned for expired entries.
	nonceSweepEvery = time.Minute
)

// Credential is an AccessKey pair the emulator accepts; SecurityToken is non-empty for STS
// credentials, and then requests must present exactly that token, as the real service insists.
type Credential struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
	Expires         time.Time // STS credentials are refused from then on; zero: never
}

// apiError is an error in Alibaba's shape; Status is the HTTP status.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func badRequest(code, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...)}
}

// missingParameter uses the wording of Alibaba's common MissingParameter error.
func missingParameter(name string) *apiError {
	return badRequest("MissingParameter",
		"The input parameter %q that is mandatory for processing this request is not supplied.", name)
}

func incompleteSignature(detail string) *apiError {
	return badRequest("IncompleteSignature",
		"The request signature does not conform to Aliyun standards: %s.", detail)
}

// signatureMismatch echoes the server's string-to-sign, as the real service does, so a client
// can diff it against its own; it never contains the secret.
func signatureMismatch(stringToSign string) *apiError {
	return badRequest("SignatureDoesNotMatch",
		"Specified signature is not matched with our calculation. server string to sign is:%s", stringToSign)
}

// verifier authenticates OpenAPI requests (ACS3-HMAC-SHA256 and HMAC-SHA1 "RPC v2").
type verifier struct {
	lookup func(accessKeyID string) (Credential, bool)
	now    func() time.Time
	nonces *nonceCache
}

// newVerifier returns a verifier that resolves AccessKey IDs with lookup and reads the clock
// through now (time.Now when nil), so tests can move the clock instead of sleeping.
func newVerifier(lookup func(string) (Credential, bool), now func() time.Time) *verifier {
	if now == nil {
		now = time.Now
	}
	return &verifier{lookup: lookup, now: now, nonces: newNonceCache()}
}

// verify authenticates r (whose body has already been read into body) and returns every request
// parameter (query string plus form body, decoded) and the AccessKey ID that signed it.
// Failures are *apiError with Alibaba's codes.
func (v *verifier) verify(r *http.Request, body []byte) (url.Values, string, error) {
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, "", badRequest("InvalidParameter", "The query string is not valid URL encoding.")
	}
	params := cloneValues(query)
	if isForm(r.Header.Get("Content-Type")) {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, "", badRequest("InvalidParameter", "The form body is not valid URL encoding.")
		}
		for k, vs := range form {
			params[k] = append(params[k], vs...)
		}
	}

	auth := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(auth, v3Algorithm+" "):
		ak, err := v.verifyV3(r, auth, query, body)
		if err != nil {
			return nil, "", err
		}
		// V3 carries Action and Version in headers; copying them in lets handlers read both
		// signature styles the same way.
		for param, header := range map[string]string{"Action": "x-acs-action", "Version": "x-acs-version"} {
			if h := r.Header.Get(header); h != "" && !params.Has(param) {
				params.Set(param, h)
			}
		}
		return params, ak, nil
	case strings.HasPrefix(auth, "ACS3-"):
		return nil, "", badRequest("InvalidSignatureMethod",
			"Specified signature method is not supported; the emulator accepts %s.", v3Algorithm)
	case auth != "":
		return nil, "", incompleteSignature("the Authorization header is not an ACS3 signature")
	case params.Has("Signature"):
		ak, err := v.verifyRPC(r.Method, params)
		if err != nil {
			return nil, "", err
		}
		return params, ak, nil
	}
	return nil, "", missingParameter("Signature")
}

func (v *verifier) verifyV3(r *http.Request, auth string, query url.Values, body []byte) (string, error) {
	akID, signed, sig, aerr := parseAuthorization(auth)
	if aerr != nil {
		return "", aerr
	}
	headers := r.Header.Clone()
	headers.Set("Host", r.Host) // net/http moves Host out of the header map
	if !slices.Contains(signed, "host") {
		return "", incompleteSignature(`SignedHeaders must include "host"`)
	}
	for name := range headers {
		lower := strings.ToLower(name)
		if strings.HasPrefix(lower, "x-acs-") && !slices.Contains(signed, lower) {
			return "", incompleteSignature(fmt.Sprintf("header %q is present but not in SignedHeaders", lower))
		}
	}
	for _, name := range []string{"x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"} {
		if headers.Get(name) == "" {
			return "", missingParameter(name)
		}
	}

	cred, ok := v.lookup(akID)
	if !ok {
		return "", accessKeyNotFound()
	}
	now := v.now()
	ts, terr := checkTimestamp("x-acs-date", headers.Get("x-acs-date"), v3Window, now)
	if terr != nil {
		return "", terr
	}
	payloadHash := headers.Get("x-acs-content-sha256")
	if sum := sha256.Sum256(body); !strings.EqualFold(hex.EncodeToString(sum[:]), payloadHash) {
		return "", badRequest("SignatureDoesNotMatch",
			"Specified x-acs-content-sha256 does not match the SHA-256 of the request body.")
	}

	canonical := canonicalRequestV3(r.Method, r.URL.Path, query, headers, signed, payloadHash)
	want, _ := hex.DecodeString(v3Signature(cred.AccessKeySecret, canonical))
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, want) {
		return "", signatureMismatch(v3StringToSign(canonical))
	}
	if terr := checkToken(cred, headers.Get("x-acs-security-token"), now); terr != nil {
		return "", terr
	}
	if !v.nonces.use(akID+"\x00"+headers.Get("x-acs-signature-nonce"), ts.Add(v3Window), now) {
		return "", nonceUsed()
	}
	return akID, nil
}

func (v *verifier) verifyRPC(method string, params url.Values) (string, error) {
	for _, name := range []string{"AccessKeyId", "SignatureMethod", "SignatureVersion", "SignatureNonce", "Timestamp"} {
		if params.Get(name) == "" {
			return "", missingParameter(name)
		}
	}
	if params.Get("SignatureMethod") != "HMAC-SHA1" {
		return "", badRequest("InvalidSignatureMethod", "Specified signature method is not supported.")
	}
	if params.Get("SignatureVersion") != "1.0" {
		// Alibaba's common codes follow the Invalid{ParameterName} pattern for bad values.
		return "", badRequest("InvalidSignatureVersion", "Specified signature version is not supported.")
	}
	akID := params.Get("AccessKeyId")
	cred, ok := v.lookup(akID)
	if !ok {
		return "", accessKeyNotFound()
	}
	now := v.now()
	ts, terr := checkTimestamp("Timestamp", params.Get("Timestamp"), rpcWindow, now)
	if terr != nil {
		return "", terr
	}

	signed := cloneValues(params)
	signed.Del("Signature")
	stringToSign := rpcStringToSign(method, signed)
	want, _ := base64.StdEncoding.DecodeString(rpcSignature(cred.AccessKeySecret, stringToSign))
	got, err := base64.StdEncoding.DecodeString(params.Get("Signature"))
	if err != nil || !hmac.Equal(got, want) {
		return "", signatureMismatch(stringToSign)
	}
	if terr := checkToken(cred, params.Get("SecurityToken"), now); terr != nil {
		return "", terr
	}
	if !v.nonces.use(akID+"\x00"+params.Get("SignatureNonce"), ts.Add(rpcWindow), now) {
		return "", nonceUsed()
	}
	return akID, nil
}

// parseAuthorization splits "ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…".
func parseAuthorization(auth string) (akID string, signed []string, sig string, err *apiError) {
	fields := map[string]string{}
	for part := range strings.SplitSeq(strings.TrimPrefix(auth, v3Algorithm+" "), ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return "", nil, "", incompleteSignature(fmt.Sprintf("malformed Authorization element %q", part))
		}
		fields[k] = val
	}
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if fields[k] == "" {
			return "", nil, "", incompleteSignature("Authorization lacks " + k)
		}
	}
	for h := range strings.SplitSeq(fields["SignedHeaders"], ";") {
		signed = append(signed, strings.ToLower(strings.TrimSpace(h)))
	}
	return fields["Credential"], signed, fields["Signature"], nil
}

// checkTimestamp accepts value only within window of now on either side, so clients with a
// slightly fast clock still work, and returns the parsed time for the replay cache.
func checkTimestamp(name, value string, window time.Duration, now time.Time) (time.Time, *apiError) {
	ts, err := time.Parse(timestampLayout, value)
	if err != nil {
		return time.Time{}, badRequest("IllegalTimestamp",
			"The input parameter %q is not in the format yyyy-MM-ddTHH:mm:ssZ (UTC).", name)
	}
	if d := now.Sub(ts); d > window || d < -window {
		return time.Time{}, badRequest("IllegalTimestamp",
			"The input parameter %q is more than %s away from the server time %s.",
			name, window, now.UTC().Format(timestampLayout))
	}
	return ts, nil
}

// checkToken enforces that STS credentials come with their exact token and permanent ones with
// none, and that STS credentials have not expired.
func checkToken(cred Credential, token string, now time.Time) *apiError {
	switch {
	case cred.SecurityToken == "" && token == "":
		return nil
	case cred.SecurityToken != "" && token == "":
		// An STS AccessKey is useless without its token; MissingSecurityToken is the code in
		// Alibaba's common error list for exactly this, where Expired would mislead.
		return badRequest("MissingSecurityToken", "SecurityToken is mandatory for this AccessKey.")
	case subtle.ConstantTimeCompare([]byte(token), []byte(cred.SecurityToken)) != 1:
		return badRequest("InvalidSecurityToken.MismatchWithAccessKey",
			"Specified SecurityToken mismatch with the AccessKey.")
	case !cred.Expires.IsZero() && !now.Before(cred.Expires):
		return badRequest("InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")
	}
	return nil
}

func accessKeyNotFound() *apiError {
	return &apiError{Status: http.StatusNotFound, Code: "InvalidAccessKeyId.NotFound",
		Message: "Specified access key is not found."}
}

func nonceUsed() *apiError {
	return badRequest("SignatureNonceUsed", "Specified signature nonce was used already.")
}

// percentEncode applies the encoding of docs/protocol.md §5.1: only A–Z a–z 0–9 - _ . ~ stay
// literal, the rest is %XX in upper-case hex, so a space is %20 and * is %2A.
func percentEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0f])
	}
	return b.String()
}

// canonicalQuery sorts by raw name, as the SDK does, and encodes names and values per
// docs/protocol.md §5.1.
func canonicalQuery(params url.Values) string {
	keys := slices.Sorted(maps.Keys(params))
	var pairs []string
	for _, k := range keys {
		for _, val := range params[k] {
			pairs = append(pairs, percentEncode(k)+"="+percentEncode(val))
		}
	}
	return strings.Join(pairs, "&")
}

// rpcStringToSign builds the HMAC-SHA1 StringToSign of docs/protocol.md §5.1 from all parameters.
func rpcStringToSign(method string, params url.Values) string {
	return method + "&" + percentEncode("/") + "&" + percentEncode(canonicalQuery(params))
}

// rpcSignature is Base64(HMAC-SHA1(secret + "&", stringToSign)).
func rpcSignature(secret, stringToSign string) string {
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// canonicalRequestV3 builds the ACS3 CanonicalRequest of docs/protocol.md §5.2. path is the decoded
// URL path; headers must be keyed canonically (as in an http.Request); signedHeaders may be in any
// order.
func canonicalRequestV3(method, path string, query url.Values, headers http.Header, signedHeaders []string, payloadHash string) string {
	names := make([]string, len(signedHeaders))
	for i, h := range signedHeaders {
		names[i] = strings.ToLower(h)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString(method + "\n" + canonicalURI(path) + "\n" + canonicalQuery(query) + "\n")
	for _, name := range names {
		var vals []string
		for _, val := range headers.Values(name) {
			vals = append(vals, strings.TrimSpace(val))
		}
		slices.Sort(vals)
		b.WriteString(name + ":" + strings.Join(vals, ",") + "\n")
	}
	b.WriteString("\n" + strings.Join(names, ";") + "\n" + payloadHash)
	return b.String()
}

// canonicalURI encodes each path segment per docs/protocol.md §5.1, keeping the slashes; RPC
// calls give "/".
func canonicalURI(path string) string {
	if path == "" {
		return "/"
	}
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = percentEncode(s)
	}
	return strings.Join(segs, "/")
}

func v3StringToSign(canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	return v3Algorithm + "\n" + hex.EncodeToString(sum[:])
}

// v3Signature is hex(HMAC-SHA256(secret, "ACS3-HMAC-SHA256\n" + hex(SHA256(canonicalRequest)))).
func v3Signature(secret, canonicalRequest string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(v3StringToSign(canonicalRequest)))
	return hex.EncodeToString(m.Sum(nil))
}

func isForm(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// nonceCache remembers signature nonces only until the timestamp they came with would fail the
// freshness check, since a replay after that is rejected anyway; so it cannot grow without bound.
type nonceCache struct {
	mu        sync.Mutex
	expiry    map[string]time.Time
	nextSweep time.Time
}

func newNonceCache() *nonceCache {
	return &nonceCache{expiry: map[string]time.Time{}}
}

// use records key until expires and reports whether it was unused at now.
func (c *nonceCache) use(key string, expires, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !now.Before(c.nextSweep) {
		for k, exp := range c.expiry {
			if now.After(exp) {
				delete(c.expiry, k)
			}
		}
		c.nextSweep = now.Add(nonceSweepEvery)
	}
	if exp, ok := c.expiry[key]; ok && !now.After(exp) {
		return false
	}
	c.expiry[key] = expires
	return true
}

func (c *nonceCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.expiry)
}
