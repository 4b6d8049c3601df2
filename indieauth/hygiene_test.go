package indieauth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func randomToken(t testing.TB) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "tk_" + hex.EncodeToString(b)
}

// TestLogsNoSecrets runs many verifications, good and bad, against
// endpoints that echo the token back in every way they can, and then
// searches everything logged, and every error a server would log, for the
// tokens and our introspection credential.
func TestLogsNoSecrets(t *testing.T) {
	const bearer = "resource-server-credential-8f3a"
	// echo answers with the token (from the form or the header) pasted
	// into a reply chosen by the token's position in the list.
	echo := func(tokens []string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			tok := r.PostFormValue("token")
			if tok == "" {
				tok = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			}
			i := 0
			for j, x := range tokens {
				if x == tok {
					i = j
				}
			}
			switch i % 9 {
			case 0:
				jsonReply(200, fmt.Sprintf(`{"active":true,"me":"https://example.com/","scope":"media","token":%q}`, tok))(w, r)
			case 1:
				jsonReply(200, fmt.Sprintf(`{"active":false,"error_description":"token %s is revoked"}`, tok))(w, r)
			case 2:
				typedReply("text/html", 500, "<h1>Error</h1><pre>Authorization: Bearer "+tok+"</pre>")(w, r)
			case 3:
				typedReply("text/html", 200, "<p>Log in to use "+tok+"</p>")(w, r)
			case 4:
				formReply(400, "error=unauthorized&error_description="+tok)(w, r)
			case 5:
				jsonReply(200, fmt.Sprintf(`{"active":true,"me":"https://example.com/","exp":%q}`, tok))(w, r)
			case 6:
				jsonReply(200, fmt.Sprintf(`{"active":true,"me":"https://other.example/","client_id":"https://c.example/","x":%q}`, tok))(w, r)
			case 7:
				jsonReply(200, fmt.Sprintf(`{"active":true,"me":"https://example.com/","exp":%d,"note":%q}`, now-10, tok))(w, r)
			case 8:
				jsonReply(401, fmt.Sprintf(`{"error":"unauthorized","token":%q}`, tok))(w, r)
			}
		}
	}
	var tokens []string
	for range 45 {
		tokens = append(tokens, randomToken(t))
	}
	static := randomToken(t)
	logger, logs := newLogger()
	introspection := newEndpoint(t, echo(tokens))
	legacy := newEndpoint(t, echo(tokens))
	verifiers := []*Verifier{
		newVerifier(t, Options{IntrospectionEndpoint: introspection.URL, CacheTTL: time.Minute, Logger: logger}),
		newVerifier(t, Options{IntrospectionEndpoint: introspection.URL, IntrospectionBearer: bearer, Logger: logger}),
		newVerifier(t, Options{TokenEndpoint: legacy.URL, CacheTTL: time.Minute, Logger: logger,
			Static: []StaticToken{{SHA256: sha(static), Scope: "media"}}}),
		newVerifier(t, Options{IntrospectionEndpoint: introspection.URL, TokenEndpoint: legacy.URL, Logger: logger}),
	}
	var errs []string
	for round := range 3 {
		for _, v := range verifiers {
			for _, tok := range append([]string{static, tok0(tokens, round)}, tokens...) {
				if _, err := v.Verify(context.Background(), tok); err != nil {
					errs = append(errs, err.Error())
				}
			}
		}
	}
	out := logs.String()
	for _, want := range []string{"token_id", "refused our credential", "unusable reply", "failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("log has no %q: the test did not exercise what it should", want)
		}
	}
	haystack := out + strings.Join(errs, "\n")
	for _, secret := range append([]string{static, bearer, "Bearer"}, tokens...) {
		if strings.Contains(haystack, secret) {
			t.Errorf("%q appears in the log or an error", secret)
		}
	}
	if len(errs) == 0 {
		t.Error("no verification failed: the test did not exercise failures")
	}
}

// tok0 gives each round one more token never seen by the endpoints.
func tok0(tokens []string, round int) string { return tokens[round] + "x" }
