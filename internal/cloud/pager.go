package cloud

import (
	"context"
	"fmt"

	"github.com/alibabacloud-go/tea/dara"
)

// maxPages bounds one paged listing. 1000 pages of DescribeInstances are 100,000 instances, more
// than a region holds; a service that hands out a new NextToken with every page (empty pages,
// say) must not keep ecsterm calling, or collecting, for ever.
const maxPages = 1000

// pager follows one listing's NextToken, and ends the listing with an error when the service
// sends the same token twice or more than maxPages pages.
type pager struct {
	action string
	seen   map[string]bool
}

// more reports whether the listing goes on with token, the NextToken of the page just read
// ("" ends it); requestID is that page's, for the error.
func (p *pager) more(token, requestID string) (bool, error) {
	if token == "" {
		return false, nil
	}
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	if p.seen[token] || len(p.seen)+1 >= maxPages {
		return false, &APIError{Action: p.action, Code: "InvalidNextToken", RequestID: requestID,
			Message: fmt.Sprintf("the listing does not end (the same NextToken twice, or more than %d pages)", maxPages)}
	}
	p.seen[token] = true
	return true, nil
}

// walk reads action's listing page by page: fetch asks for the page after token (nil for the
// first) through c.call, with its retries, and take reads the page's body, returning its
// NextToken and RequestId, or stop to end the listing there (take must stop on a nil body).
// The pager ends a listing that does not end on its own.
func walk[B any](ctx context.Context, c *Client, action string, fetch func(token *string) (B, error), take func(B) (next, requestID string, stop bool, err error)) error {
	pages := pager{action: action}
	var token *string
	for {
		var body B
		if err := c.call(ctx, action, func() (err error) {
			body, err = fetch(token)
			return err
		}); err != nil {
			return err
		}
		next, requestID, stop, err := take(body)
		if err != nil || stop {
			return err
		}
		more, err := pages.more(next, requestID)
		if err != nil || !more {
			return err
		}
		token = dara.String(next)
	}
}
