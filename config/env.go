package config

import (
	"errors"
	"fmt"
	"strings"
)

// expand replaces ${NAME} in a string value with getenv(NAME), so secrets
// can stay out of the file. $$ is a literal $; a $ followed by anything
// else is kept, so most passwords containing $ need no escaping. The
// expansion happens on decoded values, never on the YAML text, so a
// variable's value cannot change the file's structure.
//
// Errors never quote the value: it may be a secret.
func expand(s string, getenv func(string) string) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", errors.New(`unclosed "${" (write "$$" for a literal "$")`)
			}
			name := s[i+2 : i+2+end]
			if !isVarName(name) {
				return "", fmt.Errorf(`invalid variable name %q in "${…}" (letters, digits and _; write "$$" for a literal "$")`, name)
			}
			b.WriteString(getenv(name))
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String(), nil
}

// isVarName accepts the names a POSIX shell accepts.
func isVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
