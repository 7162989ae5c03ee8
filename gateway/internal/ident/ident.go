// Package ident maps the identity a protocol client claims (NFS AUTH_UNIX
// credentials, the uid of a 9P attach) to the vfs.Caller the volume sees,
// applying root squash as NFS servers do.
package ident

import "github.com/cairnfs/cairn/vfs"

// Nobody is the conventional anonymous uid and gid (nobody/nogroup).
const Nobody = 65534

// Squash is the identity policy of an export.
type Squash struct {
	// Root maps uid 0 to AnonUID and gid 0 to AnonGID (and drops group 0
	// from the supplementary groups), as knfsd's root_squash.
	Root bool
	// AnonUID and AnonGID are the identity of squashed and unauthenticated
	// (AUTH_NULL) callers.
	AnonUID, AnonGID uint32
}

// Anonymous returns the caller used for requests without credentials.
func (s Squash) Anonymous(client string) *vfs.Caller {
	return &vfs.Caller{UID: s.AnonUID, GID: s.AnonGID, Client: client}
}

// Map applies the policy to a claimed identity. It returns a new Caller.
func (s Squash) Map(uid, gid uint32, groups []uint32, client string) *vfs.Caller {
	c := &vfs.Caller{UID: uid, GID: gid, Client: client}
	if s.Root {
		if c.UID == 0 {
			c.UID = s.AnonUID
		}
		if c.GID == 0 {
			c.GID = s.AnonGID
		}
	}
	for _, g := range groups {
		if s.Root && g == 0 {
			continue
		}
		c.Groups = append(c.Groups, g)
	}
	return c
}
