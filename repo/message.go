package repo

import (
	"strings"
)

// A Trailer is one "Key: Value" line at the end of a commit message. spano
// records what it knows about an upload in trailers so that `git log`,
// `spano log` and the query index can read it back without a database.
type Trailer struct {
	Key, Value string
}

// Message is a commit message made of a subject line and trailers.
type Message struct {
	Subject  string
	Trailers []Trailer
}

// String formats m the way git expects: subject, blank line, trailers.
// Newlines and other control characters in the subject and the values are
// replaced by spaces, so a client-supplied filename cannot forge a trailer.
func (m Message) String() string {
	var b strings.Builder
	b.WriteString(oneLine(m.Subject))
	b.WriteString("\n")
	if len(m.Trailers) > 0 {
		b.WriteString("\n")
	}
	for _, t := range m.Trailers {
		b.WriteString(oneLine(t.Key))
		b.WriteString(": ")
		b.WriteString(oneLine(t.Value))
		b.WriteString("\n")
	}
	return b.String()
}

// Value returns the value of the first trailer named key, or "".
func (m Message) Value(key string) string {
	for _, t := range m.Trailers {
		if strings.EqualFold(t.Key, key) {
			return t.Value
		}
	}
	return ""
}

// ParseMessage reads a commit message written by Message.String, or by a
// person: the first line is the subject, and the last paragraph, when every
// line of it is "Key: Value", holds the trailers.
func ParseMessage(s string) Message {
	s = strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	subject, rest, _ := strings.Cut(s, "\n")
	m := Message{Subject: strings.TrimSpace(subject)}
	if rest == "" {
		return m
	}
	paras := strings.Split(rest, "\n\n")
	last := strings.TrimSpace(paras[len(paras)-1])
	var trailers []Trailer
	for _, line := range strings.Split(last, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return m
		}
		trailers = append(trailers, Trailer{Key: k, Value: strings.TrimSpace(v)})
	}
	m.Trailers = trailers
	return m
}

func oneLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029 {
			return ' '
		}
		return r
	}, s))
}
