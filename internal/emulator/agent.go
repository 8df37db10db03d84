package emulator

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// The agent side of a shell session, as unhelpful as the real Linux agent (docs/protocol.md, Interactive shell): the
// program runs in a PTY with the kernel's default termios (echo on, \n → \r\n on output, ^C/^D
// interpreted), TERM=xterm-256color, CommandLine split with shell quoting and executed directly
// (no shell), output sent in frames of at most 1024 bytes cut only on whole UTF-8 characters.

// maxShellFrame is the most output the agent puts in one shell frame.
const maxShellFrame = 1024

// defaultUser is the Linux agent's default session user.
const defaultUser = "ecs-assist-user"

// utf8Cut returns the length of the longest prefix of b that does not end inside a UTF-8
// character. Bytes that can never complete a character count as complete.
func utf8Cut(b []byte) int {
	// Look back at most 3 bytes for the start of a multi-byte sequence.
	for i := len(b) - 1; i >= 0 && i >= len(b)-3; i-- {
		if !utf8.RuneStart(b[i]) {
			continue
		}
		if need := seqLen(b[i]); need > len(b)-i {
			return i
		}
		return len(b)
	}
	return len(b)
}

func seqLen(lead byte) int {
	switch {
	case lead < 0xC0:
		return 1
	case lead < 0xE0:
		return 2
	case lead < 0xF0:
		return 3
	case lead < 0xF8:
		return 4
	}
	return 1
}

// splitCommandLine splits a command line with POSIX shell quoting (single quotes, double quotes
// with \\ \" \$ \` escapes, backslash outside quotes), as the agent does before executing it
// directly. It does no expansion of any kind.
func splitCommandLine(s string) ([]string, error) {
	var (
		args  []string
		cur   strings.Builder
		inArg bool
	)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		case ch == '\'':
			inArg = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote in command line")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case ch == '"':
			inArg = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\\\"$`\n", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated double quote in command line")
			}
		case ch == '\\':
			inArg = true
			if i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			}
		default:
			inArg = true
			cur.WriteByte(ch)
		}
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args, nil
}
