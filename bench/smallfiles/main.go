// Command smallfiles runs the small-file phases of bench/fsops in one
// directory and prints one line per phase:
//
//	smallfiles [-settle DUR] DIR N SIZE
//	create 1000 0.532s 1879.7 files/s
//	...
//
// `make bench` builds it statically and puts it in the test VM to measure
// the kernel NFS and 9P clients; on the host the bench program calls
// bench/fsops directly. -settle waits between phases, so that client
// attribute and entry caches (1 s by default on FUSE and the kernel NFS
// client's acregmin 3 s) are past their timeouts as in the host runs.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/cairnfs/cairn/bench/fsops"
)

func main() {
	settle := flag.Duration("settle", 0, "pause between phases")
	flag.Parse()
	if flag.NArg() != 3 {
		fmt.Fprintln(os.Stderr, "usage: smallfiles [-settle DUR] DIR N SIZE")
		os.Exit(2)
	}
	dir := flag.Arg(0)
	n, err1 := strconv.Atoi(flag.Arg(1))
	size, err2 := strconv.Atoi(flag.Arg(2))
	if err1 != nil || err2 != nil || n <= 0 || size < 0 {
		fmt.Fprintln(os.Stderr, "smallfiles: N and SIZE must be numbers")
		os.Exit(2)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fail(err)
	}
	phases := []func() (fsops.Phase, error){
		func() (fsops.Phase, error) { return fsops.Create(dir, n, size) },
		func() (fsops.Phase, error) { return fsops.Stat(dir, n) },
		func() (fsops.Phase, error) { return fsops.Read(dir, n, size) },
		func() (fsops.Phase, error) { return fsops.Delete(dir, n) },
	}
	for i, ph := range phases {
		if i > 0 && *settle > 0 {
			time.Sleep(*settle)
		}
		p, err := ph()
		if err != nil {
			fail(err)
		}
		fmt.Printf("%s %d %.3fs %.1f files/s\n", p.Name, p.Files, p.Elapsed.Seconds(), p.Rate())
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "smallfiles:", err)
	os.Exit(1)
}
