package fusetest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ToolsConfig describes the mount Tools runs against.
type ToolsConfig struct {
	// DirectIO is set when the mount uses direct-io-mode=enable: shared
	// writable mmap (and so sqlite's WAL mode) is then not expected to work.
	DirectIO bool
	// FsName is the source the mount should show in df, if known.
	FsName string
}

// Tools runs the everyday-tools checks against mnt, each in its own
// directory mnt/tools/NAME.
func Tools(t *testing.T, mnt string, cfg ToolsConfig) {
	base := filepath.Join(mnt, "tools")
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, dir string, cfg ToolsConfig)
	}{
		{"Df", testDf},
		{"LsL", testLsL},
		{"CpA", testCpA},
		{"Tar", testTar},
		{"Git", testGit},
		{"Sqlite", testSqlite},
		{"SqliteWAL", testSqliteWAL},
		{"LocksAcrossProcesses", testLocks},
		{"MmapShared", testMmap},
		{"UnlinkedWhileOpen", testUnlinkedOpen},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(base, tc.name)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			tc.fn(t, dir, cfg)
		})
	}
}

func testDf(t *testing.T, dir string, cfg ToolsConfig) {
	out := Run(t, dir, "df", "-P", dir)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("df output:\n%s", out)
	}
	f := strings.Fields(lines[1])
	if len(f) < 6 {
		t.Fatalf("df line %q", lines[1])
	}
	if cfg.FsName != "" && f[0] != cfg.FsName {
		t.Errorf("df source %q, want %q", f[0], cfg.FsName)
	}
	total, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil || total == 0 {
		t.Errorf("df size %q: want a positive number of blocks", f[1])
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Blocks == 0 || st.Bavail > st.Blocks || st.Bfree > st.Blocks {
		t.Errorf("statfs %+v", st)
	}
	if want := uint64(st.Blocks) * uint64(st.Frsize) / 1024; total != want {
		t.Errorf("df says %d KiB, statfs %d", total, want)
	}
	Run(t, dir, "df", "-i", dir)
	Run(t, dir, "df", "-h", dir)
}

// testLsL compares `ls -lnR` of the same tree made on the mount and on a
// local directory: types, modes, link counts, owners, sizes, times, names
// and symlink targets. Directory sizes are file-system specific and masked.
func testLsL(t *testing.T, dir string, cfg ToolsConfig) {
	local := t.TempDir()
	MakeTree(t, local, 1)
	mnt := filepath.Join(dir, "tree")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	MakeTree(t, mnt, 1)
	norm := func(out string) string {
		var b strings.Builder
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && f[0] == "total" {
				continue
			}
			if len(f) >= 7 && f[len(f)-1] == ".." {
				continue // the parent of the tree differs
			}
			if len(f) >= 7 && strings.HasPrefix(f[0], "d") {
				f[4] = "-"
			}
			b.WriteString(strings.Join(f, " "))
			b.WriteByte('\n')
		}
		return b.String()
	}
	args := []string{"-lnaR", "--time-style=+%s.%N", "."}
	want := norm(Run(t, local, "ls", args...))
	got := norm(Run(t, mnt, "ls", args...))
	if got != want {
		t.Errorf("ls -lnR differs:\n%s", lineDiff(want, got))
	}
	// ls -l also reads xattrs (ACL and SELinux probes) and symlinks.
	Run(t, mnt, "ls", "-laZ", ".")
}

func testCpA(t *testing.T, dir string, cfg ToolsConfig) {
	NeedTool(t, "cp")
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	MakeTree(t, src, 2)
	in := filepath.Join(dir, "in")
	Run(t, dir, "cp", "-a", src, in)
	CompareTrees(t, src, in, CompareOpts{})
	back := filepath.Join(t.TempDir(), "back")
	Run(t, dir, "cp", "-a", in, back)
	CompareTrees(t, src, back, CompareOpts{})
	// And a copy within the mount (copy_file_range, or its fallback).
	again := filepath.Join(dir, "again")
	Run(t, dir, "cp", "-a", in, again)
	CompareTrees(t, src, again, CompareOpts{})
	Run(t, dir, "rm", "-rf", in, again)
	if _, err := os.Lstat(in); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rm -rf left %s: %v", in, err)
	}
}

func testTar(t *testing.T, dir string, cfg ToolsConfig) {
	NeedTool(t, "tar")
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	MakeTree(t, src, 3)
	archive := filepath.Join(dir, "a.tar")
	Run(t, dir, "tar", "--xattrs", "--xattrs-include=user.*", "-C", src, "-cf", archive, ".")
	ex := filepath.Join(dir, "ex")
	if err := os.Mkdir(ex, 0o755); err != nil {
		t.Fatal(err)
	}
	Run(t, dir, "tar", "--xattrs", "--xattrs-include=user.*", "-C", ex, "-xpf", archive)
	CompareTrees(t, src, ex, CompareOpts{MtimeResolution: time.Second})
	// Out again: archive the extracted tree to local disk and unpack there.
	local := t.TempDir()
	Run(t, dir, "tar", "--xattrs", "--xattrs-include=user.*", "-C", ex, "-cf", filepath.Join(local, "b.tar"), ".")
	ex2 := filepath.Join(local, "ex2")
	if err := os.Mkdir(ex2, 0o755); err != nil {
		t.Fatal(err)
	}
	Run(t, local, "tar", "--xattrs", "--xattrs-include=user.*", "-C", ex2, "-xpf", "b.tar")
	CompareTrees(t, src, ex2, CompareOpts{MtimeResolution: time.Second})
	Run(t, dir, "tar", "-tvf", archive)
	// Compressed, through a pipe (pax format, as --xattrs implies, keeps
	// nanoseconds, so -d compares exactly).
	Run(t, dir, "sh", "-c", "tar --xattrs -C "+src+" -czf - . | tar --xattrs -C "+ex+" -xzf - && tar -C "+ex+" -df "+archive)
}

func testGit(t *testing.T, dir string, cfg ToolsConfig) {
	NeedTool(t, "git")
	repo := filepath.Join(dir, "repo")
	git := func(args ...string) string {
		t.Helper()
		return Run(t, repo, "git", append([]string{"-c", "user.name=cairn", "-c", "user.email=cairn@example.org",
			"-c", "init.defaultBranch=main", "-c", "gc.auto=0"}, args...)...)
	}
	Run(t, dir, "git", "-c", "init.defaultBranch=main", "init", "-q", repo)
	for i := 0; i < 20; i++ {
		p := filepath.Join(repo, "src", fmt.Sprintf("file%02d.txt", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte(fmt.Sprintf("line %d\n", i)), 100*(i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("add", "-A")
	git("commit", "-q", "-m", "first")
	if err := os.WriteFile(filepath.Join(repo, "src", "file03.txt"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("mv", "src/file04.txt", "moved.txt")
	git("rm", "-q", "src/file05.txt")
	git("commit", "-q", "-am", "second")
	git("checkout", "-q", "-b", "side", "HEAD~1")
	git("checkout", "-q", "main")
	if n := strings.Count(git("log", "--oneline"), "\n"); n != 2 {
		t.Errorf("git log: %d commits, want 2", n)
	}
	if s := git("status", "--porcelain"); s != "" {
		t.Errorf("git status after commit: %q", s)
	}
	git("gc", "-q", "--aggressive")
	git("fsck", "--strict", "--no-progress")
	clone := filepath.Join(t.TempDir(), "clone")
	Run(t, dir, "git", "clone", "-q", repo, clone)
	if got, err := os.ReadFile(filepath.Join(clone, "src", "file03.txt")); err != nil || string(got) != "changed\n" {
		t.Errorf("clone content %q %v", got, err)
	}
}

func sqlite(t *testing.T, dir, db, sql string) string {
	t.Helper()
	cmd := exec.Command("sqlite3", "-batch", "-bail", db)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(".timeout 20000\n" + sql)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// sqliteConcurrent has writers insert rows concurrently, each in many small
// transactions, relying on sqlite's fcntl locking for mutual exclusion.
func sqliteConcurrent(t *testing.T, dir, db string) {
	const writers, rows = 3, 60
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var sql strings.Builder
			for i := 0; i < rows; i++ {
				fmt.Fprintf(&sql, "INSERT INTO t(w, i, pad) VALUES (%d, %d, randomblob(300));\n", w, i)
			}
			sqlite(t, dir, db, sql.String())
		}(w)
	}
	wg.Wait()
	if got := sqlite(t, dir, db, "SELECT count(*), count(DISTINCT w*100000+i) FROM t;"); got != fmt.Sprintf("%d|%d", writers*rows+1000, writers*rows+1000) {
		t.Errorf("rows after concurrent inserts: %s", got)
	}
	if got := sqlite(t, dir, db, "PRAGMA integrity_check;"); got != "ok" {
		t.Errorf("integrity_check: %s", got)
	}
}

func testSqlite(t *testing.T, dir string, cfg ToolsConfig) {
	NeedTool(t, "sqlite3")
	db := filepath.Join(dir, "test.db")
	sqlite(t, dir, db, `CREATE TABLE t(id INTEGER PRIMARY KEY, w INT, i INT, pad BLOB);
CREATE INDEX ti ON t(w, i);
BEGIN;
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM n WHERE x < 1000)
INSERT INTO t(w, i, pad) SELECT -1, x, randomblob(500) FROM n;
COMMIT;`)
	sqliteConcurrent(t, dir, db)
	sqlite(t, dir, db, "DELETE FROM t WHERE i % 2 = 0; VACUUM;")
	if got := sqlite(t, dir, db, "PRAGMA integrity_check; SELECT count(*) FROM t;"); got != "ok\n590" {
		t.Errorf("after vacuum: %q", got)
	}
}

func testSqliteWAL(t *testing.T, dir string, cfg ToolsConfig) {
	NeedTool(t, "sqlite3")
	if cfg.DirectIO {
		t.Skip("WAL mode needs shared writable mmap of the -shm file, which direct-io-mode=enable does not offer")
	}
	db := filepath.Join(dir, "wal.db")
	if got := sqlite(t, dir, db, "PRAGMA journal_mode=WAL;"); got != "wal" {
		t.Fatalf("journal_mode: %q", got)
	}
	sqlite(t, dir, db, `CREATE TABLE t(id INTEGER PRIMARY KEY, w INT, i INT, pad BLOB);
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM n WHERE x < 1000)
INSERT INTO t(w, i, pad) SELECT -1, x, randomblob(100) FROM n;`)
	sqliteConcurrent(t, dir, db)
	sqlite(t, dir, db, "PRAGMA wal_checkpoint(TRUNCATE);")
}

// holdLock is the body of a lock-holder subprocess (see LockHolder).
func holdLock(path string) int {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK}
	for {
		err = syscall.FcntlFlock(f.Fd(), syscall.F_SETLKW, &lk)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0 // exiting closes f, which must release the lock
}

// LockHolder starts a process (the test binary again) that holds a POSIX
// write lock on the whole of path until release is called. It returns the
// holder's pid.
func LockHolder(t testing.TB, path string) (pid int, release func()) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), envLock+"="+path)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("lock holder: %q", line)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			stdin.Close()
			if err := cmd.Wait(); err != nil {
				t.Errorf("lock holder: %v", err)
			}
		})
	}
	t.Cleanup(release)
	return cmd.Process.Pid, release
}

func fcntl(fd uintptr, cmd int, typ int16) (syscall.Flock_t, error) {
	lk := syscall.Flock_t{Type: typ}
	for {
		err := syscall.FcntlFlock(fd, cmd, &lk)
		// Go's preemption signal interrupts blocking lock waits.
		if err != syscall.EINTR {
			return lk, err
		}
	}
}

func testLocks(t *testing.T, dir string, cfg ToolsConfig) {
	p := filepath.Join(dir, "lockfile")
	if err := os.WriteFile(p, []byte("locks"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	t.Run("PosixAcrossProcesses", func(t *testing.T) {
		pid, release := LockHolder(t, p)
		lk, err := fcntl(f.Fd(), syscall.F_GETLK, syscall.F_RDLCK)
		if err != nil || lk.Type != syscall.F_WRLCK || int(lk.Pid) != pid {
			t.Errorf("F_GETLK: %v type %d pid %d, want write lock of %d", err, lk.Type, lk.Pid, pid)
		}
		if _, err := fcntl(f.Fd(), syscall.F_SETLK, syscall.F_RDLCK); err != syscall.EAGAIN && err != syscall.EACCES {
			t.Errorf("F_SETLK against a held lock: %v, want EAGAIN", err)
		}
		// A waiter is granted the lock when the holder exits.
		got := make(chan error, 1)
		go func() {
			_, err := fcntl(f.Fd(), syscall.F_SETLKW, syscall.F_WRLCK)
			got <- err
		}()
		select {
		case err := <-got:
			t.Fatalf("F_SETLKW returned while the lock was held: %v", err)
		case <-time.After(300 * time.Millisecond):
		}
		release()
		select {
		case err := <-got:
			if err != nil {
				t.Errorf("F_SETLKW: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("F_SETLKW not granted after the holder exited")
		}
		// Closing any descriptor of the file drops this process's locks
		// (POSIX), so a new holder gets it.
		other, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		other.Close()
		_, release2 := LockHolder(t, p)
		release2()
	})

	t.Run("KilledWaiterLeavesNoLock", func(t *testing.T) {
		_, release := LockHolder(t, p)
		// A second process blocks in F_SETLKW and is killed while waiting:
		// the FUSE interrupt cancels its wait, which must not turn into a
		// lock nobody holds once the first holder lets go.
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		waiter := exec.Command(exe, "-test.run=^$")
		waiter.Env = append(os.Environ(), envLock+"="+p)
		if err := waiter.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		_ = waiter.Process.Kill()
		_ = waiter.Wait()
		release()
		got := make(chan struct{})
		go func() {
			_, release3 := LockHolder(t, p)
			release3()
			close(got)
		}()
		select {
		case <-got:
		case <-time.After(20 * time.Second):
			t.Fatal("the lock stayed taken after its holder exited and the only waiter was killed")
		}
	})

	t.Run("OFD", func(t *testing.T) {
		a, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if _, err := fcntl(a.Fd(), unix.F_OFD_SETLK, syscall.F_WRLCK); err != nil {
			t.Fatalf("OFD lock: %v", err)
		}
		if _, err := fcntl(b.Fd(), unix.F_OFD_SETLK, syscall.F_RDLCK); err != syscall.EAGAIN {
			t.Errorf("conflicting OFD lock: %v, want EAGAIN", err)
		}
		// The last close of the description releases its OFD locks, in
		// the kernel's asynchronous RELEASE (as for flock below).
		a.Close()
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, err := fcntl(b.Fd(), unix.F_OFD_SETLK, syscall.F_WRLCK)
			if err == nil {
				break
			}
			if err != syscall.EAGAIN || time.Now().After(deadline) {
				t.Fatalf("OFD lock after the holder closed: %v", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})

	t.Run("Flock", func(t *testing.T) {
		NeedTool(t, "flock")
		q := filepath.Join(dir, "flockfile")
		if err := os.WriteFile(q, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		holder := exec.Command("flock", "-x", q, "-c", "echo held; sleep 2")
		out, _ := holder.StdoutPipe()
		if err := holder.Start(); err != nil {
			t.Fatal(err)
		}
		if line, _ := bufio.NewReader(out).ReadString('\n'); line != "held\n" {
			t.Fatalf("flock holder: %q", line)
		}
		if o, err := RunErr(dir, "flock", "-n", "-s", q, "true"); err == nil {
			t.Errorf("flock -n succeeded while another process holds the lock: %s", o)
		}
		fd, err := os.Open(q)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Flock(int(fd.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != syscall.EWOULDBLOCK {
			t.Errorf("flock LOCK_NB: %v, want EWOULDBLOCK", err)
		}
		if err := holder.Wait(); err != nil {
			t.Fatal(err)
		}
		// The holder's exit released the lock. The kernel sends the RELEASE
		// that carries the unlock asynchronously after the last close
		// (fuse_file_put), so it may arrive a moment later.
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := syscall.Flock(int(fd.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
			if err == nil {
				break
			}
			if err != syscall.EWOULDBLOCK || time.Now().After(deadline) {
				t.Fatalf("flock after the holder exited: %v", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		// A blocking flock simply waits for it.
		if err := syscall.Flock(int(fd.Fd()), syscall.LOCK_UN); err != nil {
			t.Fatal(err)
		}
		holder2 := exec.Command("flock", "-x", q, "-c", "echo held")
		if out, err := holder2.CombinedOutput(); err != nil || string(out) != "held\n" {
			t.Fatalf("second holder: %v %q", err, out)
		}
		err = syscall.Flock(int(fd.Fd()), syscall.LOCK_EX)
		for err == syscall.EINTR { // Go's preemption signal interrupts the wait
			err = syscall.Flock(int(fd.Fd()), syscall.LOCK_EX)
		}
		if err != nil {
			t.Errorf("blocking flock after the second holder exited: %v", err)
		}
		fd.Close() // releases ours, asynchronously as above
		Run(t, dir, "flock", "-w", "5", "-x", q, "true")
	})
}

func testMmap(t *testing.T, dir string, cfg ToolsConfig) {
	p := filepath.Join(dir, "mapped")
	const size = 1<<20 + 4096
	data := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		if cfg.DirectIO {
			t.Skipf("shared writable mmap with direct-io-mode=enable: %v", err)
		}
		t.Fatalf("mmap: %v", err)
	}
	if !bytes.Equal(m[:100], data[:100]) || !bytes.Equal(m[size-100:], data[size-100:]) {
		t.Error("mapped content differs from the file")
	}
	copy(m[5000:], "written through a shared mapping")
	copy(m[size-10:], "tail!!!!!!")
	if err := unix.Msync(m, unix.MS_SYNC); err != nil {
		t.Errorf("msync: %v", err)
	}
	if err := unix.Munmap(m); err != nil {
		t.Fatal(err)
	}
	f.Close()
	copy(data[5000:], "written through a shared mapping")
	copy(data[size-10:], "tail!!!!!!")
	// Read back through a new descriptor, bypassing the page cache, so the
	// bytes must have reached the volume.
	g, err := os.OpenFile(p, os.O_RDONLY|syscall.O_DIRECT, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	got := make([]byte, size+4096)
	n, err := io.ReadFull(g, got)
	if err != io.ErrUnexpectedEOF || n != size {
		t.Fatalf("read back %d bytes: %v", n, err)
	}
	if !bytes.Equal(got[:n], data) {
		t.Error("data written through mmap did not reach the volume")
	}
}

func testUnlinkedOpen(t *testing.T, dir string, cfg ToolsConfig) {
	p := filepath.Join(dir, "doomed")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("before "); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("after unlink"); err != nil {
		t.Fatalf("write after unlink: %v", err)
	}
	got := make([]byte, 100)
	n, err := f.ReadAt(got, 0)
	if string(got[:n]) != "before after unlink" {
		t.Errorf("read after unlink: %q %v", got[:n], err)
	}
	fi, err := f.Stat()
	if err != nil || fi.Size() != int64(len("before after unlink")) {
		t.Errorf("fstat after unlink: %v %v", fi, err)
	}
	if err := f.Truncate(3); err != nil {
		t.Errorf("ftruncate after unlink: %v", err)
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat of the unlinked name: %v", err)
	}
}

// lineDiff lists the lines only in a (-) or only in b (+), in order.
func lineDiff(a, b string) string {
	count := map[string]int{}
	for _, l := range strings.Split(b, "\n") {
		count[l]++
	}
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if count[l] > 0 {
			count[l]--
		} else {
			out = append(out, "- "+l)
		}
	}
	seen := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		seen[l]++
	}
	for _, l := range strings.Split(b, "\n") {
		if seen[l] > 0 {
			seen[l]--
		} else {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
