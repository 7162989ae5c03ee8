// Package fsops holds the small-file workloads of `make bench`, done with
// plain syscalls so that the same code measures the local disk, a FUSE mount,
// and (built statically into bench/smallfiles) the NFS and 9P kernel clients
// inside the test VM. It uses the standard library only, so the VM binary
// stays small and needs no cgo.
package fsops

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Phase is the outcome of one timed phase over N files.
type Phase struct {
	Name    string        `json:"name"`
	Files   int           `json:"files"`
	Elapsed time.Duration `json:"elapsed"`
}

// Rate is files per second.
func (p Phase) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Files) / p.Elapsed.Seconds()
}

// Name returns the file name of entry i, fixed width so that directory
// order and lengths are the same on every system measured.
func Name(i int) string { return fmt.Sprintf("f%06d", i) }

// Create makes n files of size bytes in dir (open O_CREAT|O_EXCL|O_WRONLY,
// one write, close): what an application writing small files does. The
// close is inside the timing, so write-behind must have handed the data
// to the volume by then (as GlusterFS flushes on close).
func Create(dir string, n, size int) (Phase, error) {
	buf := make([]byte, size)
	for i := range buf {
		buf[i] = byte(i*7 + 1)
	}
	start := time.Now()
	for i := range n {
		p := filepath.Join(dir, Name(i))
		fd, err := syscall.Open(p, syscall.O_CREAT|syscall.O_EXCL|syscall.O_WRONLY|syscall.O_CLOEXEC, 0o644)
		if err != nil {
			return Phase{}, &os.PathError{Op: "create", Path: p, Err: err}
		}
		if size > 0 {
			if _, err := syscall.Write(fd, buf); err != nil {
				syscall.Close(fd)
				return Phase{}, &os.PathError{Op: "write", Path: p, Err: err}
			}
		}
		if err := syscall.Close(fd); err != nil {
			return Phase{}, &os.PathError{Op: "close", Path: p, Err: err}
		}
	}
	return Phase{Name: "create", Files: n, Elapsed: time.Since(start)}, nil
}

// Stat stats each of the n files by path (lookup + getattr).
func Stat(dir string, n int) (Phase, error) {
	var st syscall.Stat_t
	start := time.Now()
	for i := range n {
		p := filepath.Join(dir, Name(i))
		if err := syscall.Stat(p, &st); err != nil {
			return Phase{}, &os.PathError{Op: "stat", Path: p, Err: err}
		}
	}
	return Phase{Name: "stat", Files: n, Elapsed: time.Since(start)}, nil
}

// Read opens each file, reads it to EOF and closes it, checking the size.
func Read(dir string, n, size int) (Phase, error) {
	buf := make([]byte, size+4096)
	start := time.Now()
	for i := range n {
		p := filepath.Join(dir, Name(i))
		fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			return Phase{}, &os.PathError{Op: "open", Path: p, Err: err}
		}
		got := 0
		for {
			m, err := syscall.Read(fd, buf[got:])
			if err != nil {
				syscall.Close(fd)
				return Phase{}, &os.PathError{Op: "read", Path: p, Err: err}
			}
			if m == 0 {
				break
			}
			got += m
			if got == len(buf) {
				break
			}
		}
		syscall.Close(fd)
		if got != size {
			return Phase{}, fmt.Errorf("read %s: %d bytes, want %d", p, got, size)
		}
	}
	return Phase{Name: "read", Files: n, Elapsed: time.Since(start)}, nil
}

// Delete unlinks the n files.
func Delete(dir string, n int) (Phase, error) {
	start := time.Now()
	for i := range n {
		p := filepath.Join(dir, Name(i))
		if err := syscall.Unlink(p); err != nil {
			return Phase{}, &os.PathError{Op: "unlink", Path: p, Err: err}
		}
	}
	return Phase{Name: "delete", Files: n, Elapsed: time.Since(start)}, nil
}
