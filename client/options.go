package client

import (
	"log/slog"
	"time"
)

// DirectIOMode chooses whether file data bypasses the kernel page cache.
type DirectIOMode int

const (
	// DirectIODisable keeps file data in the page cache: buffered I/O,
	// readahead and shared writable mmap work. This is the default, and
	// what the tutorial's fstab line asks for.
	DirectIODisable DirectIOMode = iota
	// DirectIOEnable sets FOPEN_DIRECT_IO on every open, so every read and
	// write goes to the volume (GlusterFS's direct-io-mode=enable). Shared
	// writable mmap is then refused by older kernels.
	DirectIOEnable
)

func (m DirectIOMode) String() string {
	if m == DirectIOEnable {
		return "enable"
	}
	return "disable"
}

// Largest FUSE request the kernel accepts (go-fuse's MAX_KERNEL_WRITE);
// also the chunk size the brick protocol is designed around.
const maxKernelWrite = 1 << 20

// Options configure a mount. The zero value is valid but has zero cache
// timeouts (every path component is looked up on every access); start from
// DefaultOptions to get GlusterFS's defaults.
type Options struct {
	// EntryTimeout is how long the kernel trusts a name → inode mapping,
	// AttrTimeout how long it trusts attributes, NegativeTimeout how long it
	// remembers that a name does not exist. 0 disables each cache.
	EntryTimeout    time.Duration
	AttrTimeout     time.Duration
	NegativeTimeout time.Duration

	// DirectIO: see DirectIOMode. Files opened with O_DIRECT always
	// bypass the page cache.
	DirectIO DirectIOMode
	// NoKeepCache drops a file's cached pages on every open (close-to-open
	// consistency without relying on mtime checks). By default pages are
	// kept and the kernel invalidates them when mtime or size changes.
	NoKeepCache bool

	// ReadOnly mounts read-only (MS_RDONLY).
	ReadOnly bool
	// NoAtime, NoDirAtime, RelAtime and StrictAtime set the corresponding
	// mount flags.
	NoAtime, NoDirAtime, RelAtime, StrictAtime bool
	// NoExec, Suid and Dev set MS_NOEXEC and clear the default MS_NOSUID
	// and MS_NODEV (fusermount's defaults).
	NoExec, Suid, Dev bool

	// ACL passes the POSIX ACL xattrs (system.posix_acl_access and
	// _default) to the volume; SELinux passes security.selinux. Without
	// them those names are not supported (EOPNOTSUPP), as on a GlusterFS
	// mount without -o acl / -o selinux.
	ACL, SELinux bool

	// DefaultPermissions makes the kernel check mode bits before calling
	// the file system (the default_permissions FUSE option).
	DefaultPermissions bool
	// AllowOther lets users other than the mounting one use the mount.
	AllowOther bool

	// FsName is shown as the source in /proc/mounts and df (for example
	// "brick1:web_sites"); Subtype as fuse.<Subtype> (default "cairn").
	FsName  string
	Subtype string

	// MaxWrite is the largest read or write request (default and maximum
	// 1 MiB). MaxReadAhead is the readahead window; the kernel offers at
	// most 128 KiB during FUSE INIT, so when it is larger and the process
	// may, Mount raises the mount's bdi read_ahead_kb after mounting.
	MaxWrite     int
	MaxReadAhead int
	// MaxBackground bounds asynchronous requests (readahead, writeback);
	// 0 lets go-fuse choose (12). Over the network more readahead in
	// flight pays; GlusterFS's bridge allows 64.
	MaxBackground int

	// GroupsCacheTTL is how long the supplementary groups read from
	// /proc/PID/status for a caller are reused (GlusterFS's gid-timeout).
	// 0 reads them on every request.
	GroupsCacheTTL time.Duration

	// Logger receives diagnostics; nil discards them. Debug additionally
	// logs every FUSE request (go-fuse's debug output).
	Logger *slog.Logger
	Debug  bool
}

// DefaultOptions returns GlusterFS's FUSE defaults: entry and attribute
// timeouts of 1s, no negative-entry caching, page cache on, 1 MiB requests.
func DefaultOptions() Options {
	return Options{
		EntryTimeout:    time.Second,
		AttrTimeout:     time.Second,
		NegativeTimeout: 0,
		DirectIO:        DirectIODisable,
		Subtype:         "cairn",
		MaxWrite:        maxKernelWrite,
		MaxReadAhead:    maxKernelWrite,
		MaxBackground:   64,
		GroupsCacheTTL:  time.Second,
	}
}
