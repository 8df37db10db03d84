package cloud

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/dara"
)

// StartOptions describe the session to start.
type StartOptions struct {
	InstanceID  string
	CommandLine string // run this instead of the login shell (at most 512 characters)
	Username    string
	PortNumber  int    // a port session instead of a shell
	Target      string // TargetServer: a host reached through the instance
}

// Session is a started session. Its URL and Token are secrets: never print them.
type Session struct {
	ID    string
	URL   string
	Token string
}

// MaxCommandLine is StartTerminalSession's limit on CommandLine.
const MaxCommandLine = 512

// ErrPasswordNameWithoutUser is returned by StartSession when the client has a PasswordName and
// the session names no Username: the password belongs to a user, and without one the service
// would log in as its default user and ignore it, or refuse.
var ErrPasswordNameWithoutUser = &UsageError{"--password-name needs a user: give -l USER or USER@target"}

// UsageError is a request the user must change, not a failure of the service: the CLI exits 2.
type UsageError struct{ msg string }

func (e *UsageError) Error() string { return e.msg }

// apiConnectionType checks a ConnectionType setting and spells it as the API does.
func apiConnectionType(s string) (string, error) {
	switch strings.ToLower(s) {
	case "":
		return "", nil
	case "internet":
		return "Internet", nil
	case "intranet":
		return "Intranet", nil
	}
	return "", &UsageError{fmt.Sprintf("connection type %q is not internet or intranet", s)}
}

// ConnectionType is the ConnectionType every StartTerminalSession sends ("Internet" or
// "Intranet"), or "" when the service chooses (Internet).
func (c *Client) ConnectionType() string { return c.connType }

// StartSession calls StartTerminalSession. Retries carry the same ClientToken, so a request that
// reached the service before its answer was lost does not start a second session.
func (c *Client) StartSession(ctx context.Context, o StartOptions) (*Session, error) {
	if len([]rune(o.CommandLine)) > MaxCommandLine {
		return nil, errors.New("command line longer than 512 characters")
	}
	if c.password != "" && o.Username == "" && o.PortNumber == 0 {
		return nil, ErrPasswordNameWithoutUser
	}
	req := &ecs.StartTerminalSessionRequest{
		RegionId:    dara.String(c.region),
		InstanceId:  []*string{dara.String(o.InstanceID)},
		ClientToken: dara.String(clientToken()),
	}
	if o.CommandLine != "" {
		req.CommandLine = dara.String(o.CommandLine)
	}
	if o.Username != "" {
		req.Username = dara.String(o.Username)
		if c.password != "" {
			req.PasswordName = dara.String(c.password)
		}
	}
	if c.connType != "" {
		req.ConnectionType = dara.String(c.connType)
	}
	if o.PortNumber != 0 {
		req.PortNumber = dara.Int32(int32(o.PortNumber))
	}
	if o.Target != "" {
		req.TargetServer = dara.String(o.Target)
	}
	var s *Session
	err := c.call(ctx, "StartTerminalSession", func() error {
		resp, err := c.sdk().StartTerminalSessionWithContext(ctx, req, runtime())
		if err != nil {
			return err
		}
		if resp.Body == nil || dara.StringValue(resp.Body.WebSocketUrl) == "" {
			return &APIError{Action: "StartTerminalSession", Code: "EmptyResponse", Message: "the answer has no WebSocketUrl"}
		}
		s = &Session{ID: dara.StringValue(resp.Body.SessionId), URL: dara.StringValue(resp.Body.WebSocketUrl), Token: dara.StringValue(resp.Body.SecurityToken)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.log.Debug("session started", "session", s.ID)
	return s, nil
}

// EndSession calls EndTerminalSession so the session stops counting against the region's quota.
// It uses its own short deadline: it runs when the user is leaving, often after ctx has ended.
func (c *Client) EndSession(id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := &ecs.EndTerminalSessionRequest{RegionId: dara.String(c.region), SessionId: dara.String(id)}
	return c.call(ctx, "EndTerminalSession", func() error {
		_, err := c.sdk().EndTerminalSessionWithContext(ctx, req, &dara.RuntimeOptions{ConnectTimeout: dara.Int(2000), ReadTimeout: dara.Int(3000)})
		return err
	})
}

func clientToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
