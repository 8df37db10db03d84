//go:build !unix

package ssh

// authNotice is not available here: the key is removed after removeAfter, or when ssh ends.
type authNotice struct{}

func newAuthNotice(string) (*authNotice, error) { return nil, errNoticePath }

// SSHOptions are none.
func (n *authNotice) SSHOptions() []string { return nil }

// Done is never closed.
func (n *authNotice) Done() <-chan struct{} { return nil }

// Close does nothing.
func (n *authNotice) Close() error { return nil }
