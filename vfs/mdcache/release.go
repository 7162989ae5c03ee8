package mdcache

// Per-client state lives below (features/locks on a brick), but the brick
// server only holds the top of the stack; these pass its notices down.

// ReleaseClient forwards the end of a client's connection to the child if
// it keeps per-client state (brick/locks does).
func (t *MDCache) ReleaseClient(client string) {
	if x, ok := t.Child.(interface{ ReleaseClient(string) }); ok {
		x.ReleaseClient(client)
	}
}

// ReleaseOwner forwards a lock owner's close to the child if it keeps
// per-owner state (brick/locks does).
func (t *MDCache) ReleaseOwner(client string, owner uint64) {
	if x, ok := t.Child.(interface{ ReleaseOwner(string, uint64) }); ok {
		x.ReleaseOwner(client, owner)
	}
}
