package fusetest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Differential performs the same seeded random sequence of file-system
// operations, by syscalls, on the mount directory mnt and on a local
// directory, comparing every result (errno, bytes read, attributes,
// listings) and the whole trees at the end. Names come from a small set so
// that operations collide: overwriting renames, unlinking open files,
// removing non-empty directories and the like happen often.
func Differential(t *testing.T, mnt string, seed int64, nOps int) {
	local := t.TempDir()
	d := &differ{t: t, rng: rand.New(rand.NewSource(seed)), roots: [2]string{local, mnt}}
	d.fds = map[int][2]int{}
	defer d.closeAll()
	for i := 0; i < nOps && !t.Failed(); i++ {
		d.step(i)
	}
	d.closeAll()
	if !t.Failed() {
		CompareTrees(t, local, mnt, CompareOpts{MtimeResolution: -1, NoXattrs: false})
	}
	t.Logf("seed %d: %d operations", seed, d.ops)
}

type differ struct {
	t     *testing.T
	rng   *rand.Rand
	roots [2]string // local, mount
	ops   int
	// fds maps a descriptor id to its fd on the local side [0] and on the
	// mount [1], for files kept open across operations.
	fds   map[int][2]int
	nextF int
}

var diffNames = []string{"a", "b", "c", "dir1", "dir2"}

// path picks a random path of depth 1-3 over the small name set.
func (d *differ) path() string {
	depth := 1 + d.rng.Intn(3)
	parts := make([]string, depth)
	for i := range parts {
		parts[i] = diffNames[d.rng.Intn(len(diffNames))]
	}
	return filepath.Join(parts...)
}

func errOf(err error) string {
	if err == nil {
		return "ok"
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return e.Error()
	}
	return err.Error()
}

// both runs op on the local side and on the mount and compares the
// results, which op returns as a string.
func (d *differ) both(desc string, op func(root string, side int) string) {
	d.ops++
	a := op(d.roots[0], 0)
	b := op(d.roots[1], 1)
	if a != b {
		d.t.Errorf("op %d %s: local %q, mount %q", d.ops, desc, a, b)
	}
}

func statString(root, p string) string {
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(root, p), &st); err != nil {
		return errOf(err)
	}
	s := fmt.Sprintf("mode %o nlink %d uid %d size %d", st.Mode, st.Nlink, st.Uid, st.Size)
	if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		// Directory sizes and link counts are file-system specific.
		s = fmt.Sprintf("mode %o", st.Mode)
	}
	return s
}

func listString(root, p string) string {
	entries, err := os.ReadDir(filepath.Join(root, p))
	if err != nil {
		return errOf(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name()+":"+e.Type().String())
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

func (d *differ) step(i int) {
	r := d.rng
	p, q := d.path(), d.path()
	switch op := r.Intn(20); op {
	case 0, 1: // create/overwrite a file with random content
		data := make([]byte, r.Intn(3)*r.Intn(200000))
		r.Read(data)
		d.both("write "+p, func(root string, _ int) string {
			return errOf(os.WriteFile(filepath.Join(root, p), data, 0o644))
		})
	case 2: // pwrite at a random offset (holes, extension)
		data := make([]byte, 1+r.Intn(70000))
		r.Read(data)
		off := int64(r.Intn(300000))
		d.both(fmt.Sprintf("pwrite %s @%d+%d", p, off, len(data)), func(root string, _ int) string {
			f, err := os.OpenFile(filepath.Join(root, p), os.O_WRONLY, 0)
			if err != nil {
				return errOf(err)
			}
			defer f.Close()
			n, err := f.WriteAt(data, off)
			return fmt.Sprintf("%d %s", n, errOf(err))
		})
	case 3: // append
		data := []byte(fmt.Sprintf("append %d\n", i))
		d.both("append "+p, func(root string, _ int) string {
			f, err := os.OpenFile(filepath.Join(root, p), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
			if err != nil {
				return errOf(err)
			}
			defer f.Close()
			_, err = f.Write(data)
			return errOf(err)
		})
	case 4: // truncate
		size := int64(r.Intn(100000))
		d.both(fmt.Sprintf("truncate %s %d", p, size), func(root string, _ int) string {
			return errOf(os.Truncate(filepath.Join(root, p), size))
		})
	case 5, 6: // read and compare the whole content
		d.both("read "+p, func(root string, _ int) string {
			b, err := os.ReadFile(filepath.Join(root, p))
			if err != nil {
				return errOf(err)
			}
			return fmt.Sprintf("%d bytes %x", len(b), shortSum(b))
		})
	case 7:
		mode := uint32(0o700 + r.Intn(0o100))
		d.both(fmt.Sprintf("mkdir %s %o", p, mode), func(root string, _ int) string {
			return errOf(syscall.Mkdir(filepath.Join(root, p), mode))
		})
	case 8:
		d.both("rmdir "+p, func(root string, _ int) string {
			return errOf(syscall.Rmdir(filepath.Join(root, p)))
		})
	case 9:
		d.both("unlink "+p, func(root string, _ int) string {
			return errOf(syscall.Unlink(filepath.Join(root, p)))
		})
	case 10, 11:
		d.both("rename "+p+" "+q, func(root string, _ int) string {
			return errOf(syscall.Rename(filepath.Join(root, p), filepath.Join(root, q)))
		})
	case 12:
		flags := []uint{unix.RENAME_NOREPLACE, unix.RENAME_EXCHANGE}[r.Intn(2)]
		d.both(fmt.Sprintf("renameat2 %s %s %d", p, q, flags), func(root string, _ int) string {
			return errOf(unix.Renameat2(unix.AT_FDCWD, filepath.Join(root, p), unix.AT_FDCWD, filepath.Join(root, q), flags))
		})
	case 13:
		d.both("link "+p+" "+q, func(root string, _ int) string {
			return errOf(syscall.Link(filepath.Join(root, p), filepath.Join(root, q)))
		})
	case 14:
		// Relative targets without "..": following them never leaves the tree.
		target := []string{"a", "dir1/c", "b/a", "missing"}[r.Intn(4)]
		d.both("symlink "+target+" "+p, func(root string, _ int) string {
			return errOf(syscall.Symlink(target, filepath.Join(root, p)))
		})
	case 15:
		mode := uint32(r.Intn(0o10000))
		d.both(fmt.Sprintf("chmod %s %o", p, mode), func(root string, _ int) string {
			return errOf(syscall.Chmod(filepath.Join(root, p), mode))
		})
	case 16:
		name := "user." + diffNames[r.Intn(3)]
		val := []byte(fmt.Sprint(r.Intn(1000)))
		if r.Intn(3) == 0 {
			d.both("removexattr "+p+" "+name, func(root string, _ int) string {
				return errOf(unix.Lremovexattr(filepath.Join(root, p), name))
			})
			break
		}
		d.both("setxattr "+p+" "+name, func(root string, _ int) string {
			return errOf(unix.Lsetxattr(filepath.Join(root, p), name, val, 0))
		})
	case 17:
		d.both("stat "+p, func(root string, _ int) string { return statString(root, p) })
	case 18:
		d.both("readdir "+p, func(root string, _ int) string { return listString(root, p) })
	case 19: // open a file and keep it; or write to, then close, one kept open
		if len(d.fds) > 0 && r.Intn(2) == 0 {
			d.useOpen(i)
			break
		}
		id := d.nextF
		d.nextF++
		var fds [2]int
		d.both("open "+p, func(root string, side int) string {
			fd, err := syscall.Open(filepath.Join(root, p), syscall.O_RDWR, 0)
			fds[side] = fd
			return errOf(err)
		})
		if fds[0] >= 0 && fds[1] >= 0 {
			d.fds[id] = fds
		} else {
			for _, fd := range fds {
				if fd >= 0 {
					syscall.Close(fd)
				}
			}
		}
	}
}

// useOpen writes through and reads back a descriptor opened earlier, whose
// name may have been renamed or unlinked since, then closes it.
func (d *differ) useOpen(i int) {
	var ids []int
	for id := range d.fds {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	id := ids[d.rng.Intn(len(ids))]
	fds := d.fds[id]
	delete(d.fds, id)
	data := []byte(fmt.Sprintf("through fd %d at op %d", id, i))
	off := int64(d.rng.Intn(5000))
	d.both(fmt.Sprintf("fd %d pwrite+fstat+pread", id), func(_ string, side int) string {
		fd := fds[side]
		defer syscall.Close(fd)
		if _, err := syscall.Pwrite(fd, data, off); err != nil {
			return "pwrite " + errOf(err)
		}
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err != nil {
			return "fstat " + errOf(err)
		}
		buf := make([]byte, st.Size)
		n, err := syscall.Pread(fd, buf, 0)
		return fmt.Sprintf("size %d nlink %d read %d %x %s", st.Size, st.Nlink, n, shortSum(buf[:max(n, 0)]), errOf(err))
	})
}

func (d *differ) closeAll() {
	for id, fds := range d.fds {
		syscall.Close(fds[0])
		syscall.Close(fds[1])
		delete(d.fds, id)
	}
}

func shortSum(b []byte) []byte {
	var h [8]byte
	for i, c := range b {
		h[i%8] = h[i%8]*31 + c
	}
	return bytes.Clone(h[:])
}
