package ssh

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// keyPair is the ed25519 key of one connection, in OpenSSH's encodings.
type keyPair struct {
	private []byte // PEM, "OPENSSH PRIVATE KEY", unencrypted
	public  string // "ssh-ed25519 AAAA…" (no comment)
}

// newKeyPair makes a key for one connection. The private key is written in OpenSSH's own format
// (the only one ssh reads for ed25519); it is small enough not to need golang.org/x/crypto.
func newKeyPair(comment string) (*keyPair, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("making a key: %w", err)
	}
	blob := wireStrings([]byte("ssh-ed25519"), pub)
	var check [4]byte
	if _, err := rand.Read(check[:]); err != nil {
		return nil, fmt.Errorf("making a key: %w", err)
	}
	// The private section: two equal check words, the key, its comment, then padding 1, 2, 3…
	// to the cipher's block size (8 for "none").
	section := append(append([]byte{}, check[:]...), check[:]...)
	section = append(section, wireStrings([]byte("ssh-ed25519"), pub, priv, []byte(comment))...)
	for i := byte(1); len(section)%8 != 0; i++ {
		section = append(section, i)
	}
	var body bytes.Buffer
	body.WriteString("openssh-key-v1\x00")
	body.Write(wireStrings([]byte("none"), []byte("none"), nil))
	body.Write([]byte{0, 0, 0, 1}) // one key
	body.Write(wireStrings(blob, section))
	return &keyPair{
		private: pem.EncodeToMemory(&pem.Block{Type: "OPENSSH PRIVATE KEY", Bytes: body.Bytes()}),
		public:  "ssh-ed25519 " + base64.StdEncoding.EncodeToString(blob),
	}, nil
}

// wireStrings encodes each of b as an SSH wire string (uint32 length, then the bytes).
func wireStrings(b ...[]byte) []byte {
	var out []byte
	for _, s := range b {
		out = binary.BigEndian.AppendUint32(out, uint32(len(s)))
		out = append(out, s...)
	}
	return out
}

// hostKeyTypes are the public key algorithms accepted from an instance's /etc/ssh.
var hostKeyTypes = map[string]bool{
	"ssh-ed25519":         true,
	"ssh-rsa":             true,
	"ecdsa-sha2-nistp256": true,
	"ecdsa-sha2-nistp384": true,
	"ecdsa-sha2-nistp521": true,
}

// maxHostKeyLine bounds one host key line (an RSA key of 16384 bits is about 2.8 KB).
const maxHostKeyLine = 4096

// errHostKey says why a line from the instance is not taken as a host key.
var errHostKey = errors.New("not an OpenSSH public key")

// parseHostKey validates one line of an ssh_host_*_key.pub file, which comes from the instance
// and so is not trusted: a known key type, a base64 blob that decodes to a key of that type, and
// nothing else kept (the comment is dropped). It returns "type base64".
func parseHostKey(line string) (string, error) {
	if len(line) > maxHostKeyLine {
		return "", fmt.Errorf("%w: longer than %d bytes", errHostKey, maxHostKeyLine)
	}
	fields := strings.Fields(line)
	if len(fields) < 2 {
		return "", errHostKey
	}
	typ, b64 := fields[0], fields[1]
	if !hostKeyTypes[typ] {
		return "", fmt.Errorf("%w: unknown key type", errHostKey)
	}
	blob, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errHostKey, err)
	}
	if len(blob) < 4 {
		return "", errHostKey
	}
	n := binary.BigEndian.Uint32(blob)
	if uint64(n) > uint64(len(blob)-4) || string(blob[4:4+n]) != typ {
		return "", fmt.Errorf("%w: the key does not match its type", errHostKey)
	}
	if typ == "ssh-ed25519" && len(blob) != 4+len(typ)+4+ed25519.PublicKeySize {
		return "", fmt.Errorf("%w: wrong ed25519 key size", errHostKey)
	}
	return typ + " " + b64, nil
}
