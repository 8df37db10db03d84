package emulator

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// STS AssumeRole (Security Token Service, RPC style, Version 2015-04-01), for credential
// profiles of the RamRoleArn kind: credentials-go signs it with the profile's AccessKey (HMAC-SHA1,
// form body included in the signature, docs/protocol.md §5.3) and uses the temporary credentials it
// returns for every later call, renewing them 180 s before they expire.
//
// The emulator answers it on its one listener, told apart from ECS by Version, and the
// credentials it issues then sign ECS calls like any others, with their SecurityToken and until
// their Expiration. credentials-go's RamRoleArn profiles cannot be pointed at it: the provider
// always uses https and the host sts.aliyuncs.com, sts.<sts_region>.aliyuncs.com or
// sts-vpc.<sts_region>.aliyuncs.com, and neither config.json nor the environment can change that.
// Tests reach it by name instead (Options.TLSNames, and /etc/hosts in a private mount namespace:
// e2e/ramrole_test.go).
//
// Error codes follow Alibaba's published list for AssumeRole (NoPermission,
// InvalidParameter.RoleSessionName, InvalidParameter.DurationSeconds,
// InvalidParameter.PolicyGrammar, EntityNotExist.Role); InvalidParameter.RoleArn for a malformed
// ARN is the emulator's guess.

const (
	stsVersion = "2015-04-01"
	// DefaultRoleARN is the role AssumeRole grants unless Options.Roles names others.
	DefaultRoleARN = "acs:ram::1000000000000001:role/ecsterm-emulator"
	// DurationSeconds bounds: 15 minutes up to the role's MaxSessionDuration, whose default
	// is one hour.
	stsMinDuration = 900
	stsMaxDuration = 3600
)

var (
	roleARNPattern     = regexp.MustCompile(`^acs:ram::(\d+):role/([\w.-]{1,64})$`)
	sessionNamePattern = regexp.MustCompile(`^[\w.@-]{2,64}$`)
)

// AssumedRole is one AssumeRole call the emulator granted.
type AssumedRole struct {
	SignedBy        string // AccessKey ID that signed the request
	RoleArn         string
	RoleSessionName string
	DurationSeconds int
	Issued          Credential // the temporary credentials handed out, with their Expires
}

// stsStore keeps the credentials AssumeRole issued; the verifier looks AccessKey IDs up here
// after the configured ones. It has its own lock because lookups come from the verifier.
type stsStore struct {
	mu     sync.Mutex
	issued map[string]Credential
	grants []AssumedRole
}

func (s *stsStore) lookup(id string) (Credential, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.issued[id]
	return c, ok
}

func (s *stsStore) add(g AssumedRole) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.issued == nil {
		s.issued = map[string]Credential{}
	}
	s.issued[g.Issued.AccessKeyID] = g.Issued
	s.grants = append(s.grants, g)
}

// AssumedRoles lists the AssumeRole calls granted so far, oldest first, so that tests can check
// who signed them and which credentials came back.
func (e *Emulator) AssumedRoles() []AssumedRole {
	e.sts.mu.Lock()
	defer e.sts.mu.Unlock()
	return append([]AssumedRole(nil), e.sts.grants...)
}

// SignedBy lists the AccessKey ID that signed each verified call of action (ECS or STS), in the
// order they arrived.
func (e *Emulator) SignedBy(action string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.signers[action].list()
}

// Signers is SignedBy for every action called so far.
func (e *Emulator) Signers() map[string][]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string][]string, len(e.signers))
	for action, runs := range e.signers {
		out[action] = runs.list()
	}
	return out
}

// signerRuns records the signers of one action's calls as runs of the same AccessKey ID, so an
// emulator that serves for days grows with each change of key (an STS renewal), not with each
// call.
type signerRuns []signerRun

type signerRun struct {
	id    string
	calls int
}

func (r signerRuns) add(id string) signerRuns {
	if n := len(r); n > 0 && r[n-1].id == id {
		r[n-1].calls++
		return r
	}
	return append(r, signerRun{id, 1})
}

func (r signerRuns) list() []string {
	var out []string
	for _, run := range r {
		for range run.calls {
			out = append(out, run.id)
		}
	}
	return out
}

// serveSTS answers a verified request for the STS API version.
func (e *Emulator) serveSTS(w http.ResponseWriter, r *http.Request, req *request, signer string) {
	if req.action != "AssumeRole" {
		writeAPIError(w, r, req.id, newAPIError("InvalidAction.NotFound", "Specified api is not found, please check your url and method."))
		return
	}
	resp, ae := e.assumeRole(req, signer)
	if ae != nil {
		writeAPIError(w, r, req.id, ae)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// assumeRoleResponse is AssumeRole's answer, in the shape credentials-go parses.
type assumeRoleResponse struct {
	RequestID       string `json:"RequestId"`
	AssumedRoleUser struct {
		Arn           string `json:"Arn"`
		AssumedRoleID string `json:"AssumedRoleId"`
	} `json:"AssumedRoleUser"`
	Credentials struct {
		AccessKeyID     string `json:"AccessKeyId"`
		AccessKeySecret string `json:"AccessKeySecret"`
		SecurityToken   string `json:"SecurityToken"`
		Expiration      string `json:"Expiration"`
	} `json:"Credentials"`
}

func (e *Emulator) assumeRole(req *request, signer string) (*assumeRoleResponse, *apiError) {
	arn := req.get("RoleArn")
	if arn == "" {
		return nil, missingParameter("RoleArn")
	}
	m := roleARNPattern.FindStringSubmatch(arn)
	if m == nil {
		return nil, badRequest("InvalidParameter.RoleArn", "The parameter RoleArn is wrongly formed.")
	}
	if !e.knownRole(arn) {
		return nil, &apiError{Status: http.StatusNotFound, Code: "EntityNotExist.Role", Message: "The specified Role not exists."}
	}
	session := req.get("RoleSessionName")
	if session == "" {
		return nil, missingParameter("RoleSessionName")
	}
	if !sessionNamePattern.MatchString(session) {
		return nil, badRequest("InvalidParameter.RoleSessionName", "The parameter RoleSessionName is wrongly formed.")
	}
	duration := stsMaxDuration
	if s := req.get("DurationSeconds"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < stsMinDuration || n > stsMaxDuration {
			return nil, badRequest("InvalidParameter.DurationSeconds", "The Min/Max value of DurationSeconds is 15min/1hr.")
		}
		duration = n
	}
	if p := req.get("Policy"); p != "" && !json.Valid([]byte(p)) {
		return nil, badRequest("InvalidParameter.PolicyGrammar", "The parameter Policy has not passed grammar check.")
	}

	life := time.Duration(duration) * time.Second
	if e.opts.STSLifetime > 0 {
		life = e.opts.STSLifetime
	}
	// Whole seconds: the Expiration field has no finer unit, and the client and the verifier
	// must agree on the instant.
	expires := e.opts.Now().Add(life).UTC().Truncate(time.Second)
	cred := Credential{
		AccessKeyID:     "STS." + randHex(12),
		AccessKeySecret: randHex(20),
		SecurityToken:   "CAIS" + randHex(96),
		Expires:         expires,
	}
	e.sts.add(AssumedRole{SignedBy: signer, RoleArn: arn, RoleSessionName: session, DurationSeconds: duration, Issued: cred})
	e.log.Debug("sts", "action", "AssumeRole", "role", arn, "session", session, "expires", expires)

	resp := &assumeRoleResponse{RequestID: req.id}
	resp.AssumedRoleUser.Arn = arn + "/" + session
	resp.AssumedRoleUser.AssumedRoleID = roleID(arn) + ":" + session
	resp.Credentials.AccessKeyID = cred.AccessKeyID
	resp.Credentials.AccessKeySecret = cred.AccessKeySecret
	resp.Credentials.SecurityToken = cred.SecurityToken
	resp.Credentials.Expiration = expires.Format(timestampLayout)
	return resp, nil
}

func (e *Emulator) knownRole(arn string) bool {
	for _, r := range e.opts.Roles {
		if strings.EqualFold(r, arn) {
			return true
		}
	}
	return false
}

// roleID is a stable numeric ID for a role, as RAM gives every role one.
func roleID(arn string) string {
	h := fnv.New64a()
	h.Write([]byte(strings.ToLower(arn)))
	return fmt.Sprintf("3%017d", h.Sum64()%1e17)
}
