package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/cairnfs/cairn/vfs"
)

// Mounted is a mounted volume (returned by Mount).
type Mounted struct {
	mountpoint string
	server     *fuse.Server
	state      *mountState

	mu        sync.Mutex
	unmounted bool
}

// Mount mounts the translator stack root at mountpoint and serves it until
// Unmount (or an external umount). ctx bounds only the setup: the root of
// the volume must answer GetAttr before the kernel mount is made, so a
// volume whose bricks are all unreachable fails here with a clear error
// instead of producing a mount where every access gives ENOTCONN.
func Mount(ctx context.Context, root vfs.Translator, mountpoint string, opts Options) (*Mounted, error) {
	mountpoint, err := filepath.Abs(mountpoint)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(mountpoint); err != nil {
		return nil, fmt.Errorf("mountpoint: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("mountpoint %s: not a directory", mountpoint)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	st := &mountState{stack: root, opts: opts, log: logger, groups: groupsCache{ttl: opts.GroupsCacheTTL}}

	if a, e := root.GetAttr(ctx, vfs.RootGFID, 0); e != 0 {
		return nil, fmt.Errorf("volume root: %w", e)
	} else if !a.IsDir() {
		return nil, fmt.Errorf("volume root: mode %o is not a directory", a.Mode)
	}

	fsOpts := st.fsOptions()
	rootNode := &node{m: st, gfid: vfs.RootGFID}
	raw := newLockReleaser(fs.NewNodeFS(rootNode, fsOpts))
	server, err := fuse.NewServer(raw, mountpoint, &fsOpts.MountOptions)
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", mountpoint, err)
	}
	go server.Serve()
	if err := server.WaitMount(); err != nil {
		_ = server.Unmount()
		return nil, fmt.Errorf("mount %s: %w", mountpoint, err)
	}
	m := &Mounted{mountpoint: mountpoint, server: server, state: st}
	if opts.MaxReadAhead > 128<<10 {
		if err := raiseReadAhead(mountpoint, opts.MaxReadAhead); err != nil {
			logger.Debug("readahead left at the kernel default", "err", err)
		}
	}
	logger.Info("mounted", "mountpoint", mountpoint, "source", opts.FsName)
	return m, nil
}

// fsOptions translates Options into go-fuse's.
func (m *mountState) fsOptions() *fs.Options {
	o := m.opts
	entry, attr, neg := o.EntryTimeout, o.AttrTimeout, o.NegativeTimeout
	maxWrite := o.MaxWrite
	if maxWrite <= 0 || maxWrite > maxKernelWrite {
		maxWrite = maxKernelWrite
	}
	readAhead := min(o.MaxReadAhead, maxWrite)
	subtype := o.Subtype
	if subtype == "" {
		subtype = "cairn"
	}
	var fuseOpts []string
	if o.DefaultPermissions {
		fuseOpts = append(fuseOpts, "default_permissions")
	}
	fo := &fs.Options{
		EntryTimeout:    &entry,
		AttrTimeout:     &attr,
		NegativeTimeout: &neg,
		// Modes are reported as the volume has them: a file of mode 0 is
		// shown as 0, not as go-fuse's 0644 default.
		NullPermissions: true,
		RootStableAttr:  &fs.StableAttr{Ino: 1, Gen: 0},
		MountOptions: fuse.MountOptions{
			AllowOther:    o.AllowOther,
			Options:       fuseOpts,
			MaxWrite:      maxWrite,
			MaxReadAhead:  readAhead,
			MaxBackground: o.MaxBackground,
			FsName:        o.FsName,
			Name:          subtype,
			EnableLocks:   true,
			// The bricks clear setuid and setgid themselves on a write,
			// truncate or chown (storage/posix's killPriv; chown(2) on
			// the brick clears them for everyone), so the kernel need
			// not fetch the attributes before every chown to compute
			// the mode it would send along (fuse_setattr without
			// handle_killpriv). That fetch would also send the
			// setattrs write-behind holds.
			ExtraCapabilities: fuse.CAP_HANDLE_KILLPRIV,
			// Read data comes from the network into memory, never from
			// a local descriptor go-fuse could splice from; with
			// splicing on, go-fuse still writes every READ reply's
			// header into a pipe, then drains it (splice to /dev/null,
			// FIONREAD) before the writev that sends it: three wasted
			// syscalls per read.
			DisableSplice:    true,
			DirectMount:      true,
			DirectMountFlags: o.mountFlags(),
			Debug:            o.Debug,
		},
	}
	if o.Debug {
		// go-fuse's debug output wants a *log.Logger.
		fo.MountOptions.Logger = slog.NewLogLogger(m.log.Handler(), slog.LevelDebug)
	}
	fo.Logger = log.New(slogWriter{m.log}, "", 0)
	return fo
}

// mountFlags computes mount(2) flags, starting from fusermount's defaults
// (nosuid, nodev).
func (o Options) mountFlags() uintptr {
	var f uintptr = syscall.MS_NOSUID | syscall.MS_NODEV
	if o.Suid {
		f &^= syscall.MS_NOSUID
	}
	if o.Dev {
		f &^= syscall.MS_NODEV
	}
	if o.NoExec {
		f |= syscall.MS_NOEXEC
	}
	if o.ReadOnly {
		f |= syscall.MS_RDONLY
	}
	if o.NoAtime {
		f |= syscall.MS_NOATIME
	}
	if o.NoDirAtime {
		f |= syscall.MS_NODIRATIME
	}
	if o.RelAtime {
		f |= syscall.MS_RELATIME
	}
	if o.StrictAtime {
		f |= syscall.MS_STRICTATIME
	}
	if f == 0 {
		f = syscall.MS_MGC_VAL // go-fuse reads 0 as "use the defaults"
	}
	return f
}

// slogWriter adapts go-fuse's *log.Logger diagnostics to slog.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn(string(p))
	return len(p), nil
}

// raiseReadAhead sets the mount's bdi read_ahead_kb. The kernel proposes at
// most 128 KiB in FUSE INIT and go-fuse can only lower it; the sysfs knob
// is the only way up (root only).
func raiseReadAhead(mountpoint string, bytes int) error {
	var st syscall.Stat_t
	if err := syscall.Stat(mountpoint, &st); err != nil {
		return err
	}
	p := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev))
	return os.WriteFile(p, []byte(strconv.Itoa(bytes/1024)), 0)
}

// Mountpoint returns the absolute mount point.
func (m *Mounted) Mountpoint() string { return m.mountpoint }

// Unmount unmounts the volume, retrying briefly while it is busy (a
// process may be just closing its last file). It fails with EBUSY if the
// mount stays in use; the caller may try again or detach it with umount -l.
// Unmount does not close the translator stack.
func (m *Mounted) Unmount() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.unmounted {
		return nil
	}
	var err error
	for i := 0; i < 10; i++ {
		if err = m.server.Unmount(); err == nil || !errors.Is(err, syscall.EBUSY) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err == nil {
		m.unmounted = true
	}
	return err
}

// Wait blocks until the mount is gone (Unmount, or umount from outside).
func (m *Mounted) Wait() { m.server.Wait() }
