package hooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// received is one request as a webhook receiver saw it.
type received struct {
	method, contentType, userAgent, event string
	signature                             string
	validSignature                        bool
	body                                  []byte
}

// receiver is a webhook endpoint that checks signatures with its own
// secret, records requests and answers them from a script of statuses
// (0 means hang until the sender gives up); after the script, 200.
type receiver struct {
	secret string
	script []int

	mu       sync.Mutex
	requests []received
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	mac := hmac.New(sha256.New, []byte(rc.secret))
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	got := req.Header.Get("X-Spano-Signature-256")

	rc.mu.Lock()
	n := len(rc.requests)
	rc.requests = append(rc.requests, received{
		method: req.Method, contentType: req.Header.Get("Content-Type"), userAgent: req.Header.Get("User-Agent"),
		event: req.Header.Get("X-Spano-Event"), signature: got,
		validSignature: hmac.Equal([]byte(got), []byte(want)), body: body,
	})
	status := http.StatusOK
	if n < len(rc.script) {
		status = rc.script[n]
	}
	rc.mu.Unlock()

	if status == 0 {
		<-req.Context().Done()
		return
	}
	w.WriteHeader(status)
}

func (rc *receiver) received() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.requests...)
}

func TestWebhookSignature(t *testing.T) {
	tests := []struct {
		name           string
		hookSecret     string
		receiverSecret string
		wantSigned     bool
		wantValid      bool
	}{
		{"signed with the shared secret", "s3cret", "s3cret", true, true},
		{"signed with another secret", "s3cret", "other", true, false},
		{"no secret, no header", "", "s3cret", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &receiver{secret: tt.receiverSecret}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			r, _, _ := testRunner(t, []Hook{{
				Name: "ci", Events: []string{EventUpload, EventPushed}, URL: srv.URL, Secret: tt.hookSecret,
			}}, Options{})
			upload := Event{SHA256: "abcd", Type: "image/png", File: "/spool/secret-path"}
			if err := r.Veto(context.Background(), upload); err != nil {
				t.Fatalf("Veto: %v", err)
			}
			pushed := Event{Event: EventPushed, SHA256: "abcd", Commit: "c0ffee", URL: "https://example.com/media/x.png"}
			r.Notify(pushed)
			closeRunner(t, r)

			got := rc.received()
			if len(got) != 2 {
				t.Fatalf("receiver got %d requests, want 2", len(got))
			}
			upload.Event, upload.File, upload.Time = EventUpload, "", fixedNow
			pushed.Time = fixedNow
			for i, want := range []Event{upload, pushed} {
				req := got[i]
				if req.method != http.MethodPost || req.contentType != "application/json" || req.userAgent != "spano" || req.event != want.Event {
					t.Errorf("request %d: method %q, Content-Type %q, User-Agent %q, X-Spano-Event %q", i, req.method, req.contentType, req.userAgent, req.event)
				}
				if got, want := req.signature != "", tt.wantSigned; got != want {
					t.Errorf("request %d: signature header present %v, want %v", i, got, want)
				}
				if got, want := req.validSignature, tt.wantValid; got != want {
					t.Errorf("request %d: signature %q valid %v, want %v", i, req.signature, got, want)
				}
				if tt.hookSecret != "" {
					if got, want := req.signature, Sign(tt.hookSecret, req.body); got != want {
						t.Errorf("Sign disagrees with the header: %q vs %q", want, got)
					}
				}
				var ev Event
				if err := json.Unmarshal(req.body, &ev); err != nil {
					t.Fatalf("body is not event JSON: %v: %s", err, req.body)
				}
				if diff := cmp.Diff(ev, want); diff != "" {
					t.Errorf("request %d body (-got +want):\n%s", i, diff)
				}
				if strings.Contains(string(req.body), "secret-path") {
					t.Errorf("body %s carries the local spool path", req.body)
				}
			}
		})
	}
}

func TestWebhookRetries(t *testing.T) {
	tests := []struct {
		name         string
		script       []int
		wantRequests int
		wantResult   string
		wantBackoffs []int
	}{
		{"500 then success", []int{500}, 2, resultOK, []int{1}},
		{"429 then success", []int{429}, 2, resultOK, []int{1}},
		{"502, 503 then success", []int{502, 503}, 3, resultOK, []int{1, 2}},
		{"5xx on every attempt", []int{500, 500, 500, 500}, 3, resultError, []int{1, 2}},
		{"400 is not retried", []int{400}, 1, resultError, nil},
		{"404 is not retried", []int{404}, 1, resultError, nil},
		{"timeout then success", []int{0}, 2, resultOK, []int{1}},
		{"timeout on every attempt", []int{0, 0, 0}, 3, resultTimeout, []int{1, 2}},
		{"redirect answered 3xx is not retried", []int{304}, 1, resultError, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Short timeouts only where the receiver hangs, so a loaded
			// machine does not turn a quick answer into a timeout.
			timeout := 5 * time.Second
			if slices.Contains(tt.script, 0) {
				timeout = 200 * time.Millisecond
			}
			rc := &receiver{script: tt.script}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			var mu sync.Mutex
			var backoffs []int
			r, _, logs := testRunner(t, []Hook{{
				Name: "ci", Events: []string{EventStored}, URL: srv.URL, Timeout: timeout,
			}}, Options{Retries: 3, Backoff: func(attempt int) time.Duration {
				mu.Lock()
				defer mu.Unlock()
				backoffs = append(backoffs, attempt)
				return time.Millisecond
			}})
			r.Notify(Event{Event: EventStored, SHA256: "ab"})
			closeRunner(t, r)

			if got, want := len(rc.received()), tt.wantRequests; got != want {
				t.Errorf("requests: got %d, want %d", got, want)
			}
			if got, want := runs(r, "ci", EventStored, tt.wantResult), 1.0; got != want {
				t.Errorf("runs{result=%s}: got %v, want %v\nlog:\n%s", tt.wantResult, got, want, logs)
			}
			if diff := cmp.Diff(backoffs, tt.wantBackoffs); diff != "" {
				t.Errorf("backoff attempts (-got +want):\n%s", diff)
			}
		})
	}
}

func TestWebhookNetworkErrorsRetriedAndURLNotLogged(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/services/T000/B000/s3cr3t-t0ken"
	srv.Close()

	r, _, logs := testRunner(t, []Hook{{Name: "chat", Events: []string{EventPushFailed}, URL: url}}, Options{Retries: 3})
	r.Notify(Event{Event: EventPushFailed, Error: "remote rejected the push"})
	closeRunner(t, r)

	if got, want := runs(r, "chat", EventPushFailed, resultError), 1.0; got != want {
		t.Errorf("runs{result=error}: got %v, want %v", got, want)
	}
	out := logs.String()
	if got, want := strings.Count(out, "retrying"), 2; got != want {
		t.Errorf("retry log lines: got %d, want %d\n%s", got, want, out)
	}
	if !strings.Contains(out, "connection refused") {
		t.Errorf("log lacks the network error:\n%s", out)
	}
	if strings.Contains(out, "s3cr3t") {
		t.Errorf("log shows the webhook URL, which holds a credential:\n%s", out)
	}
}

func TestSign(t *testing.T) {
	// RFC 4231 test case 2.
	got := Sign("Jefe", []byte("what do ya want for nothing?"))
	want := "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	if got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestWebhookVetoTimeout(t *testing.T) {
	rc := &receiver{script: []int{0}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	r, _, _ := testRunner(t, []Hook{{Name: "ci", Events: []string{EventUpload}, URL: srv.URL, Timeout: 100 * time.Millisecond}}, Options{})
	var verr *VetoError
	if err := r.Veto(context.Background(), Event{}); !errors.As(err, &verr) {
		t.Fatalf("Veto: %v, want *VetoError", err)
	}
	if got, want := verr.Message, "hook ci timed out"; got != want {
		t.Errorf("message: got %q, want %q", got, want)
	}
	if got, want := runs(r, "ci", EventUpload, resultTimeout), 1.0; got != want {
		t.Errorf("runs{result=timeout}: got %v, want %v", got, want)
	}
}
