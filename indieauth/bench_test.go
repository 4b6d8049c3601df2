package indieauth

import (
	"context"
	"crypto/sha256"
	"math/rand/v2"
	"testing"
	"time"
)

// benchVerifier returns a Verifier whose introspection endpoint is a real
// local server, and n tokens already verified (so cached).
func benchVerifier(b *testing.B, n int, ttl time.Duration, static []StaticToken) (*Verifier, []string) {
	b.Helper()
	e := newEndpoint(b, jsonReply(200, `{"active":true,"me":"https://example.com/","scope":"media create","client_id":"https://quill.p3k.io/"}`))
	logger, _ := newLogger()
	v, err := New(context.Background(), Options{Me: testMe, IntrospectionEndpoint: e.URL, CacheTTL: ttl, Static: static, Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = randomToken(b)
		if _, err := v.Verify(context.Background(), tokens[i]); err != nil {
			b.Fatal(err)
		}
	}
	return v, tokens
}

// verifyParallel verifies the token that next picks (with a random
// source of the goroutine's own) on every core, and reports the rate.
func verifyParallel(b *testing.B, v *Verifier, next func(*rand.Rand) string) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), 1))
		for pb.Next() {
			if _, err := v.Verify(ctx, next(r)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
}

// BenchmarkVerifyCached is the common case: a client's token seen before.
func BenchmarkVerifyCached(b *testing.B) {
	v, tokens := benchVerifier(b, 1, time.Hour, nil)
	verifyParallel(b, v, func(*rand.Rand) string { return tokens[0] })
}

// BenchmarkVerifyCachedFull looks tokens up in a full default-size cache.
func BenchmarkVerifyCachedFull(b *testing.B) {
	v, tokens := benchVerifier(b, defaultCacheSize, time.Hour, nil)
	verifyParallel(b, v, func(r *rand.Rand) string { return tokens[r.IntN(len(tokens))] })
}

// BenchmarkVerifyStatic checks a static token among three.
func BenchmarkVerifyStatic(b *testing.B) {
	static := []StaticToken{{SHA256: sha("one")}, {SHA256: sha("two")}, {SHA256: sha("three-is-the-one"), Scope: "media"}}
	v, _ := benchVerifier(b, 0, time.Hour, static)
	verifyParallel(b, v, func(*rand.Rand) string { return "three-is-the-one" })
}

// BenchmarkVerifyUncached asks the local endpoint every time: what the
// cache saves, with the network at its fastest.
func BenchmarkVerifyUncached(b *testing.B) {
	v, tokens := benchVerifier(b, 1, 0, nil)
	verifyParallel(b, v, func(*rand.Rand) string { return tokens[0] })
}

// BenchmarkSHA256Token is the floor: hashing a token, which every
// verification does once.
func BenchmarkSHA256Token(b *testing.B) {
	tok := []byte(randomToken(b))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			sha256.Sum256(tok)
		}
	})
}
