package cloud

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	"github.com/alibabacloud-go/tea/dara"
)

// APIError is an error answer of the ECS API, reduced to what a user needs: the action, the code,
// the service's message and the RequestId to quote to support.
type APIError struct {
	Action    string
	Code      string
	Message   string
	RequestID string
	Status    int
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%s failed: %s", e.Action, e.Code)
	if e.Message != "" && e.Message != e.Code {
		s += ": " + strings.TrimRight(e.Message, ". ")
	}
	hint := hints[e.Code]
	switch QuotaOf(e) {
	case InstanceQuota:
		hint = instanceQuotaHint
	case RegionQuota:
		hint = regionQuotaHint
	}
	if hint != "" {
		s += " (" + hint + ")"
	}
	if e.RequestID != "" {
		s += " [RequestId " + e.RequestID + "]"
	}
	return s
}

// hints say what to do about the codes a user can act on.
var hints = map[string]string{
	"InvalidAccessKeyId.NotFound":  "the AccessKey ID is unknown: check the credentials or profile",
	"SignatureDoesNotMatch":        "the AccessKey secret is wrong: check the credentials or profile",
	"IllegalTimestamp":             "this machine's clock is off: sync it",
	"RegionId.ApiNotSupported":     "check --region",
	"InstanceIds.ExceedLimit":      "at most 10 instances per session request",
	"InvalidInstanceId.NotFound":   "check the instance ID and --region",
	"Forbidden.RAM":                "the RAM user lacks permission for this action",
	"InvalidSecurityToken.Expired": "the STS token has expired: refresh the credentials",
}

// Hints for the session quotas, whose codes are recognised by QuotaOf rather than listed.
const (
	instanceQuotaHint = "the instance has all the connected sessions it may have: end another session to it, or wait for one to end"
	regionQuotaHint   = "the region has all the sessions it may have: end idle ones (ecsterm sessions end ID) or wait"
)

// Quota names a limit on sessions that the service enforces.
type Quota int

// The session limits. Their sizes are the service's to choose (the API page said 1,000 per
// region and 10 connected per instance, a 2026 page says 100 and 20), so ecsterm never counts
// sessions against a number: it starts them and reacts when the service refuses one.
const (
	NoQuota       Quota = iota
	InstanceQuota       // connected sessions per instance
	RegionQuota         // sessions per region
)

// QuotaOf reports which session limit err is the service's refusal for, whether it came from
// StartTerminalSession or from the gateway when a WebSocket opened. The real codes are not
// documented (the emulator's are InstanceSessionQuota.ExceedLimit and SessionQuota.ExceedLimit),
// so an API error counts when its code names a session and a quota, limit or excess; a
// gateway's text, which is less structured, only when it holds the emulator's stem.
func QuotaOf(err error) Quota {
	if err == nil {
		return NoQuota
	}
	var ae *APIError
	if errors.As(err, &ae) {
		c := strings.ToLower(ae.Code)
		if !strings.Contains(c, "session") || !strings.Contains(c, "quota") && !strings.Contains(c, "limit") && !strings.Contains(c, "exceed") {
			return NoQuota
		}
		if strings.Contains(c, "instance") {
			return InstanceQuota
		}
		return RegionQuota
	}
	text := err.Error()
	switch {
	case strings.Contains(text, "InstanceSessionQuota"):
		return InstanceQuota
	case strings.Contains(text, "SessionQuota"):
		return RegionQuota
	}
	return NoQuota
}

// transient reports whether an error is worth retrying: throttling, server-side failures and
// network errors. Other 4xx answers never change on retry.
func transient(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		c := ae.Code
		return strings.HasPrefix(c, "Throttling") || strings.HasPrefix(c, "InternalError") ||
			c == "ServiceUnavailable" || c == "InternalFailure" || ae.Status >= 500
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, errNetwork)
}

var errNetwork = errors.New("network error")

// apiError converts an SDK error into an *APIError, or a network error into one line.
func apiError(action string, err error) error {
	if err == nil {
		return nil
	}
	var (
		code, msg, req *string
		status         *int
		data           map[string]any
	)
	var ce *openapi.ClientError
	var se *openapi.ServerError
	var te *openapi.ThrottlingError
	switch {
	case errors.As(err, &ce):
		code, req, status, data = ce.Code, ce.RequestId, ce.StatusCode, ce.Data
	case errors.As(err, &se):
		code, req, status, data = se.Code, se.RequestId, se.StatusCode, se.Data
	case errors.As(err, &te):
		code, req, status, data = te.Code, te.RequestId, te.StatusCode, te.Data
	default:
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		// A certificate that does not verify will not verify on the next try either: say so
		// once. The SDK flattens the error, so the text is what is left to recognise it by.
		if msg := err.Error(); strings.Contains(msg, "x509: ") || strings.Contains(msg, "tls: failed to verify") {
			return fmt.Errorf("%s: TLS verification failed: %s", action, firstLine(msg))
		}
		// Network errors: the SDK's text can include the request URL, which holds no secret for
		// V3 signatures (they travel in headers), but keep the line short and stable.
		return fmt.Errorf("%s: %w: %s", action, errNetwork, firstLine(err.Error()))
	}
	if m, ok := data["Message"].(string); ok {
		// SignatureDoesNotMatch ends with the server's string to sign, which spans lines and is
		// for diffing by hand, not for the user's one-line error (docs/protocol.md, Errors and
		// retries).
		if i := strings.Index(m, "server string to sign is"); i >= 0 {
			m = strings.TrimSpace(m[:i])
		}
		m = firstLine(m)
		msg = &m
	}
	return &APIError{Action: action, Code: dara.StringValue(code), Message: dara.StringValue(msg),
		RequestID: dara.StringValue(req), Status: dara.IntValue(status)}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// call runs fn until it succeeds, fails for good, or the attempts are used up, backing off with
// full jitter between tries. Each attempt is a fresh request, so the SDK signs it anew.
func (c *Client) call(ctx context.Context, action string, fn func() error) error {
	backoff := 200 * time.Millisecond
	var err error
	for attempt := 1; ; attempt++ {
		err = apiError(action, fn())
		if err == nil || !transient(err) || attempt >= c.attempts {
			if err != nil && attempt > 1 {
				err = fmt.Errorf("%w (after %d attempts)", err, attempt)
			}
			return err
		}
		wait := time.Duration(rand.Int64N(int64(backoff))) + backoff/2
		c.log.Info("retrying", "action", action, "err", err.Error(), "in", wait.Round(time.Millisecond).String(), "attempt", attempt+1, "of", c.attempts)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		backoff = min(backoff*2, 3*time.Second)
	}
}
