package cloud

import (
	"fmt"
	"io"
	"net/http"
)

// maxAPIBody bounds what ecsterm reads of one API answer. The largest real answers (a page of
// 100 instances, a command's output) are well under 1 MiB; anything past this is a broken or
// hostile endpoint, and reading it whole would take the workstation's memory.
const maxAPIBody = 8 << 20

// ErrBodyTooLong is wrapped by errors for an API answer longer than maxAPIBody.
var ErrBodyTooLong = fmt.Errorf("the API answer is longer than %d MiB: the endpoint is broken or hostile", maxAPIBody>>20)

// boundBody makes resp's body fail with ErrBodyTooLong past maxAPIBody, so that the SDK, which
// reads a body whole, stops there.
func boundBody(resp *http.Response, err error) (*http.Response, error) {
	if err != nil || resp == nil || resp.Body == nil {
		return resp, err
	}
	if resp.ContentLength > maxAPIBody {
		resp.Body.Close()
		return nil, ErrBodyTooLong
	}
	resp.Body = &boundedBody{rc: resp.Body, left: maxAPIBody}
	return resp, nil
}

// boundedBody is a response body that fails once more than left bytes have been read.
type boundedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly the bound from a longer one.
		var one [1]byte
		if n, _ := b.rc.Read(one[:]); n > 0 {
			return 0, ErrBodyTooLong
		}
		return b.rc.Read(p)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *boundedBody) Close() error { return b.rc.Close() }
