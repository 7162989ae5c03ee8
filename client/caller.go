package client

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/cairnfs/cairn/vfs"
)

// groupsCacheMax bounds the per-pid groups cache; when full it is emptied
// rather than aged, which is cheap and keeps memory flat.
const groupsCacheMax = 4096

// groupsCache remembers the supplementary groups of recent callers. FUSE
// requests carry only uid, gid and pid, but bricks check permissions the way
// the kernel would, including supplementary groups, so they are read from
// /proc/PID/status like GlusterFS's fuse bridge does.
type groupsCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[uint32]groupsEntry
}

type groupsEntry struct {
	uid     uint32
	groups  []uint32
	expires time.Time
}

func (c *groupsCache) get(pid, uid uint32) []uint32 {
	if pid == 0 {
		return nil
	}
	now := time.Now()
	if c.ttl > 0 {
		c.mu.Lock()
		e, ok := c.m[pid]
		c.mu.Unlock()
		// A cached entry for a pid that now runs as another uid belongs to
		// an earlier process (pid reuse) or to a setuid transition.
		if ok && e.uid == uid && now.Before(e.expires) {
			return e.groups
		}
	}
	groups := readGroups(pid)
	if c.ttl > 0 {
		c.mu.Lock()
		if c.m == nil || len(c.m) >= groupsCacheMax {
			c.m = make(map[uint32]groupsEntry)
		}
		c.m[pid] = groupsEntry{uid: uid, groups: groups, expires: now.Add(c.ttl)}
		c.mu.Unlock()
	}
	return groups
}

// readGroups parses the Groups: line of /proc/PID/status. A process that
// has gone away has no groups.
func readGroups(pid uint32) []uint32 {
	f, err := os.Open("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/status")
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		rest, ok := bytes.CutPrefix(line, []byte("Groups:"))
		if !ok {
			continue
		}
		var out []uint32
		for _, field := range bytes.Fields(rest) {
			g, err := strconv.ParseUint(string(field), 10, 32)
			if err == nil {
				out = append(out, uint32(g))
			}
		}
		return out
	}
	return nil
}

// caller builds the vfs.Caller of a FUSE request.
func (m *mountState) caller(ctx context.Context) *vfs.Caller {
	fc, ok := fuse.FromContext(ctx)
	if !ok {
		return &vfs.Caller{}
	}
	c := &vfs.Caller{UID: fc.Uid, GID: fc.Gid, Pid: fc.Pid}
	// root passes every permission check, so its groups do not matter.
	if fc.Uid != 0 {
		c.Groups = m.groups.get(fc.Pid, fc.Uid)
	}
	return c
}

// opCtx is the context for a stack operation: the caller's identity, and no
// cancellation (see the package doc: interrupts do not abort operations).
func (m *mountState) opCtx(ctx context.Context) context.Context {
	return vfs.WithCaller(context.WithoutCancel(ctx), m.caller(ctx))
}

// waitCtx keeps cancellation, for operations that may block indefinitely
// (lock waits), so that a signal to the caller ends them with EINTR.
func (m *mountState) waitCtx(ctx context.Context) context.Context {
	return vfs.WithCaller(ctx, m.caller(ctx))
}
