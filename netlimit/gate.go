package netlimit

// Gate admits at most n holders at once, for work that costs a resource
// per request (a spooling upload holds a temp file that may grow to
// media.max_size). It never waits: a full gate answers at once, so the
// caller can tell the client to retry rather than hold its connection.
type Gate struct {
	slots chan struct{}
}

// NewGate returns a gate for n holders; n <= 0 admits everyone.
func NewGate(n int) *Gate {
	if n <= 0 {
		return &Gate{}
	}
	return &Gate{slots: make(chan struct{}, n)}
}

// TryAcquire takes a slot and returns its release, or reports false
// when the gate is full. Release is safe to call more than once.
func (g *Gate) TryAcquire() (release func(), ok bool) {
	if g.slots == nil {
		return func() {}, true
	}
	select {
	case g.slots <- struct{}{}:
		released := false
		return func() {
			if !released {
				released = true
				<-g.slots
			}
		}, true
	default:
		return nil, false
	}
}

// InUse is how many slots are held, for metrics and tests.
func (g *Gate) InUse() int { return len(g.slots) }
