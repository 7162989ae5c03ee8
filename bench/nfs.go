package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// NFS-through-nfs-cp workload ids.
const (
	wNFSWrite = "nfscp-write"
	wNFSRead  = "nfscp-read"
)

func (b *bench) defineNFS() {
	b.res.define(workload{wNFSWrite, fmt.Sprintf("NFSv3 write %s (libnfs nfs-cp from page cache)", mib(b.cfg.nfsMiB)), "MiB/s", true, "nfscp"})
	b.res.define(workload{wNFSRead, fmt.Sprintf("NFSv3 read %s, cold (libnfs nfs-cp to tmpfs)", mib(b.cfg.nfsMiB)), "MiB/s", true, "nfscp"})
}

// nfsServer is an NFSv3 server the host's nfs-cp talks to.
type nfsServer struct {
	id               string
	export           string // MOUNT path
	nfsPort, mntPort int
	// cold drops the server's caches before a read (kernel caches, and a
	// restart of the cairn gateway so its io-cache starts empty).
	cold func(ctx context.Context) error
	// remove deletes a file written through NFS (outside the timing).
	remove func(name string) error
}

func (s *nfsServer) url(name string) string {
	return fmt.Sprintf("nfs://127.0.0.1%s/%s?version=3&nfsport=%d&mountport=%d", s.export, name, s.nfsPort, s.mntPort)
}

// ganesha is nfs-ganesha (FSAL_VFS) exporting a local directory, NFSv3
// only, on loopback ports of its own; it needs rpcbind to register with.
type ganesha struct {
	export           string
	nfsPort, mntPort int
	proc, rpcbind    *proc
}

// startGanesha starts rpcbind (unless one already runs) and ganesha.nfsd in
// the foreground as our children. The config is the one the VM anchors
// were measured with (../shared/vmtest/examples/ganesha.conf).
func startGanesha(ctx context.Context, root string, cl *cleanup) (*ganesha, error) {
	bin, err := exec.LookPath("ganesha.nfsd")
	if err != nil {
		return nil, fmt.Errorf("nfs-ganesha %w (apt-get install nfs-ganesha nfs-ganesha-vfs rpcbind)", errNotInstalled)
	}
	if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/ganesha/libfsalvfs.so"); err != nil {
		if m, _ := filepath.Glob("/usr/lib/*/ganesha/libfsalvfs.so"); len(m) == 0 {
			return nil, fmt.Errorf("nfs-ganesha-vfs %w", errNotInstalled)
		}
	}
	g := &ganesha{export: filepath.Join(root, "ganesha-export")}
	if err := os.MkdirAll(g.export, 0o755); err != nil {
		return nil, err
	}
	if !listening("127.0.0.1:111") {
		rb, err := exec.LookPath("rpcbind")
		if err != nil {
			return nil, fmt.Errorf("rpcbind %w (ganesha 4.3 will not start without it)", errNotInstalled)
		}
		// Debian 12's rpcbind crashes with -h 127.0.0.1, so it listens on
		// all addresses; nothing here sends to it but ganesha.
		p, err := startProc("rpcbind", filepath.Join(root, "rpcbind.log"), rb, "-f", "-w")
		if err != nil {
			return nil, err
		}
		g.rpcbind = p
		cl.push(func() { p.stop(5 * time.Second) })
		if err := waitListen(ctx, "127.0.0.1:111", p, 15*time.Second); err != nil {
			return nil, err
		}
	}
	if g.nfsPort, err = freePort(); err != nil {
		return nil, err
	}
	if g.mntPort, err = freePort(); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`NFS_CORE_PARAM {
	Protocols = 3;
	Bind_addr = 127.0.0.1;
	NFS_Port = %d;
	MNT_Port = %d;
	Enable_NLM = false;
	Enable_RQUOTA = false;
	Enable_UDP = false;
}
NFSV4 { Graceless = true; }
EXPORT {
	Export_Id = 1;
	Path = %s;
	Pseudo = %s;
	Protocols = 3;
	Transports = TCP;
	Access_Type = RW;
	Squash = No_Root_Squash;
	SecType = sys;
	FSAL { Name = VFS; }
}
LOG { Default_Log_Level = EVENT; }
`, g.nfsPort, g.mntPort, g.export, g.export)
	confPath := filepath.Join(root, "ganesha.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	_ = os.MkdirAll("/var/run/ganesha", 0o755)
	p, err := startProc("ganesha.nfsd", filepath.Join(root, "ganesha.out"), bin,
		"-F", "-f", confPath, "-L", filepath.Join(root, "ganesha.log"), "-p", filepath.Join(root, "ganesha.pid"))
	if err != nil {
		return nil, err
	}
	g.proc = p
	cl.push(func() { p.stop(10 * time.Second) })
	for _, port := range []int{g.nfsPort, g.mntPort} {
		if err := waitListen(ctx, fmt.Sprintf("127.0.0.1:%d", port), p, 60*time.Second); err != nil {
			return nil, fmt.Errorf("%v\n%s", err, tailFile(filepath.Join(root, "ganesha.log"), 15))
		}
	}
	return g, nil
}

// nfsSource makes the local file nfs-cp copies from (incompressible data).
func (b *bench) nfsSource() (string, error) {
	p := filepath.Join(b.cfg.workdir, "nfs-src")
	if st, err := os.Stat(p); err == nil && st.Size() == int64(b.cfg.nfsMiB)<<20 {
		return p, nil
	}
	f, err := os.Create(p)
	if err != nil {
		return "", err
	}
	buf := make([]byte, 1<<20)
	x := uint64(0x9E3779B97F4A7C15)
	for range b.cfg.nfsMiB {
		for i := 0; i+8 <= len(buf); i += 8 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			for k := range 8 {
				buf[i+k] = byte(x >> (8 * k))
			}
		}
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return "", err
		}
	}
	return p, f.Close()
}

// sinkDir is where nfs-cp's reads land: tmpfs when there is one.
func sinkDir() string {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err == nil && st.Type == 0x01021994 {
		return "/dev/shm"
	}
	return os.TempDir()
}

func sizeOf(st os.FileInfo) int64 {
	if st == nil {
		return -1
	}
	return st.Size()
}

// warm reads a file so that it is in the page cache: the nfs-cp write
// figure is then the NFS path's, not the local disk's.
func warm(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}

// runNFSCopy times nfs-cp of the source file to each server and back to
// /dev/null after dropping caches.
func (b *bench) runNFSCopy(ctx context.Context, servers []*nfsServer) {
	src, err := b.nfsSource()
	if err != nil {
		for _, s := range servers {
			b.res.fail(wNFSWrite, s.id, err)
			b.res.fail(wNFSRead, s.id, err)
		}
		return
	}
	mibs := float64(b.cfg.nfsMiB)
	dead := map[string]bool{}
	for run := 1; run <= b.cfg.runs; run++ {
		for _, s := range servers {
			if dead[s.id] || ctx.Err() != nil {
				continue
			}
			err := func() error {
				name := fmt.Sprintf("nfscp.%d", run)
				if err := warm(src); err != nil {
					return err
				}
				start := time.Now()
				if _, err := runCmd(ctx, "nfs-cp", src, s.url(name)); err != nil {
					return err
				}
				b.record(wNFSWrite, s.id, run, mibs/time.Since(start).Seconds())
				if err := s.cold(ctx); err != nil {
					return err
				}
				// nfs-cp cannot write to /dev/null; a file in tmpfs costs
				// about as little.
				dst := filepath.Join(sinkDir(), fmt.Sprintf("cairn-bench-nfscp.%d", os.Getpid()))
				defer os.Remove(dst)
				start = time.Now()
				if _, err := runCmd(ctx, "nfs-cp", s.url(name), dst); err != nil {
					return err
				}
				b.record(wNFSRead, s.id, run, mibs/time.Since(start).Seconds())
				if st, err := os.Stat(dst); err != nil || st.Size() != int64(b.cfg.nfsMiB)<<20 {
					return fmt.Errorf("nfs-cp read back %v bytes (%v), want %d", sizeOf(st), err, int64(b.cfg.nfsMiB)<<20)
				}
				os.Remove(dst)
				return s.remove(name)
			}()
			if err != nil {
				b.logf("%s run %d: %v", s.id, run, err)
				b.res.fail(wNFSWrite, s.id, err)
				b.res.fail(wNFSRead, s.id, err)
				dead[s.id] = true
			}
		}
	}
}
